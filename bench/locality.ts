/**
 * `npm run bench -- locality`: a function reads 80 KiB, 800 KiB and 8 MiB of state
 * (`Uint8Array` values) and returns its length, called from a client in this process at
 * concurrency 1, on a 2-node cluster with replication 1. Every key is owned by node B and
 * the function runs on node A (the client is connected to A), so a read that misses A's
 * cache crosses the network:
 * - hot: one key per size, read again and again (from the second read on, A's cache serves
 *   it);
 * - cold: one call per key on distinct keys that A has never read (written through a client
 *   connected to B), so each read is fetched from B and fills A's cache;
 * - and, to show where a hot call's time goes, the hot `ctx.get` timed inside the function.
 *
 * Baseline, same run, same machine, interleaved with the hot calls: the same function as a
 * stateless piscina task (bench/fixtures/faas_worker.mjs, 2 threads, one ioredis connection
 * each) that `GET`s the value from redis-server as bytes (`getBuffer`) and returns its
 * length — Cloudburst's "Lambda + Redis". Also shown: the bare `getBuffer` from this
 * process, with no task around it, and the `getBuffer` timed inside the task: read against
 * read, beside call against call.
 */
import { Piscina } from 'piscina';
import { type Cloud, type Context, connect } from '../src/index.js';
import { type NodeProcess, startNodeProcess } from '../src/sim/index.js';
import { interleave, waitForMembers } from './composition.js';
import { FAAS_WORKER } from './faas_baseline.js';
import type { RedisHandle } from './redis_server.js';
import { startRedis } from './redis_server.js';
import { type LatencySummary, measure, printTable, round, summarise } from './stats.js';

const SIZES: [string, number][] = [
  ['80KB', 80 * 1024],
  ['800KB', 800 * 1024],
  ['8MB', 8 * 1024 * 1024],
];

interface Cluster {
  nodes: NodeProcess[];
  /** Connected to node A, which runs the function. */
  a: Cloud;
  /** Connected to node B, which owns every key used. */
  b: Cloud;
  bId: string;
}

async function startCluster(): Promise<Cluster> {
  // One copy of each key, so a key lives on B only; a 1 GiB cache holds every value read
  // (20 cold 8 MB keys and the rest) without evictions.
  const args = ['--http-port', 'off', '--executors', '2', '--replication', '1'];
  args.push('--cache-mb', '1024');
  const nodes = [await startNodeProcess(args)];
  try {
    nodes.push(await startNodeProcess([...args, '--join', nodes[0]!.address]));
    const a = await connect(nodes[0]!.address);
    const b = await connect(nodes[1]!.address);
    try {
      await waitForMembers(a, 2);
      return { nodes, a, b, bId: (await b.status()).node.id };
    } catch (error) {
      a.close();
      b.close();
      throw error;
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
}

/** `count` fresh keys under `prefix` that node B owns. */
async function keysOwnedByB(cluster: Cluster, prefix: string, count: number): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}/${i}`;
    const owners = await cluster.a.owners(key);
    if (owners.length === 1 && owners[0]!.id === cluster.bId) keys.push(key);
  }
  return keys;
}

async function readState(ctx: Context, key: string): Promise<number> {
  const value = (await ctx.get(key)) as Uint8Array | undefined;
  return value === undefined ? -1 : value.byteLength;
}

/** The same read, timed inside the function (µs): what the call adds is the rest. */
async function timeRead(ctx: Context, key: string): Promise<number> {
  const t0 = performance.now();
  await ctx.get(key);
  return (performance.now() - t0) * 1000;
}

const KINDS = [
  'hot',
  'cold',
  'redisTask',
  'redisDirect',
  'hotGetInFunction',
  'redisGetInTask',
] as const;
type Kind = (typeof KINDS)[number];
type Measured = Record<Kind, Record<string, LatencySummary>>;

/** Writes the hot key and `cold` cold keys of one size, all owned by B; returns them. */
async function writeState(cluster: Cluster, label: string, value: Uint8Array, cold: number) {
  const [hotKey] = await keysOwnedByB(cluster, `hot/${label}`, 1);
  const coldKeys = await keysOwnedByB(cluster, `cold/${label}`, cold);
  for (const key of [hotKey!, ...coldKeys]) await cluster.b.put(key, value);
  return { hotKey: hotKey!, coldKeys };
}

async function measureSize(
  cluster: Cluster,
  redis: RedisHandle,
  pool: Piscina,
  [label, bytes]: [string, number],
  counts: { hot: number; cold: number },
): Promise<Record<Kind, LatencySummary>> {
  const value = new Uint8Array(bytes).fill(7);
  const { hotKey, coldKeys } = await writeState(cluster, label, value, counts.cold);
  const client = redis.client();
  try {
    await client.set(`state/${label}`, Buffer.from(value));
    const expect = (got: unknown) => {
      if (got !== bytes) throw new Error(`read ${String(got)} bytes of ${label}, not ${bytes}`);
    };
    // Cold first, while A has never read these keys; one call per key.
    let next = 0;
    const cold = await measure(
      async () => expect(await cluster.a.call('readState', [coldKeys[next++]])),
      coldKeys.length,
    );
    const ops = {
      hot: async () => expect(await cluster.a.call('readState', [hotKey])),
      task: async () => expect(await pool.run({ op: 'read', key: `state/${label}` })),
      direct: async () => expect((await client.getBuffer(`state/${label}`))?.byteLength),
    };
    for (const op of Object.values(ops)) await measure(op, Math.max(5, counts.hot / 10));
    const figures = await interleave(ops, counts.hot, 10);
    // The reads alone, timed where the function runs: ctx.get against ioredis's GET.
    const inFunction: number[] = [];
    const inTask: number[] = [];
    for (let i = 0; i < counts.hot / 5; i++) {
      inFunction.push((await cluster.a.call<number>('timeRead', [hotKey])) / 1000);
      inTask.push((await pool.run({ op: 'timeRead', key: `state/${label}` })) / 1000);
    }
    const sum = (samples: number[]) => samples.reduce((a, b) => a + b, 0);
    return {
      hot: figures.hot!,
      cold,
      redisTask: figures.task!,
      redisDirect: figures.direct!,
      hotGetInFunction: summarise(inFunction, sum(inFunction)),
      redisGetInTask: summarise(inTask, sum(inTask)),
    };
  } finally {
    client.disconnect();
  }
}

async function measureAll(quick: boolean): Promise<Measured> {
  const counts = { hot: quick ? 100 : 500, cold: quick ? 10 : 20, warmup: quick ? 500 : 3_000 };
  const redis = await startRedis();
  const pool = new Piscina({
    filename: FAAS_WORKER,
    minThreads: 2,
    maxThreads: 2,
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData: { redisPort: redis.port },
  });
  pool.on('error', (error: Error) => process.stderr.write(`piscina: ${error.message}\n`));
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster();
    const { a, b } = cluster;
    await a.register('readState', readState);
    await a.register('timeRead', timeRead);
    // Warm the call path (JIT on the node and its executors) and the redis tasks first.
    await b.put('warmup', new Uint8Array(16));
    await measure(() => a.call('readState', ['warmup']), counts.warmup);
    await measure(() => pool.run({ op: 'read', key: 'warmup' }), counts.warmup);
    const measured: Measured = {
      hot: {},
      cold: {},
      redisTask: {},
      redisDirect: {},
      hotGetInFunction: {},
      redisGetInTask: {},
    };
    for (const size of SIZES) {
      const figures = await measureSize(cluster, redis, pool, size, counts);
      for (const kind of KINDS) measured[kind][size[0]] = figures[kind];
    }
    return measured;
  } finally {
    if (cluster !== undefined) {
      cluster.a.close();
      cluster.b.close();
      await Promise.all(cluster.nodes.map((n) => n.stop()));
    }
    await pool.destroy();
    await redis.stop();
  }
}

export async function run({ quick }: { quick: boolean }): Promise<Record<string, unknown>> {
  const m = await measureAll(quick);
  const ratios: Record<string, number> = {};
  for (const [label] of SIZES) {
    const hot = m.hot[label]!;
    ratios[`${label}_redis_task_p50_over_hot_p50`] = round(m.redisTask[label]!.p50_us / hot.p50_us);
    ratios[`${label}_redis_direct_p50_over_hot_p50`] = round(
      m.redisDirect[label]!.p50_us / hot.p50_us,
    );
    ratios[`${label}_cold_p50_over_hot_p50`] = round(m.cold[label]!.p50_us / hot.p50_us);
    ratios[`${label}_redis_task_p50_over_cold_p50`] = round(
      m.redisTask[label]!.p50_us / m.cold[label]!.p50_us,
    );
    ratios[`${label}_redis_task_p99_over_hot_p99`] = round(m.redisTask[label]!.p99_us / hot.p99_us);
    ratios[`${label}_redis_get_in_task_p50_over_ctx_get_p50`] = round(
      m.redisGetInTask[label]!.p50_us / m.hotGetInFunction[label]!.p50_us,
    );
  }
  report(m);
  return {
    bench: 'locality',
    hot: m.hot,
    cold: m.cold,
    hot_ctx_get_inside_function: m.hotGetInFunction,
    targets: {
      hot_8MB_at_least_10x_faster_than_redis_task_p50:
        (ratios['8MB_redis_task_p50_over_hot_p50'] ?? 0) >= 10,
      hot_8MB_ctx_get_at_least_10x_faster_than_redis_get_in_task_p50:
        (ratios['8MB_redis_get_in_task_p50_over_ctx_get_p50'] ?? 0) >= 10,
    },
    ratios,
    baselines: {
      redis_get_in_piscina_task: m.redisTask,
      redis_get_in_bench_process: m.redisDirect,
      redis_get_timed_inside_piscina_task: m.redisGetInTask,
    },
  };
}

function report(m: Measured): void {
  const cell = (s: LatencySummary | undefined) =>
    s === undefined ? '' : `${s.p50_us}/${s.p99_us}`;
  printTable(
    'locality: a function reads state and returns its length, 2 nodes, key owned by the other node (p50/p99 µs)',
    SIZES.map(([label]) => ({
      size: label,
      'squall hot (cached)': cell(m.hot[label]),
      'of which ctx.get': cell(m.hotGetInFunction[label]),
      'squall cold (fetched from owner)': cell(m.cold[label]),
      'redis GET in a piscina task': cell(m.redisTask[label]),
      'redis GET, bare': cell(m.redisDirect[label]),
      'of which the GET': cell(m.redisGetInTask[label]),
      'redis task / hot p50': round(m.redisTask[label]!.p50_us / m.hot[label]!.p50_us),
      'cold / hot p50': round(m.cold[label]!.p50_us / m.hot[label]!.p50_us),
      'GET / ctx.get p50': round(
        m.redisGetInTask[label]!.p50_us / m.hotGetInFunction[label]!.p50_us,
      ),
    })),
  );
}
