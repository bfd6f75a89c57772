/**
 * Property tests of DagRunner over random DAGs (1–7 functions, random edges, one sink),
 * random placements on three in-memory nodes, random message delays (so inputs overtake
 * plans and each other) and random chainable functions: the answer equals a reference
 * evaluation in which every function gets its predecessors' results in edge order, every
 * function runs exactly once, and no node keeps a run afterwards. A second property kills
 * a node (never the coordinator) at a random moment: the answer is still the reference.
 * Both print their seed; replay a failure with SQUALL_SEED=<seed>.
 */
import test from 'ava';
import fc from 'fast-check';
import { buildDag, type DagGraph } from '../../src/runtime/dag_graph.js';
import { type DagMessage, DagRunner } from '../../src/runtime/dag_runner.js';
import { decode, encodeOwned } from '../../src/storage/index.js';

const seed =
  Number(process.env.SQUALL_SEED) || (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
const NODES = ['a', 'b', 'c'];

interface Case {
  dag: DagGraph;
  placement: Record<string, string>;
  chainable: Set<string>;
  delaysMs: number[];
}

/** A DAG whose edges go from lower to higher index (acyclic); sinks joined into the last. */
const dagCase: fc.Arbitrary<Case> = fc
  .integer({ min: 1, max: 7 })
  .chain((n) =>
    fc.record({
      n: fc.constant(n),
      edges:
        n === 1
          ? fc.constant([] as [number, number][])
          : fc.uniqueArray(
              fc
                .tuple(fc.integer({ min: 0, max: n - 2 }), fc.integer({ min: 1, max: n - 1 }))
                .map(([i, k]): [number, number] => [i, i + 1 + (k % (n - 1 - i))]),
              { maxLength: 12, selector: ([i, j]) => `${i}-${j}` },
            ),
      nodes: fc.array(fc.constantFrom(...NODES), { minLength: n, maxLength: n }),
      chainable: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      delaysMs: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 64, maxLength: 64 }),
    }),
  )
  .map(({ n, edges, nodes, chainable, delaysMs }) => {
    const fns = Array.from({ length: n }, (_, i) => `f${i}`);
    const all = edges.map(([i, j]): [string, string] => [fns[i]!, fns[j]!]);
    for (let i = 0; i < n - 1; i++) {
      if (!all.some(([from]) => from === fns[i])) all.push([fns[i]!, fns[n - 1]!]);
    }
    return {
      dag: buildDag({ name: 'p', functions: fns, edges: all }, () => true),
      placement: Object.fromEntries(fns.map((fn, i) => [fn, nodes[i]!])),
      chainable: new Set(fns.filter((_, i) => chainable[i])),
      delaysMs,
    };
  });

/** What a function returns: its name, then its inputs and own arguments, in order. */
const apply = (fn: string, args: unknown[]) => [fn, ...args];

function reference(dag: DagGraph, own: Record<string, unknown[]>): unknown {
  const results = new Map<string, unknown>();
  for (const fn of dag.order) {
    const inputs = (dag.predecessors[fn] ?? []).map((p) => results.get(p));
    results.set(fn, apply(fn, [...inputs, ...(own[fn] ?? [])]));
  }
  return results.get(dag.sink);
}

function cluster(c: Case) {
  const runners = new Map<string, DagRunner>();
  const dead = new Set<string>();
  const ran = new Map<string, number>();
  let delay = 0;
  let pending = 0;
  for (const node of NODES) {
    runners.set(
      node,
      new DagRunner({
        nodeId: node,
        run: async (fn, args, { inputs, chain }) => {
          const step = async (name: string, own: Uint8Array, ins: Uint8Array[]) => {
            ran.set(name, (ran.get(name) ?? 0) + 1);
            await new Promise((r) => setImmediate(r));
            const values = [...ins.map((i) => decode(i)), ...(decode(own) as unknown[])];
            return encodeOwned(apply(name, values));
          };
          let bytes = await step(fn, args, inputs);
          for (const s of chain) bytes = await step(s.name, s.args, [bytes]);
          return bytes;
        },
        chainable: (fn) => c.chainable.has(fn),
        // No client here: every answer goes through the coordinator.
        answer: () => false,
        inputBytesMax: 1 << 20,
        send: (to, message) => {
          if (dead.has(to)) return false;
          pending += 1;
          setTimeout(
            () => {
              pending -= 1;
              if (!dead.has(to) && !dead.has(node)) deliver(runners.get(to)!, message);
            },
            c.delaysMs[delay++ % c.delaysMs.length],
          );
          return true;
        },
        writeOutput: async () => undefined,
        alive: (n) => !dead.has(n),
        nowMs: Date.now,
      }),
    );
  }
  const drained = async () => {
    while (pending > 0) await new Promise((r) => setTimeout(r, 1));
  };
  return { runners, dead, ran, drained };
}

function deliver(runner: DagRunner, message: DagMessage): void {
  if (message.op === 'dag-plan') runner.onPlan(message.plan);
  else if (message.op === 'dag-input')
    runner.onInput(message.runId, message.fn, message.from, message, message.plan);
  else if (message.op === 'dag-done') runner.onDone(message.runId, message.outcome);
  else runner.onCancel(message.runId);
}

const ownArgs = (dag: DagGraph) =>
  Object.fromEntries(dag.functions.map((fn, i) => [fn, i % 2 === 0 ? [i] : []]));

function execute(net: ReturnType<typeof cluster>, c: Case, callId: string) {
  const own = ownArgs(c.dag);
  const args = Object.fromEntries(c.dag.functions.map((fn) => [fn, encodeOwned(own[fn] ?? [])]));
  const place = (excluded: Set<string>) =>
    Object.fromEntries(
      c.dag.functions.map((fn) => {
        const node = c.placement[fn]!;
        return [fn, excluded.has(node) ? 'a' : node];
      }),
    );
  return net.runners
    .get('a')!
    .execute(callId, { dag: c.dag, args, timeoutMs: 10_000 }, place, 3)
    .then((bytes) => (bytes === undefined ? undefined : decode(bytes)));
}

test('any DAG, placed anywhere, with messages delayed and reordered, gives the reference answer', async (t) => {
  t.timeout(120_000);
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  await fc.assert(
    fc.asyncProperty(dagCase, async (c) => {
      const net = cluster(c);
      const result = await execute(net, c, 'p');
      await net.drained();
      const once = c.dag.functions.every((fn) => net.ran.get(fn) === 1);
      const clean = [...net.runners.values()].every((r) => r.runsInFlight === 0);
      return (
        JSON.stringify(result) === JSON.stringify(reference(c.dag, ownArgs(c.dag))) && once && clean
      );
    }),
    { seed, numRuns: 300 },
  );
  t.pass();
});

test('a node killed at a random moment does not change the answer', async (t) => {
  t.timeout(120_000);
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  await fc.assert(
    fc.asyncProperty(
      dagCase,
      fc.constantFrom('b', 'c'),
      fc.integer({ min: 0, max: 6 }),
      async (c, victim, afterMs) => {
        const net = cluster(c);
        const pending = execute(net, c, 'k');
        setTimeout(() => net.dead.add(victim), afterMs);
        const result = await pending;
        return JSON.stringify(result) === JSON.stringify(reference(c.dag, ownArgs(c.dag)));
      },
    ),
    { seed, numRuns: 40 },
  );
  t.pass();
});
