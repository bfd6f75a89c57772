/**
 * The redis-server baseline: finds the Debian `redis-server` (installing it with apt-get
 * when missing and allowed), starts it on a free loopback port with persistence off, and
 * stops it afterwards. Benchmarks compare against it in the same run.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

function findRedis(): string | undefined {
  for (const path of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) {
    if (existsSync(path)) return path;
  }
  try {
    return (
      execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() ||
      undefined
    );
  } catch {
    return undefined;
  }
}

function install(): void {
  execFileSync(
    'sh',
    [
      '-c',
      'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server',
    ],
    {
      stdio: 'ignore',
    },
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(),
      );
    });
  });
}

export interface RedisHandle {
  port: number;
  client(): Redis;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisHandle> {
  let binary = findRedis();
  if (binary === undefined) {
    install();
    binary = findRedis();
  }
  if (binary === undefined)
    throw new Error('redis-server is not installed and apt-get could not install it');
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  // Not left serving when the bench ends some other way than stop() (bench/run.ts turns a
  // signal into an exit, so this runs then too).
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  // A fresh client per attempt: retrying connect() on one client fails with "already connecting".
  for (let attempt = 0; ; attempt++) {
    const probe = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch (error) {
      probe.disconnect();
      if (attempt > 50) {
        child.kill('SIGKILL');
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    port,
    client: () => new Redis({ port, host: '127.0.0.1', enableAutoPipelining: false }),
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}
