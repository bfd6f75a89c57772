/**
 * `npm run bench -- aggregation`: distributed averaging of N numbers (8; quick 4), one per
 * participant, timed from the client in this process over repeated runs (20; quick 5),
 * on a 1-node and on a 2-node cluster (participants alternate between the nodes, each
 * started through a client connected to its node):
 * - gossip: examples/averaging.ts (`pushSum`, 30 rounds of 5 ms), deployed with
 *   `deployFile`; N `callAsync('pushSum', …)` started at once; time until every future
 *   resolved (every participant holds an estimate);
 * - gather by messaging: a leader function publishes its `ctx.id` under a fresh key, then
 *   `recv`s N values; N participant functions read the key (polling until it appears) and
 *   `ctx.send` their value to it; time from the start until the leader's mean arrives;
 * - gather to an actor: the same, with the leader a class actor, whose address is stable
 *   (learned once, before the runs): participants send to it at once, nothing is polled.
 *
 * Baseline, same run, interleaved with the runs above: gather through redis-server, as
 * Lambda functions would do it — N participants run as stateless piscina tasks
 * (bench/fixtures/faas_worker.mjs, 2 threads, one ioredis connection each, all N tasks in
 * flight at once as N Lambda invocations would be) that `SET` their value under a fresh
 * key, and a leader in this process polls the N keys with back-to-back `MGET`s until every
 * value is there, then computes the mean. The leader pays no invocation hop (squall's does),
 * and polling with a 1–2 ms sleep instead measured no faster.
 */
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { Piscina } from 'piscina';
import { type Cloud, type Context, connect } from '../src/index.js';
import { type NodeProcess, startNodeProcess } from '../src/sim/index.js';
import { waitForMembers } from './composition.js';
import { FAAS_WORKER } from './faas_baseline.js';
import { startRedis } from './redis_server.js';
import { type LatencySummary, printTable, round, summarise } from './stats.js';

const ROUNDS = 30;
const AVERAGING = fileURLToPath(new URL('../examples/averaging.ts', import.meta.url));

/** The leader: publishes its address at `key`, then takes `n` values from its inbox. */
async function gatherLeader(ctx: Context, key: string, n: number): Promise<number> {
  await ctx.put(key, ctx.id);
  let sum = 0;
  let got = 0;
  const deadline = Date.now() + 10_000;
  while (got < n) {
    if (Date.now() > deadline) throw new Error(`only ${got} of ${n} values arrived`);
    for (const { message } of await ctx.recv({ timeoutMs: 100 })) {
      sum += message as number;
      got += 1;
    }
  }
  return sum / n;
}

/** A participant: waits for the leader's address at `key`, sends it `value`. */
async function gatherSend(ctx: Context, key: string, value: number): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const leader = (await ctx.get(key)) as string | undefined;
    if (leader !== undefined) {
      await ctx.send(leader, value);
      return true;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`no leader published at ${key}`);
}

/**
 * The leader as a class actor: its address is stable (NODE/GatherInbox), so participants
 * send to it at once, with nothing to publish or poll. `run` null: answers its address.
 * Values carry their run, so one a late participant of an earlier run sent is skipped.
 */
class GatherInbox {
  async run(ctx: Context, run: string | null, n: number): Promise<unknown> {
    if (run === null) return ctx.id;
    let sum = 0;
    let got = 0;
    const deadline = Date.now() + 10_000;
    while (got < n) {
      if (Date.now() > deadline) throw new Error(`only ${got} of ${n} values arrived`);
      for (const { message } of await ctx.recv({ timeoutMs: 100 })) {
        const { run: of, value } = message as { run: string; value: number };
        if (of !== run) continue;
        sum += value;
        got += 1;
      }
    }
    return sum / n;
  }
}

/** A participant of the actor gather: sends its value to the leader's known address. */
async function gatherTo(ctx: Context, address: string, run: string, value: number) {
  await ctx.send(address, { run, value });
  return true;
}

type Cluster = { nodes: NodeProcess[]; clouds: Cloud[]; inbox: string };

async function startCluster(size: number): Promise<Cluster> {
  const args = ['--http-port', 'off', '--executors', '2'];
  const nodes: NodeProcess[] = [];
  try {
    nodes.push(await startNodeProcess(args));
    for (let i = 1; i < size; i++)
      nodes.push(await startNodeProcess([...args, '--join', nodes[0]!.address]));
    const clouds = await Promise.all(nodes.map((n) => connect(n.address)));
    try {
      await waitForMembers(clouds[0]!, size);
      await clouds[0]!.deployFile(AVERAGING);
      await clouds[0]!.register('gatherLeader', gatherLeader);
      await clouds[0]!.register('gatherSend', gatherSend);
      await clouds[0]!.register('GatherInbox', GatherInbox);
      await clouds[0]!.register('gatherTo', gatherTo);
      const inbox = (await clouds[0]!.call('GatherInbox', [null, 0])) as string;
      return { nodes, clouds, inbox };
    } catch (error) {
      for (const cloud of clouds) cloud.close();
      throw error;
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
}

/** One outcome of a run: its duration, and the worst relative error of any estimate. */
interface Outcome {
  ms: number;
  error: number;
}

const valuesOf = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const meanOf = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const relError = (estimate: number, mean: number) => Math.abs(estimate - mean) / mean;

async function gossipRun(clouds: Cloud[], n: number, run: string): Promise<Outcome> {
  const values = valuesOf(n);
  const started = performance.now();
  const futures = await Promise.all(
    values.map((v, i) =>
      clouds[i % clouds.length]!.callAsync<number>('pushSum', [`avg/${run}`, n, v, ROUNDS]),
    ),
  );
  const estimates = await Promise.all(futures.map((f) => f.get({ timeoutMs: 20_000 })));
  const ms = performance.now() - started;
  const mean = meanOf(values);
  return { ms, error: Math.max(...estimates.map((e) => relError(e, mean))) };
}

async function messagingRun(clouds: Cloud[], n: number, run: string): Promise<Outcome> {
  const values = valuesOf(n);
  const key = `leader/${run}`;
  const started = performance.now();
  const leader = clouds[0]!.call<number>('gatherLeader', [key, n]);
  const senders = values.map((v, i) => clouds[i % clouds.length]!.call('gatherSend', [key, v]));
  const result = await leader;
  const ms = performance.now() - started;
  await Promise.all(senders);
  return { ms, error: relError(result, meanOf(values)) };
}

async function actorRun(cluster: Cluster, n: number, run: string): Promise<Outcome> {
  const { clouds, inbox } = cluster;
  const values = valuesOf(n);
  const started = performance.now();
  const leader = clouds[0]!.call<number>('GatherInbox', [run, n]);
  const senders = values.map((v, i) =>
    clouds[i % clouds.length]!.call('gatherTo', [inbox, run, v]),
  );
  const result = await leader;
  const ms = performance.now() - started;
  await Promise.all(senders);
  return { ms, error: relError(result, meanOf(values)) };
}

async function redisRun(pool: Piscina, client: Redis, n: number, run: string): Promise<Outcome> {
  const values = valuesOf(n);
  const keys = values.map((_, i) => `gather/${run}/${i}`);
  const started = performance.now();
  const tasks = values.map((value, i) => pool.run({ op: 'set', key: keys[i], value }));
  let result: number | undefined;
  while (result === undefined) {
    const got = await client.mget(keys);
    if (got.every((v) => v !== null)) result = meanOf(got.map(Number));
  }
  const ms = performance.now() - started;
  await Promise.all(tasks);
  return { ms, error: relError(result, meanOf(values)) };
}

type Method = (run: string) => Promise<Outcome>;
interface Summary extends LatencySummary {
  max_relative_error: number;
}

/** Runs every method `runs` times, interleaved (A, B, C, A, B, C, …), after 2 warm-ups each. */
async function interleaveRuns(
  methods: Record<string, Method>,
  runs: number,
): Promise<Record<string, Summary>> {
  const outcomes: Record<string, Outcome[]> = {};
  for (let r = -2; r < runs; r++) {
    for (const [name, method] of Object.entries(methods)) {
      const outcome = await method(`${name}/${r}/${Math.random().toString(36).slice(2)}`);
      if (r >= 0) outcomes[name] = [...(outcomes[name] ?? []), outcome];
    }
  }
  return Object.fromEntries(
    Object.entries(outcomes).map(([name, list]) => {
      const ms = list.map((o) => o.ms);
      const summary = summarise(
        ms,
        ms.reduce((a, b) => a + b, 0),
      );
      return [name, { ...summary, max_relative_error: Math.max(...list.map((o) => o.error)) }];
    }),
  );
}

async function measureAll(n: number, runs: number): Promise<Record<string, Summary>> {
  const redis = await startRedis();
  const client = redis.client();
  const pool = new Piscina({
    filename: FAAS_WORKER,
    minThreads: 2,
    maxThreads: 2,
    idleTimeout: Number.POSITIVE_INFINITY,
    // All N participants in flight at once, as N Lambda invocations would be.
    concurrentTasksPerWorker: n,
    workerData: { redisPort: redis.port },
  });
  pool.on('error', (error: Error) => process.stderr.write(`piscina: ${error.message}\n`));
  const clusters: Cluster[] = [];
  try {
    clusters.push(await startCluster(1));
    clusters.push(await startCluster(2));
    const [one, two] = [clusters[0]!.clouds, clusters[1]!.clouds];
    return await interleaveRuns(
      {
        gossip_one_node: (run) => gossipRun(one, n, run),
        messaging_one_node: (run) => messagingRun(one, n, run),
        gossip_two_nodes: (run) => gossipRun(two, n, run),
        messaging_two_nodes: (run) => messagingRun(two, n, run),
        actor_one_node: (run) => actorRun(clusters[0]!, n, run),
        actor_two_nodes: (run) => actorRun(clusters[1]!, n, run),
        redis_gather: (run) => redisRun(pool, client, n, run),
      },
      runs,
    );
  } finally {
    for (const { nodes, clouds } of clusters) {
      for (const cloud of clouds) cloud.close();
      await Promise.all(nodes.map((node) => node.stop()));
    }
    await pool.destroy();
    client.disconnect();
    await redis.stop();
  }
}

export async function run({ quick }: { quick: boolean }): Promise<Record<string, unknown>> {
  const participants = quick ? 4 : 8;
  const runs = quick ? 5 : 20;
  const s = await measureAll(participants, runs);
  const redis = s.redis_gather!;
  const ratio = (name: string, of: 'p50_us' | 'p99_us') => round(redis[of] / s[name]![of]);
  const ratios = {
    redis_gather_p50_over_messaging_one_node_p50: ratio('messaging_one_node', 'p50_us'),
    redis_gather_p50_over_messaging_two_nodes_p50: ratio('messaging_two_nodes', 'p50_us'),
    redis_gather_p50_over_actor_one_node_p50: ratio('actor_one_node', 'p50_us'),
    redis_gather_p50_over_actor_two_nodes_p50: ratio('actor_two_nodes', 'p50_us'),
    redis_gather_p99_over_messaging_one_node_p99: ratio('messaging_one_node', 'p99_us'),
    redis_gather_p50_over_gossip_one_node_p50: ratio('gossip_one_node', 'p50_us'),
    messaging_two_nodes_p50_over_one_node_p50: round(
      s.messaging_two_nodes!.p50_us / s.messaging_one_node!.p50_us,
    ),
  };
  printTable(
    `aggregation: averaging ${participants} numbers, ${runs} runs, time to the result (µs)`,
    Object.entries(s).map(([name, summary]) => ({
      method: name,
      'p50 µs': summary.p50_us,
      'p99 µs': summary.p99_us,
      'worst relative error': summary.max_relative_error.toExponential(1),
      'redis gather p50 / this p50': round(redis.p50_us / summary.p50_us),
    })),
  );
  return {
    bench: 'aggregation',
    participants,
    runs,
    gossip_rounds: ROUNDS,
    gossip_one_node: s.gossip_one_node,
    gossip_two_nodes: s.gossip_two_nodes,
    messaging_one_node: s.messaging_one_node,
    messaging_two_nodes: s.messaging_two_nodes,
    actor_one_node: s.actor_one_node,
    actor_two_nodes: s.actor_two_nodes,
    ratios,
    baselines: { redis_gather_piscina_tasks: redis },
  };
}
