/**
 * The autoscaler's pins: a hot function gets a replica on the least loaded other node (one
 * per cooldown, never for a class), a cold one loses its extra replicas down to one, pins
 * on nodes that left are replaced. A property test over random load sequences checks the
 * invariants; it prints its seed; replay a failure with SQUALL_SEED=<seed>.
 */
import test from 'ava';
import fc from 'fast-check';
import { Autoscaler, type NodeLoad, type Pins } from '../../src/runtime/autoscaler.js';

const seed =
  Number(process.env.SQUALL_SEED) || (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;

const LIVE = ['a', 'b', 'c'];

function loads(entries: Record<string, Partial<NodeLoad>>): Map<string, NodeLoad> {
  return new Map(
    Object.entries(entries).map(([node, load]) => [
      node,
      { utilisation: 0, executors: 2, busyMsPerS: {}, ...load },
    ]),
  );
}

function decide(
  scaler: Autoscaler,
  pins: Pins,
  load: Map<string, NodeLoad>,
  nowMs: number,
  options: { live?: string[]; classes?: string[] } = {},
) {
  return scaler.decide({
    dag: 'd',
    functions: Object.keys(pins),
    classes: new Set(options.classes ?? []),
    pins,
    live: options.live ?? LIVE,
    loads: load,
    nowMs,
  });
}

test('nothing changes while demand stays below 70% of the replicas capacity', (t) => {
  const scaler = new Autoscaler();
  // 2 executors on a: capacity 2000 ms/s; 1300 ms/s is 65%.
  const load = loads({ a: { utilisation: 0.65, busyMsPerS: { f: 1300 } }, b: {}, c: {} });
  t.is(decide(scaler, { f: ['a'] }, load, 0), undefined);
});

test('a hot function gets a replica on the least loaded other node, one per cooldown', (t) => {
  const scaler = new Autoscaler({ cooldownMs: 3000 });
  const hot = loads({
    a: { utilisation: 0.9, busyMsPerS: { f: 1900 } },
    b: { utilisation: 0.4 },
    c: { utilisation: 0.1 },
  });
  const first = decide(scaler, { f: ['a'] }, hot, 0);
  t.deepEqual(first, { f: ['a', 'c'] });
  // Still hot a second later: the reports do not show the new replica yet, so wait.
  t.is(decide(scaler, first!, hot, 1000), undefined);
  const busier = loads({
    a: { utilisation: 0.9, busyMsPerS: { f: 1900 } },
    b: { utilisation: 0.4 },
    c: { utilisation: 0.9, busyMsPerS: { f: 1900 } },
  });
  t.deepEqual(decide(scaler, first!, busier, 3000), { f: ['a', 'c', 'b'] });
});

test('no replica goes to a node that is itself busy, and a class never gets a second', (t) => {
  const scaler = new Autoscaler();
  const allBusy = loads({
    a: { utilisation: 0.9, busyMsPerS: { f: 1900, k: 1900 } },
    b: { utilisation: 0.8 },
    c: { utilisation: 0.75 },
  });
  t.is(decide(scaler, { f: ['a'] }, allBusy, 0), undefined);
  const idle = loads({ a: { utilisation: 0.9, busyMsPerS: { k: 1900 } }, b: {}, c: {} });
  t.is(decide(scaler, { k: ['a'] }, idle, 0, { classes: ['k'] }), undefined);
});

test('a cold function loses its extra replicas one at a time, keeping its first', (t) => {
  const scaler = new Autoscaler({ coldAfterMs: 10_000, cooldownMs: 1000 });
  const quiet = loads({ a: {}, b: {}, c: {} });
  const pins = { f: ['a', 'b', 'c'] };
  t.is(decide(scaler, pins, quiet, 0), undefined);
  t.is(decide(scaler, pins, quiet, 9_000), undefined);
  const once = decide(scaler, pins, quiet, 10_000);
  t.deepEqual(once, { f: ['a', 'b'] });
  t.is(decide(scaler, once!, quiet, 10_500), undefined);
  const twice = decide(scaler, once!, quiet, 11_000);
  t.deepEqual(twice, { f: ['a'] });
  t.is(decide(scaler, twice!, quiet, 60_000), undefined);
});

test('a call keeps the function warm', (t) => {
  const scaler = new Autoscaler({ coldAfterMs: 10_000, cooldownMs: 1000 });
  const pins = { f: ['a', 'b'] };
  t.is(decide(scaler, pins, loads({ a: {}, b: {} }), 0), undefined);
  t.is(decide(scaler, pins, loads({ a: { busyMsPerS: { f: 5 } }, b: {} }), 9_000), undefined);
  t.is(decide(scaler, pins, loads({ a: {}, b: {} }), 18_000), undefined);
  t.deepEqual(decide(scaler, pins, loads({ a: {}, b: {} }), 19_000), { f: ['a'] });
});

test('pins on nodes that left are dropped; a function left with none is re-pinned', (t) => {
  const scaler = new Autoscaler();
  const load = loads({ a: { utilisation: 0.5 }, c: { utilisation: 0.1 } });
  t.deepEqual(decide(scaler, { f: ['b'], g: ['b', 'a'] }, load, 0, { live: ['a', 'c'] }), {
    f: ['c'],
    g: ['a'],
  });
});

test('pins stay within live nodes, never empty, distinct, and classes on one node', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  const node = fc.constantFrom('a', 'b', 'c', 'd');
  const step = fc.record({
    live: fc.uniqueArray(node, { minLength: 1, maxLength: 4 }).map((nodes): string[] => nodes),
    loads: fc.dictionary(
      node,
      fc.record({
        utilisation: fc.double({ min: 0, max: 1, noNaN: true }),
        executors: fc.integer({ min: 1, max: 4 }),
        busyMsPerS: fc.dictionary(
          fc.constantFrom('f', 'g', 'k'),
          fc.integer({ min: 0, max: 4000 }),
        ),
      }),
    ),
    advanceMs: fc.integer({ min: 0, max: 20_000 }),
  });
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
      const scaler = new Autoscaler();
      let pins: Pins = { f: ['a'], g: ['b'], k: ['c'] };
      let nowMs = 0;
      for (const s of steps) {
        nowMs += s.advanceMs;
        pins =
          decide(scaler, pins, new Map(Object.entries(s.loads)), nowMs, {
            live: s.live,
            classes: ['k'],
          }) ?? pins;
        for (const [fn, nodes] of Object.entries(pins)) {
          const live = nodes.filter((n) => s.live.includes(n));
          if (live.length === 0 || new Set(nodes).size !== nodes.length) return false;
          if (fn === 'k' && nodes.length > 1) return false;
        }
      }
      return true;
    }),
    { seed, numRuns: 2000 },
  );
  t.pass();
});
