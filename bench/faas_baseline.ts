/**
 * The "standard FaaS" baseline of the composition benchmark: a gateway process that owns a
 * piscina pool of stateless function workers (bench/fixtures/faas_worker.mjs), the way a
 * Lambda front end dispatches invocations to sandboxes. For a chain of N functions the
 * gateway runs function 1 as a task, which writes its result to redis-server; function 2
 * (the next task) reads it from redis-server, computes, writes its own; ... and the gateway
 * reads the last result from redis-server and answers the client — intermediate results
 * pass through a store, as Lambda's do (Cloudburst's "Lambda + Redis" composition).
 *
 * Why it is a fair (generous) baseline: it runs on the same machine with as many worker
 * threads as squall's node has executors; there is no sandbox start, no HTTP parsing and no
 * authentication — the client speaks a length-prefixed JSON protocol over one keep-alive
 * TCP connection with Nagle off, piscina hands tasks over with its fastest (atomics) wake-up,
 * and redis-server is local with persistence off.
 *
 * This file is also the gateway's entry: `node --import tsx bench/faas_baseline.ts gateway
 * REDIS_PORT THREADS` prints `faas gateway PORT` once it listens.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { Piscina } from 'piscina';

export const FAAS_WORKER = fileURLToPath(new URL('./fixtures/faas_worker.mjs', import.meta.url));
const REPO = fileURLToPath(new URL('..', import.meta.url));

interface Request {
  id: number;
  n: number;
  x: number;
}

interface Response {
  id: number;
  result?: number;
  error?: string;
}

/** Calls `onFrame` with each length-prefixed JSON frame that arrives on `socket`. */
function readFrames(socket: Socket, onFrame: (frame: unknown) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0);
      if (pending.length < 4 + length) break;
      onFrame(JSON.parse(pending.toString('utf8', 4, 4 + length)));
      pending = pending.subarray(4 + length);
    }
  });
}

/** One write per frame (TOOLCHAIN: a header and a body written apart cost a Nagle delay). */
function writeFrame(socket: Socket, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  socket.write(frame);
}

/** A chain of `n` stateless functions, results passed through redis-server. */
async function runChain(pool: Piscina, redis: Redis, request: Request): Promise<number> {
  const prefix = `faas/${process.pid}/${request.id}/`;
  await pool.run({ op: 'step', x: request.x, outKey: `${prefix}1` });
  for (let i = 2; i <= request.n; i++) {
    await pool.run({ op: 'step', inKey: `${prefix}${i - 1}`, outKey: `${prefix}${i}` });
  }
  return Number(await redis.get(`${prefix}${request.n}`));
}

async function serveGateway(redisPort: number, threads: number): Promise<void> {
  const pool = new Piscina({
    filename: FAAS_WORKER,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData: { redisPort },
  });
  pool.on('error', (error: Error) => process.stderr.write(`faas pool: ${error.message}\n`));
  const redis = new Redis({ port: redisPort, host: '127.0.0.1', enableAutoPipelining: false });
  redis.on('error', () => undefined);
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    readFrames(socket, (frame) => {
      const request = frame as Request;
      runChain(pool, redis, request).then(
        (result) => writeFrame(socket, { id: request.id, result } satisfies Response),
        (error: unknown) =>
          writeFrame(socket, { id: request.id, error: String(error) } satisfies Response),
      );
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    process.stdout.write(`faas gateway ${port}\n`);
  });
  const shutdown = () => {
    server.close();
    redis.disconnect();
    void pool.destroy().finally(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  // The bench holds our stdin: if it dies without stopping us, its end stops us too.
  process.stdin.once('end', shutdown).resume();
}

export interface FaasGateway {
  /** Runs a chain of `n` functions on `x` through the gateway; resolves to `x + n`. */
  call(n: number, x: number): Promise<number>;
  stop(): Promise<void>;
}

async function waitForPort(child: ChildProcess): Promise<number> {
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /^faas gateway (\d+)\n/.exec(stdout);
      if (match !== null) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`faas gateway exited (${code}): ${stderr}`)));
  });
}

/** Starts the gateway process (with `threads` workers) and connects to it. */
export async function startFaasGateway(redisPort: number, threads = 2): Promise<FaasGateway> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', self, 'gateway', String(redisPort), String(threads)],
    { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
  let socket: Socket;
  try {
    const port = await waitForPort(child);
    socket = tcpConnect({ port, host: '127.0.0.1', noDelay: true });
    await once(socket, 'connect');
  } catch (error) {
    await stop();
    throw error;
  }
  const waiting = new Map<number, { resolve(v: number): void; reject(e: Error): void }>();
  readFrames(socket, (frame) => {
    const response = frame as Response;
    const w = waiting.get(response.id);
    waiting.delete(response.id);
    if (response.error !== undefined) w?.reject(new Error(response.error));
    else w?.resolve(response.result ?? Number.NaN);
  });
  let nextId = 0;
  return {
    call(n, x) {
      const id = nextId++;
      return new Promise<number>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        writeFrame(socket, { id, n, x } satisfies Request);
      });
    },
    async stop() {
      socket.destroy();
      await stop();
    },
  };
}

if (process.argv[2] === 'gateway' && import.meta.url === pathToFileURL(process.argv[1]!).href) {
  await serveGateway(Number(process.argv[3]), Number(process.argv[4] ?? 2));
}
