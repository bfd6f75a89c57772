/**
 * `npm run bench -- composition`: linear chains of 1, 2, 5 and 10 functions (`step1` …
 * `step10`, each `x + 1`, DAGs `chain1` … `chain10`) called with `callDag` (direct
 * response) from a client in this process, at concurrency 1: (a) on a 1-node cluster;
 * (b) on a 3-node cluster with the functions placed round-robin starting at the client's
 * node (`placement`: A, B, C, A, …), so every edge crosses nodes; (b') the same with
 * `--spin-us 0`, because three nodes sharing this 2-vCPU machine steal each other's cores
 * while they spin after a call, which nodes on separate machines would not.
 *
 * Baselines, same run, same machine: (c) the same chain as plain in-process async calls;
 * (c') a plain `call` of one function on the 1-node cluster (what a DAG adds to a call);
 * (d) "standard FaaS" (bench/faas_baseline.ts): a gateway process with a piscina pool of
 * stateless workers, each function reading its input from and writing its result to
 * redis-server, as Lambda functions compose through a store. The gateway has as many
 * worker threads as a squall node has executors, and a leaner protocol than squall's.
 * Every path is warmed up first, then the targets are timed in interleaved blocks so that
 * this VM's drifts in wake-up latency fall on all of them alike.
 */
import { type Cloud, type Context, connect } from '../src/index.js';
import { type NodeProcess, startNodeProcess, waitForRing } from '../src/sim/index.js';
import { startFaasGateway } from './faas_baseline.js';
import { startRedis } from './redis_server.js';
import { type LatencySummary, measure, printTable, round, summarise } from './stats.js';

const CHAINS = [1, 2, 5, 10];
const STEPS = 10;
const EXECUTORS = 2;

type Figures = Record<string, LatencySummary>;

const stepNames = (n: number) => Array.from({ length: n }, (_, i) => `step${i + 1}`);

async function startCluster(
  size: number,
  extra: string[],
): Promise<{ nodes: NodeProcess[]; cloud: Cloud }> {
  const args = ['--http-port', 'off', '--executors', String(EXECUTORS), ...extra];
  const nodes: NodeProcess[] = [];
  try {
    nodes.push(await startNodeProcess(args));
    for (let i = 1; i < size; i++)
      nodes.push(await startNodeProcess([...args, '--join', nodes[0]!.address]));
    const cloud = await connect(nodes[0]!.address);
    try {
      await waitForMembers(cloud, size);
    } catch (error) {
      cloud.close();
      throw error;
    }
    return { nodes, cloud };
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
}

/** Waits until the ring holds `size` nodes (src/sim `waitForRing`). */
export const waitForMembers = waitForRing;

/** Registers step1..step10 and the chain DAGs. */
async function deployChains(cloud: Cloud): Promise<void> {
  for (const name of stepNames(STEPS)) {
    await cloud.register(name, (_ctx: Context, x: number) => x + 1);
  }
  for (const n of CHAINS) {
    const fns = stepNames(n);
    const edges = fns.slice(1).map((to, i): [string, string] => [fns[i]!, to]);
    await cloud.registerDag(`chain${n}`, fns, edges);
  }
}

/** Node ids round-robin from the client's node: consecutive functions on different nodes. */
async function roundRobin(cloud: Cloud, n: number): Promise<Record<string, string>> {
  const status = await cloud.status();
  const others = status.nodes.map((m) => m.id).filter((id) => id !== status.node.id);
  const ids = [status.node.id, ...others.sort()];
  return Object.fromEntries(stepNames(n).map((fn, i) => [fn, ids[i % ids.length]!]));
}

/** A way to run a chain of `n` functions on 0; resolves to its result. */
interface Target {
  call(n: number): Promise<unknown>;
  close(): Promise<void>;
  /** squall only: a plain call of `step1` on the same cluster, resolving to `n` too. */
  plain?(n: number): Promise<unknown>;
}

async function squallTarget(size: number, extra: string[] = []): Promise<Target> {
  const { nodes, cloud } = await startCluster(size, extra);
  const close = async () => {
    cloud.close();
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    await deployChains(cloud);
    const options = new Map<number, { placement?: Record<string, string> }>();
    for (const n of CHAINS)
      options.set(n, size === 1 ? {} : { placement: await roundRobin(cloud, n) });
    return {
      call: (n) => cloud.callDag(`chain${n}`, { step1: [0] }, options.get(n)),
      plain: (n) => cloud.call('step1', [n - 1]),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function faasTarget(): Promise<Target> {
  const redis = await startRedis();
  try {
    const gateway = await startFaasGateway(redis.port, EXECUTORS);
    return {
      call: (n) => gateway.call(n, 0),
      close: async () => {
        await gateway.stop();
        await redis.stop();
      },
    };
  } catch (error) {
    await redis.stop();
    throw error;
  }
}

function inProcessTarget(): Target {
  const steps = Array.from({ length: STEPS }, () => async (x: number) => x + 1);
  return {
    async call(n) {
      let x = 0;
      for (let i = 0; i < n; i++) x = await steps[i]!(x);
      return x;
    },
    close: async () => undefined,
  };
}

/**
 * Times `count` calls of each op, taken in `rounds` interleaved blocks (op A, op B, …, op A,
 * …) so that this VM's slow drifts in wake-up latency fall on every op alike. Each round
 * starts one op later than the last, so no op always runs first, on threads the op before
 * it (another process, perhaps) left cold.
 */
export async function interleave(
  ops: Record<string, () => Promise<unknown>>,
  count: number,
  rounds: number,
): Promise<Record<string, LatencySummary>> {
  const samples: Record<string, number[]> = {};
  const elapsed: Record<string, number> = {};
  const block = Math.max(1, Math.ceil(count / rounds));
  const entries = Object.entries(ops);
  for (let r = 0; r < rounds; r++) {
    const order = [...entries.slice(r % entries.length), ...entries.slice(0, r % entries.length)];
    for (const [name, op] of order) {
      const list = samples[name] ?? [];
      samples[name] = list;
      const started = performance.now();
      for (let i = 0; i < block; i++) {
        const t0 = performance.now();
        await op();
        list.push(performance.now() - t0);
      }
      elapsed[name] = (elapsed[name] ?? 0) + performance.now() - started;
    }
  }
  return Object.fromEntries(
    Object.entries(samples).map(([name, list]) => [name, summarise(list, elapsed[name]!)]),
  );
}

const TARGETS = [
  'one_node',
  'one_node_call',
  'three_nodes',
  'three_nodes_spin0',
  'in_process',
  'faas',
] as const;
type Results = Record<(typeof TARGETS)[number], Figures>;

async function measureAll(
  targets: Record<string, Target>,
  calls: number,
  warmup: number,
): Promise<Results> {
  const results: Results = {
    one_node: {},
    one_node_call: {},
    three_nodes: {},
    three_nodes_spin0: {},
    in_process: {},
    faas: {},
  };
  // Warm every path (JIT on the nodes, executors, workers, connections) before timing.
  for (const name of TARGETS) await measure(() => targets[name]!.call(2), warmup);
  for (const n of CHAINS) {
    const ops: Record<string, () => Promise<unknown>> = {};
    for (const name of TARGETS) {
      ops[name] = async () => {
        const result = await targets[name]!.call(n);
        if (result !== n) throw new Error(`${name} chain of ${n} returned ${String(result)}`);
      };
      await measure(ops[name]!, warmup / 10);
    }
    const figures = await interleave(ops, calls, 10);
    for (const name of TARGETS) results[name][`chain${n}`] = figures[name]!;
  }
  return results;
}

async function startTargets(targets: Record<string, Target>): Promise<void> {
  targets.faas = await faasTarget();
  const one = await squallTarget(1);
  targets.one_node = one;
  // The DAG's own baseline: a plain call of one function on the same node, same interleaving.
  targets.one_node_call = { call: (n) => one.plain!(n), close: async () => undefined };
  targets.three_nodes = await squallTarget(3);
  // The same 3 nodes without their 100 µs spin after a lone call: on one 2-vCPU machine
  // three spinning nodes take the cores the next hop needs, which separate machines would not.
  targets.three_nodes_spin0 = await squallTarget(3, ['--spin-us', '0']);
}

export async function run({ quick }: { quick: boolean }): Promise<Record<string, unknown>> {
  const calls = quick ? 300 : 5_000;
  const targets: Record<string, Target> = { in_process: inProcessTarget() };
  let results: Results;
  try {
    await startTargets(targets);
    results = await measureAll(targets, calls, quick ? 500 : 3_000);
  } finally {
    for (const target of Object.values(targets)) await target.close();
  }
  report(results);
  return summary(results);
}

function summary(results: Results): Record<string, unknown> {
  const { one_node: one, three_nodes: three, three_nodes_spin0: spin0, faas } = results;
  const ratios: Record<string, number> = {};
  const ratio = (name: string, a: LatencySummary, b: LatencySummary) => {
    ratios[`${name}_p50`] = round(a.p50_us / b.p50_us);
    ratios[`${name}_p99`] = round(a.p99_us / b.p99_us);
  };
  for (const n of CHAINS) {
    const c = `chain${n}`;
    ratio(`${c}_faas_over_one_node`, faas[c]!, one[c]!);
    ratio(`${c}_faas_over_three_nodes`, faas[c]!, three[c]!);
    ratio(`${c}_faas_over_three_nodes_spin0`, faas[c]!, spin0[c]!);
    ratio(`${c}_three_nodes_over_one_node`, three[c]!, one[c]!);
    ratio(`${c}_one_node_over_plain_call`, one[c]!, results.one_node_call[c]!);
  }
  return {
    bench: 'composition',
    one_node: one,
    three_nodes: three,
    three_nodes_spin0: spin0,
    targets: {
      chain2_one_node_p50_le_200us: one.chain2!.p50_us <= 200,
      chain2_across_nodes_p50_le_400us: three.chain2!.p50_us <= 400,
      chain2_across_nodes_spin0_p50_le_400us: spin0.chain2!.p50_us <= 400,
      chain2_faas_over_one_node_p50_ge_10: (ratios.chain2_faas_over_one_node_p50 ?? 0) >= 10,
    },
    ratios,
    baselines: {
      in_process: results.in_process,
      standard_faas_redis: faas,
      plain_call_one_node: results.one_node_call,
    },
  };
}

function report(results: Results): void {
  const cell = (s: LatencySummary | undefined) =>
    s === undefined ? '' : `${s.p50_us}/${s.p99_us}`;
  const { one_node: one, three_nodes: three, three_nodes_spin0: spin0, faas } = results;
  printTable(
    'composition: linear chains, callDag from another process, concurrency 1 (p50/p99 µs)',
    CHAINS.map((n) => {
      const c = `chain${n}`;
      return {
        functions: n,
        'squall 1 node': cell(one[c]),
        'plain call, 1 node': cell(results.one_node_call[c]),
        'squall 3 nodes': cell(three[c]),
        '3 nodes, spin 0': cell(spin0[c]),
        'in-process calls': cell(results.in_process[c]),
        'standard FaaS': cell(faas[c]),
        'FaaS/1 node p50': round(faas[c]!.p50_us / one[c]!.p50_us),
        'FaaS/3 nodes p50': round(faas[c]!.p50_us / three[c]!.p50_us),
        'FaaS/3 spin0 p50': round(faas[c]!.p50_us / spin0[c]!.p50_us),
      };
    }),
  );
}
