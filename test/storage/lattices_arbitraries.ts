/**
 * Shared generators and helpers for the lattice tests. The generators draw from tiny
 * domains on purpose: timestamps 0..3, writers '', 'a', 'b', clocks over two or three
 * nodes with counts 0..2, values from a small pool full of near-twins (-0 and 0, 1 and 1n,
 * the same object with its keys in another order, a Buffer and a Uint8Array with the same
 * bytes), so that ties, equal clocks and concurrent clocks come up in most runs.
 * `SQUALL_SEED` replays a run; every property test logs the seed it used.
 */
import type { ExecutionContext, TestFn } from 'ava';
import fc from 'fast-check';
import {
  bottom,
  canonicalKey,
  causalOf,
  counterOf,
  fromWire,
  type Lattice,
  type LatticeKind,
  latticeEquals,
  lwwOf,
  mapOf,
  maxOf,
  merge,
  multiCausalOf,
  orderedSetOf,
  setOf,
  toWire,
  type VClockLattice,
  vclockOf,
} from '../../src/storage/lattices/index.js';

export const seed =
  process.env.SQUALL_SEED !== undefined
    ? Number(process.env.SQUALL_SEED)
    : (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;

export const LAW_RUNS = 10_000;

/** Runs a property with the shared seed; failures report fast-check's path for replay. */
export function check<T>(arb: fc.Arbitrary<T>, predicate: (x: T) => boolean, numRuns = LAW_RUNS) {
  fc.assert(fc.property(arb, predicate), { seed, numRuns });
}

/** The canonical encoding used as equality in the tests: order-insensitive where it must be. */
export function canon(l: Lattice): string {
  return canonicalKey(toWire(l));
}

const twinsA = { a: 1, b: [2, 'x'] };
const twinsB = { b: [2, 'x'], a: 1 };

export const valuePool: readonly unknown[] = [
  undefined,
  null,
  false,
  true,
  0,
  -0,
  1,
  1n,
  2,
  -1,
  0.5,
  2 ** 53,
  2n ** 53n,
  2n ** 53n + 1n,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  '',
  'a',
  'b',
  'ab',
  [],
  [1],
  [1n],
  [undefined],
  twinsA,
  twinsB,
  {},
  new Uint8Array([1, 2]),
  Buffer.from([1, 2]),
  new Uint8Array([1]),
  new Float64Array([1]),
  new Date(0),
  new Map<unknown, unknown>([
    [1, 'a'],
    ['k', [1]],
  ]),
  new Map<unknown, unknown>([
    ['k', [1]],
    [1, 'a'],
  ]),
  new Set([1, 2]),
  new Set([2, 1]),
];

export const value = fc.constantFrom(...valuePool);
export const ts = fc.integer({ min: 0, max: 3 });
export const writer = fc.constantFrom('', 'a', 'b');
const node = fc.constantFrom('x', 'y', 'z');

export const clock: fc.Arbitrary<VClockLattice> = fc
  .tuple(fc.nat(2), fc.nat(2), fc.nat(1))
  .map(([x, y, z]) => vclockOf({ x, y, z }));

function orBottom<L extends Lattice>(
  kind: LatticeKind,
  arb: fc.Arbitrary<L>,
): fc.Arbitrary<Lattice> {
  return fc.oneof(
    { arbitrary: arb, weight: 6 },
    { arbitrary: fc.constant(bottom(kind)), weight: 1 },
  );
}

const lwwArb = fc.tuple(value, ts, writer).map(([v, t, w]) => lwwOf(v, t, w));
const setArb = fc.array(value, { maxLength: 5 }).map(setOf);
const orderedSetArb = fc.array(value, { maxLength: 5 }).map(orderedSetOf);
const maxArb = fc
  .oneof(
    fc.constantFrom<number | bigint>(0, -0, 1, 1n, 2, 2n, -1, 0.5, 2 ** 32 + 1, 2 ** 53, 2n ** 53n),
    fc.constantFrom<number | bigint>(2n ** 53n + 1n, Number.POSITIVE_INFINITY, -(2n ** 70n)),
    fc.integer({ min: -3, max: 3 }),
    fc.bigInt({ min: -3n, max: 3n }),
  )
  .map(maxOf);
const countsArb = fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.nat(3), { maxKeys: 3 });
const counterArb = countsArb.map(counterOf);
const vclockArb = fc.dictionary(node, fc.nat(2), { maxKeys: 3 }).map(vclockOf);
const causalValue = fc.constantFrom<unknown>('a', 'b', 1, 1n, twinsA, twinsB);
const causalArb = fc
  .array(fc.record({ clock, value: causalValue }), { maxLength: 4 })
  .map(causalOf);
const depsArb = fc.dictionary(fc.constantFrom('p', 'q'), clock, { maxKeys: 2 });
const multiCausalArb = fc
  .array(fc.record({ clock, deps: depsArb, value: causalValue }), { maxLength: 3 })
  .map(multiCausalOf);

/** Each key of a generated map always holds the same kind, so merges never mismatch. */
const innerMapArb = fc
  .record({ l: lwwArb, c: counterArb }, { requiredKeys: [] })
  .map((r) => mapOf(r as Record<string, Lattice>));
const mapArb = fc
  .record(
    { l: lwwArb, c: counterArb, s: setArb, m: orBottom('map', innerMapArb), x: maxArb },
    { requiredKeys: [] },
  )
  .map((r) => mapOf(r as Record<string, Lattice>));

export const latticeArbs: { readonly [K in LatticeKind]: fc.Arbitrary<Lattice> } = {
  lww: orBottom('lww', lwwArb),
  set: orBottom('set', setArb),
  orderedSet: orBottom('orderedSet', orderedSetArb),
  max: orBottom('max', maxArb),
  map: orBottom('map', mapArb),
  counter: orBottom('counter', counterArb),
  vclock: orBottom('vclock', vclockArb),
  causal: orBottom('causal', causalArb),
  multiCausal: orBottom('multiCausal', multiCausalArb),
};

export const anyLattice: fc.Arbitrary<Lattice> = fc.oneof(...Object.values(latticeArbs));

/**
 * The lattice laws for one kind, each its own ava test of LAW_RUNS runs. Equality is the
 * canonical encoding; `latticeEquals` must agree with it, and a merge whose result equals
 * its first argument must return that argument itself (the store's change test).
 */
export function registerLaws(test: TestFn, kind: LatticeKind): void {
  const arb = latticeArbs[kind];
  const same = (x: Lattice, y: Lattice) => canon(x) === canon(y);
  const law = (name: string, body: (t: ExecutionContext) => void) =>
    test(`${kind}: ${name}`, (t) => {
      t.log('seed', seed);
      body(t);
      t.pass();
    });
  law('associative', () =>
    check(fc.tuple(arb, arb, arb), ([a, b, c]) =>
      same(merge(merge(a, b), c), merge(a, merge(b, c))),
    ),
  );
  law('commutative', () => check(fc.tuple(arb, arb), ([a, b]) => same(merge(a, b), merge(b, a))));
  law('idempotent', () => check(arb, (a) => same(merge(a, a), a) && merge(a, a) === a));
  law('bottom is the identity', () =>
    check(arb, (a) => {
      const z = bottom(kind);
      return same(merge(a, z), a) && same(merge(z, a), a) && merge(a, z) === a;
    }),
  );
  law('upper bound', () =>
    check(fc.tuple(arb, arb), ([a, b]) => {
      const ab = merge(a, b);
      return same(merge(ab, a), ab) && same(merge(ab, b), ab) && merge(ab, a) === ab;
    }),
  );
  law('merge results are in canonical form', () =>
    check(fc.tuple(arb, arb), ([a, b]) => {
      const ab = merge(a, b);
      return canon(fromWire(toWire(ab))) === canon(ab);
    }),
  );
  law('latticeEquals agrees with the canonical encoding; no-op merges return `a`', () =>
    check(fc.tuple(arb, arb), ([a, b]) => {
      const ab = merge(a, b);
      const unchanged = same(ab, a);
      return latticeEquals(a, b) === same(a, b) && latticeEquals(ab, a) === unchanged
        ? !unchanged || ab === a
        : false;
    }),
  );
}
