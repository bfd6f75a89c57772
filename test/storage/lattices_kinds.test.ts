/**
 * What each kind means, beyond the laws: reveal forms, tie-breaking, causal dominance,
 * vector-clock comparison, counters, ranges, and the errors for mixing kinds.
 */
import test from 'ava';
import fc from 'fast-check';
import { ValidationError } from '../../src/errors.js';
import {
  bottom,
  type CausalLattice,
  causalClock,
  causalOf,
  compareClocks,
  compareValues,
  counterOf,
  counterValue,
  LATTICE_KINDS,
  type Lattice,
  latticeEquals,
  lwwOf,
  mapOf,
  maxOf,
  merge,
  multiCausalOf,
  orderedSetOf,
  orderedSetRange,
  reveal,
  setOf,
  tick,
  vclockOf,
} from '../../src/storage/lattices/index.js';
import { check, clock, latticeArbs, seed } from './lattices_arbitraries.js';

test('reveal gives the plain values `get` returns', (t) => {
  t.is(reveal(lwwOf('v', 1, 'a')), 'v');
  t.deepEqual(reveal(setOf([3, 'b', 1, 3, undefined])), [undefined, 1, 3, 'b']);
  t.deepEqual(reveal(orderedSetOf([2, 1, 2])), [1, 2]);
  t.is(reveal(maxOf(5n)), 5n);
  t.is(reveal(bottom('max')), undefined);
  t.deepEqual(reveal(mapOf({ n: counterOf({ a: 2, b: 3 }), s: setOf(['x']) })), {
    n: 5,
    s: ['x'],
  });
  t.is(reveal(counterOf({ a: 1.5, b: 2 })), 3.5);
  t.deepEqual(reveal(vclockOf({ y: 2, x: 1, z: 0 })), { x: 1, y: 2 });
  const single = causalOf([{ clock: vclockOf({ x: 1 }), value: 'only' }]);
  t.deepEqual(reveal(single), ['only']);
  t.deepEqual(reveal(bottom('causal')), []);
  t.is(reveal(bottom('lww')), undefined);
});

test('reveal of a map keeps a "__proto__" key as data', (t) => {
  const revealed = reveal(mapOf([['__proto__', lwwOf(1, 1, 'a')]])) as Record<string, unknown>;
  t.true(Object.hasOwn(revealed, '__proto__'));
  t.is(Object.getPrototypeOf(revealed), Object.prototype);
});

test('lww: larger ts, then larger writer, then the canonical value order wins', (t) => {
  t.is(reveal(merge(lwwOf('old', 1, 'z'), lwwOf('new', 2, 'a'))), 'new');
  t.is(reveal(merge(lwwOf('b-wins', 2, 'b'), lwwOf('a', 2, 'a'))), 'b-wins');
  const x = lwwOf(1, 2, 'w');
  const y = lwwOf(2, 2, 'w');
  t.is(merge(x, y), y);
  t.is(merge(y, x), y);
  t.throws(() => lwwOf(1, Number.NaN, 'w'), { instanceOf: ValidationError });
});

test('max: exact across types; 1 and 1n resolve to 1n in either order; NaN refused', (t) => {
  t.is(reveal(merge(maxOf(2 ** 32 + 1), maxOf(2))), 2 ** 32 + 1);
  t.is(reveal(merge(maxOf(2n ** 53n + 1n), maxOf(2 ** 53))), 2n ** 53n + 1n);
  t.is(reveal(merge(maxOf(1), maxOf(1n))), 1n);
  t.is(reveal(merge(maxOf(1n), maxOf(1))), 1n);
  t.true(Object.is(reveal(maxOf(-0)), 0));
  t.throws(() => maxOf(Number.NaN), { instanceOf: ValidationError });
});

test('counter and vclock refuse bad counts; zero entries vanish', (t) => {
  t.throws(() => counterOf({ a: -1 }), { instanceOf: ValidationError });
  t.throws(() => counterOf({ a: Number.POSITIVE_INFINITY }), {
    instanceOf: ValidationError,
    message: /the count for "a" would be Infinity, not a finite number/,
  });
  t.throws(() => vclockOf({ a: 1.5 }), { instanceOf: ValidationError });
  t.throws(
    () =>
      vclockOf([
        ['a', 1],
        ['a', 2],
      ]),
    { instanceOf: ValidationError },
  );
  t.true(latticeEquals(vclockOf({ a: 0 }), bottom('vclock')));
  t.is(counterValue(merge(counterOf({ a: 3, b: 1 }), counterOf({ a: 1, b: 4 }))), 7);
});

test('vclock: compareClocks agrees with merge, tick moves strictly after', (t) => {
  t.log('seed', seed);
  check(fc.tuple(clock, clock), ([a, b]) => {
    const order = compareClocks(a, b);
    const ab = merge(a, b);
    const expected = latticeEquals(a, b)
      ? 'equal'
      : latticeEquals(ab, b)
        ? 'before'
        : latticeEquals(ab, a)
          ? 'after'
          : 'concurrent';
    const flipped = { before: 'after', after: 'before', equal: 'equal', concurrent: 'concurrent' };
    return order === expected && compareClocks(b, a) === flipped[order];
  });
  check(fc.tuple(clock, fc.constantFrom('x', 'y', 'w')), ([c, node]) => {
    return compareClocks(c, tick(c, node)) === 'before';
  });
  t.pass();
});

/**
 * The result is an antichain, and every input version is either kept (same clock and value)
 * or strictly dominated by a kept one: exactly the maximal elements of the union.
 */
function isMaximalUnion(result: CausalLattice, inputs: readonly CausalLattice[]): boolean {
  const kept = result.versions;
  const antichain = kept.every((v) =>
    kept.every((w) => compareClocks(v.clock, w.clock) !== 'before'),
  );
  const covered = inputs.every((input) =>
    input.versions.every((v) =>
      kept.some((w) => {
        const order = compareClocks(v.clock, w.clock);
        return order === 'before' || (order === 'equal' && compareValues(v.value, w.value) === 0);
      }),
    ),
  );
  const noneInvented = kept.every((w) =>
    inputs.some((input) =>
      input.versions.some(
        (v) => compareClocks(v.clock, w.clock) === 'equal' && compareValues(v.value, w.value) === 0,
      ),
    ),
  );
  return antichain && covered && noneInvented;
}

test('causal: the merge keeps exactly the maximal versions of the union', (t) => {
  t.log('seed', seed);
  const arb = latticeArbs.causal as fc.Arbitrary<CausalLattice>;
  check(fc.tuple(arb, arb), ([a, b]) => isMaximalUnion(merge(a, b), [a, b]));
  t.pass();
});

test('causal: concurrent writes both survive until a dominating write replaces them', (t) => {
  const left = causalOf([{ clock: vclockOf({ x: 1 }), value: 'L' }]);
  const right = causalOf([{ clock: vclockOf({ y: 1 }), value: 'R' }]);
  const both = merge(left, right);
  t.deepEqual(reveal(both), ['L', 'R']);
  const next = causalOf([{ clock: tick(causalClock(both), 'x'), value: 'N' }]);
  t.deepEqual(reveal(merge(both, next)), ['N']);
  t.deepEqual(reveal(merge(next, both)), ['N']);
  const twin = causalOf([{ clock: vclockOf({ x: 1 }), value: 'L2' }]);
  t.deepEqual(reveal(merge(left, twin)), ['L', 'L2'], 'equal clocks, different values: both kept');
  t.is(merge(left, causalOf([{ clock: vclockOf({ x: 1 }), value: 'L' }])), left);
});

test('causal: the naive "dominating clock wins, else union" counterexample is associative here', (t) => {
  const a = causalOf([{ clock: vclockOf({ x: 1 }), value: 'a' }]);
  const b = causalOf([{ clock: vclockOf({ y: 1 }), value: 'b' }]);
  const c = causalOf([{ clock: vclockOf({ x: 2 }), value: 'c' }]);
  const left = merge(merge(a, b), c);
  const right = merge(a, merge(b, c));
  t.true(latticeEquals(left, right));
  t.deepEqual(reveal(left), ['b', 'c']);
});

test('multiCausal: deps ride with their version', (t) => {
  const v1 = multiCausalOf([
    { clock: vclockOf({ x: 1 }), deps: { k: vclockOf({ y: 3 }) }, value: 'v' },
  ]);
  const v2 = multiCausalOf([{ clock: vclockOf({ x: 1 }), value: 'v' }]);
  const merged = merge(v1, v2);
  t.is(merged.versions.length, 2, 'same clock and value, different deps: distinct versions');
  t.deepEqual(reveal(merged), ['v']);
  t.deepEqual(Object.fromEntries(merged.versions[1]!.deps), { k: vclockOf({ y: 3 }) });
});

test('orderedSet: range reads are half-open and in canonical order', (t) => {
  const s = orderedSetOf([5, 1, 3, 'a', 2n, undefined]);
  t.deepEqual(s.values, [undefined, 1, 2n, 3, 5, 'a']);
  t.deepEqual(orderedSetRange(s, { from: 2, to: 5 }), [2n, 3]);
  t.deepEqual(orderedSetRange(s, { to: 2 }), [undefined, 1]);
  t.deepEqual(orderedSetRange(s, { from: 4 }), [5, 'a']);
  t.deepEqual(orderedSetRange(s, { from: 9, to: 1 }), []);
});

test('merging different kinds throws ValidationError naming both, at any depth', (t) => {
  const samples: Lattice[] = LATTICE_KINDS.map((kind) => bottom(kind));
  for (const a of samples) {
    for (const b of samples) {
      if (a.kind === b.kind) continue;
      const error = t.throws(() => merge(a, b), { instanceOf: ValidationError });
      t.true(error.message.includes(a.kind) && error.message.includes(b.kind));
    }
  }
  const nested = () =>
    merge(mapOf({ m: mapOf({ k: setOf([1]) }) }), mapOf({ m: mapOf({ k: maxOf(1) }) }));
  t.throws(nested, { instanceOf: ValidationError, message: /"m".*"k".*set.*max/ });
  t.throws(() => bottom('nope' as 'lww'), { instanceOf: ValidationError });
});
