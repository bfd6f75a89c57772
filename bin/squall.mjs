#!/usr/bin/env node
// The `squall` command. In a checkout (src/ present, tsx installed) it runs the TypeScript
// sources directly, so `npm start` works right after `npm install`; an installed package
// runs the compiled dist/. `squall start` without malloc settings re-runs itself with them
// (malloc_env.mjs says why), as a child that stops when this process goes.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MALLOC_ENV, mallocChosen } from './malloc_env.mjs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/cli/main.js', import.meta.url);

async function load() {
  if (existsSync(fileURLToPath(source))) {
    try {
      const { register } = await import('tsx/esm/api');
      register();
      return import(source.href);
    } catch (error) {
      if (!existsSync(fileURLToPath(compiled))) throw error;
    }
  }
  return import(compiled.href);
}

function rerunWithMallocSettings() {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: 'inherit',
      env: { ...process.env, ...MALLOC_ENV, SQUALL_PARENT_PID: String(process.pid) },
    },
  );
  // A terminal's Ctrl-C reaches both processes; a signal sent to this one alone is passed on.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('error', (error) => {
    process.stderr.write(`error UNAVAILABLE: cannot start the node process: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0));
  });
}

/**
 * Run through npm (`npm start`, `npx squall ...`), this process sits behind a `sh -c` that
 * a SIGTERM sent to npm kills without passing it on, which left the node serving with no
 * one to stop it. So, launched by npm, it takes being orphaned (npm and its shell gone)
 * as that SIGTERM. Started any other way (nohup, a service manager), losing its parent is
 * no reason to stop.
 */
function stopWhenNpmGoes() {
  if (process.env.npm_command === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, 500);
  timer.unref();
}

stopWhenNpmGoes();
if (process.argv[2] === 'start' && !mallocChosen(process.env)) {
  rerunWithMallocSettings();
} else {
  const { main } = await load();
  await main(process.argv.slice(2));
}
