/**
 * `npm run bench -- kvs`: get and put of 100-byte values through the SDK, on one node and on
 * a 3-node local cluster (replication 2, the client connected to one node so two thirds of
 * keys are forwarded), at several client concurrencies — beside redis-server driven by
 * ioredis with the same load (concurrent requests pipelined on one connection) in the same
 * run.
 */
import { type Cloud, connect } from '../src/index.js';
import { type NodeProcess, startNodeProcess } from '../src/sim/index.js';
import { startRedis } from './redis_server.js';
import { type LatencySummary, measure, printTable, round } from './stats.js';

const KEYS = 10_000;
const VALUE = 'v'.repeat(100);
const CONCURRENCIES = [1, 16, 64];

interface Store {
  get(key: string): Promise<unknown>;
  put(key: string, value: string): Promise<unknown>;
}

type Figures = Record<string, { get: LatencySummary; put: LatencySummary }>;

async function load(store: Store, ops: number): Promise<Figures> {
  const figures: Figures = {};
  let n = 0;
  const key = () => `bench/${n++ % KEYS}`;
  await measure(() => store.put(key(), VALUE), KEYS, 64);
  for (const c of CONCURRENCIES) {
    const count = c === 1 ? Math.min(ops, 10_000) : ops;
    const put = await measure(() => store.put(key(), VALUE), count, c);
    const get = await measure(() => store.get(key()), count, c);
    figures[`c${c}`] = { get, put };
  }
  return figures;
}

async function squallCluster(size: number): Promise<{ nodes: NodeProcess[]; cloud: Cloud }> {
  const args = ['--http-port', 'off', '--executors', '1'];
  const nodes = [await startNodeProcess(args)];
  for (let i = 1; i < size; i++)
    nodes.push(await startNodeProcess([...args, '--join', nodes[0]!.address]));
  const cloud = await connect(nodes[0]!.address);
  const deadline = Date.now() + 30_000;
  while ((await cloud.status()).ring.members.length < size && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { nodes, cloud };
}

async function squallFigures(size: number, ops: number): Promise<Figures> {
  const { nodes, cloud } = await squallCluster(size);
  try {
    return await load({ get: (k) => cloud.get(k), put: (k, v) => cloud.put(k, v) }, ops);
  } finally {
    cloud.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

async function redisFigures(ops: number): Promise<Figures> {
  const redis = await startRedis();
  const client = redis.client();
  try {
    return await load({ get: (k) => client.get(k), put: (k, v) => client.set(k, v) }, ops);
  } finally {
    client.disconnect();
    await redis.stop();
  }
}

export async function run({ quick }: { quick: boolean }): Promise<Record<string, unknown>> {
  const ops = quick ? 10_000 : 50_000;
  const redis = await redisFigures(ops);
  const one = await squallFigures(1, ops);
  const three = await squallFigures(3, ops);
  const rows: Record<string, string | number>[] = [];
  for (const c of CONCURRENCIES) {
    for (const op of ['get', 'put'] as const) {
      const r = redis[`c${c}`]![op];
      const s1 = one[`c${c}`]![op];
      const s3 = three[`c${c}`]![op];
      rows.push({
        load: `${op} c${c}`,
        'redis p50/p99 µs': `${r.p50_us}/${r.p99_us}`,
        'redis ops/s': r.ops_per_s,
        '1 node p50/p99': `${s1.p50_us}/${s1.p99_us}`,
        '1 node ops/s': s1.ops_per_s,
        '3 nodes p50/p99': `${s3.p50_us}/${s3.p99_us}`,
        '3 nodes ops/s': s3.ops_per_s,
        'throughput 1 node / redis': round(s1.ops_per_s / r.ops_per_s),
        'p50 1 node / redis': round(s1.p50_us / r.p50_us),
      });
    }
  }
  printTable('kvs: 100 B values, one client connection, N requests in flight', rows);
  const ratio = (c: number, op: 'get' | 'put') => ({
    throughput_vs_redis: round(one[`c${c}`]![op].ops_per_s / redis[`c${c}`]![op].ops_per_s),
    p50_vs_redis: round(one[`c${c}`]![op].p50_us / redis[`c${c}`]![op].p50_us),
  });
  return {
    bench: 'kvs',
    one_node: one,
    three_nodes: three,
    ratios: { get_c1: ratio(1, 'get'), get_c64: ratio(64, 'get'), put_c64: ratio(64, 'put') },
    baselines: { redis },
  };
}
