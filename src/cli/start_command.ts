/**
 * `squall start`: runs a node in this process until SIGINT or SIGTERM, then stops it
 * cleanly. With `--examples` it deploys every module in the package's `examples/` folder
 * before announcing itself, so the one line it prints means "ready, examples included".
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect, stopBundler } from '../client/index.js';
import { type NodeOptions, startNode } from '../runtime/index.js';
import { CliError, failWith } from './output.js';

export interface StartFlags {
  host?: string;
  advertiseHost?: string;
  port?: string;
  httpPort?: string;
  join?: string;
  executors?: string;
  dataDir?: string;
  replication?: string;
  cacheMb?: string;
  token?: string;
  examples?: boolean;
  executorMemoryMb?: string;
  callTimeoutMs?: string;
  spinUs?: string;
  fsync?: string;
  gossipIntervalMs?: string;
  probeIntervalMs?: string;
  suspicionTimeoutMs?: string;
}

/** A flag's integer: decimal digits only (an empty $PORT or 0x6D60 is a mistake, not 0). */
function int(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text.trim()))
    throw new CliError('INVALID', `--${flag} needs an integer, not ${JSON.stringify(text)}`);
  return Number(text);
}

export function startOptions(flags: StartFlags): NodeOptions {
  const options: NodeOptions = {};
  const set = <K extends keyof NodeOptions>(key: K, value: NodeOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set('host', flags.host);
  set('advertiseHost', flags.advertiseHost);
  set('port', int('port', flags.port));
  set('httpPort', flags.httpPort === 'off' ? false : int('http-port', flags.httpPort));
  set(
    'join',
    flags.join?.split(',').filter((s) => s.length > 0),
  );
  set('executors', int('executors', flags.executors));
  set('dataDir', flags.dataDir);
  set('replication', int('replication', flags.replication));
  const cacheMb = int('cache-mb', flags.cacheMb);
  // Checked here, in the user's unit: the node's own check speaks of cacheBytes.
  if (cacheMb !== undefined && !(cacheMb >= 1 && cacheMb <= 2047))
    throw new CliError('INVALID', `--cache-mb must be from 1 to 2047, not ${cacheMb}`);
  set('cacheBytes', cacheMb === undefined ? undefined : cacheMb * 1024 * 1024);
  set('token', flags.token);
  set('executorMemoryMb', int('executor-memory-mb', flags.executorMemoryMb));
  set('callTimeoutMs', int('call-timeout-ms', flags.callTimeoutMs));
  set('spinUs', int('spin-us', flags.spinUs));
  if (flags.fsync !== undefined && flags.dataDir === undefined)
    throw new CliError(
      'INVALID',
      '--fsync needs --data-dir: without one nothing is written to disk',
    );
  set('fsync', flags.fsync as NodeOptions['fsync']);
  set('gossipIntervalMs', int('gossip-interval-ms', flags.gossipIntervalMs));
  set('probeIntervalMs', int('probe-interval-ms', flags.probeIntervalMs));
  set('suspicionTimeoutMs', int('suspicion-timeout-ms', flags.suspicionTimeoutMs));
  return options;
}

/** The example modules shipped with the package (files that export something). */
export function exampleFiles(): string[] {
  const folder = fileURLToPath(new URL('../../examples/', import.meta.url));
  return readdirSync(folder)
    .filter((name) => /\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts'))
    .sort()
    .map((name) => `${folder}${name}`);
}

async function deployExamples(address: string, token: string | undefined): Promise<string[]> {
  const cloud = await connect(address, token === undefined ? {} : { token });
  const names: string[] = [];
  try {
    for (const file of exampleFiles()) {
      try {
        names.push(...(await cloud.deployFile(file)));
      } catch (error) {
        if (!/exports no functions/.test((error as Error).message)) throw error;
      }
    }
  } finally {
    cloud.close();
    await stopBundler();
  }
  return names;
}

export async function startCommand(flags: StartFlags): Promise<void> {
  const node = await startNode(startOptions(flags));
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    node.stop().then(
      () => process.exit(0),
      (error: unknown) => failWith(error),
    );
  };
  // Before the line that says it serves: whoever reads it may signal at once.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  stopWithParent(stop);
  const examples = flags.examples ? await deployExamples(node.address, flags.token) : [];
  const http = node.httpAddress === undefined ? '' : ` http ${node.httpAddress}`;
  const deployed = examples.length === 0 ? '' : ` examples ${examples.join(',')}`;
  process.stdout.write(`squall node ${node.id} serving on ${node.address}${http}${deployed}\n`);
  // A node serves many clients: a fault in one request's code path is logged, not fatal.
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(
      `${JSON.stringify({ level: 50, msg: 'unhandled rejection', reason: String(reason) })}\n`,
    );
  });
}

/**
 * With SQUALL_PARENT_PID set (nodes that tests, benchmarks and `cluster up` start), the node
 * stops once that process is gone, so a killed or timed-out parent leaves no node behind.
 */
function stopWithParent(stop: () => void): void {
  const parent = Number(process.env.SQUALL_PARENT_PID);
  if (!Number.isInteger(parent) || parent <= 0) return;
  const alive = () => {
    try {
      process.kill(parent, 0);
      return true;
    } catch {
      return false;
    }
  };
  const timer = setInterval(() => {
    if (process.ppid !== parent || !alive()) {
      clearInterval(timer);
      stop();
    }
  }, 1000);
  timer.unref();
}
