/**
 * Starts `squall start` as a real child process on free ports, the way a user would, and
 * waits for the line it prints once it serves. Integration tests, benchmarks and the
 * multi-process simulator drive nodes this way, only through the public SDK, CLI and HTTP.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { MALLOC_ENV } from '../../bin/malloc_env.mjs';

const STDERR_KEPT_BYTES = 1 << 20;

export const SQUALL_BIN = fileURLToPath(new URL('../../bin/squall.mjs', import.meta.url));

export interface NodeProcess {
  id: string;
  address: string;
  httpAddress: string | undefined;
  child: ChildProcess;
  /** Everything the node wrote to stderr so far (its logs). */
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startNodeProcess(
  args: string[] = [],
  startTimeoutMs = 30_000,
): Promise<NodeProcess> {
  // A test that times out must not leave its nodes running: they stop with this process.
  const child = spawn(
    process.execPath,
    [SQUALL_BIN, 'start', '--port', '0', '--http-port', '0', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // The malloc settings `squall start` would re-run itself for, given up front: the
      // child is then the node itself, so `kill -9` of it is a crash, as tests need.
      env: { ...MALLOC_ENV, ...process.env, SQUALL_PARENT_PID: `${process.pid}` },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    // The node's logs, kept to the last STDERR_KEPT_BYTES so a long run cannot grow them.
    stderr += chunk.toString();
    if (stderr.length > 2 * STDERR_KEPT_BYTES) stderr = stderr.slice(-STDERR_KEPT_BYTES);
  });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node did not start within ${startTimeoutMs} ms:\n${stderr}`));
    }, startTimeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const newline = stdout.indexOf('\n');
      if (newline >= 0) {
        clearTimeout(timer);
        resolve(stdout.slice(0, newline));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with code ${code} before serving:\n${stderr}`));
    });
  });
  const match = /^squall node (\S+) serving on (\S+)(?: http (\S+))?/.exec(line);
  if (match === null) throw new Error(`unexpected first line: ${line}`);
  return {
    id: match[1]!,
    address: match[2]!,
    httpAddress: match[3],
    child,
    stderr: () => stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one `squall` CLI command to completion. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [SQUALL_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
