/**
 * The canonical value order: a total order, consistent with canonical-key equality, exact
 * across numbers and bigints, and stable through the codec.
 */
import test from 'ava';
import fc from 'fast-check';
import { ValidationError } from '../../src/errors.js';
import { decode, encode } from '../../src/storage/codec.js';
import { canonicalKey, compareValues, sortValues } from '../../src/storage/lattices/index.js';
import { check, seed, value } from './lattices_arbitraries.js';

const RUNS = 10_000;

/** Keys and strings the codec carries unchanged (no lone surrogates, no "__proto__"). */
const key = fc.constantFrom('a', 'b', 'c', '1', '');
const leaf = fc.oneof(
  value,
  fc.integer({ min: -2, max: 2 }),
  fc.bigInt({ min: -2n, max: 2n }),
  fc.constantFrom('a', 'b', ''),
  fc.double({ noDefaultInfinity: false }),
  // The codec carries dates as float seconds: exact for ±100,000 years of milliseconds.
  fc.date({ min: new Date(-1e15), max: new Date(1e15) }),
);
const structured = fc.anything({
  maxDepth: 3,
  maxKeys: 3,
  key,
  values: [leaf],
  withBigInt: true,
  withMap: true,
  withSet: true,
  withTypedArray: true,
  withSparseArray: true,
  withNullPrototype: true,
});
const anyValue = fc.oneof(value, structured);
function permutations<T>([a, b, c]: [T, T, T]): [T, T, T][] {
  return [
    [a, b, c],
    [a, c, b],
    [b, a, c],
    [b, c, a],
    [c, a, b],
    [c, b, a],
  ];
}
const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);

test('compareValues is reflexive on structural copies', (t) => {
  t.log('seed', seed);
  check(anyValue, (a) => compareValues(a, structuredClone(a)) === 0, RUNS);
  t.pass();
});

test('compareValues is antisymmetric', (t) => {
  t.log('seed', seed);
  check(
    fc.tuple(anyValue, anyValue),
    ([a, b]) => sign(compareValues(a, b)) === -sign(compareValues(b, a)),
    RUNS,
  );
  t.pass();
});

test('compareValues is transitive', (t) => {
  t.log('seed', seed);
  check(
    fc.tuple(anyValue, anyValue, anyValue),
    (triple) =>
      permutations(triple).every(
        ([x, y, z]) =>
          !(compareValues(x, y) <= 0 && compareValues(y, z) <= 0) || compareValues(x, z) <= 0,
      ),
    RUNS,
  );
  t.pass();
});

test('compareValues equality is canonical-key equality', (t) => {
  t.log('seed', seed);
  check(
    fc.tuple(anyValue, anyValue),
    ([a, b]) => (compareValues(a, b) === 0) === (canonicalKey(a) === canonicalKey(b)),
    RUNS,
  );
  t.pass();
});

test('a value and its codec round trip are equal', (t) => {
  t.log('seed', seed);
  check(
    anyValue,
    (a) => {
      const back = decode(encode(a));
      return compareValues(back, a) === 0 && canonicalKey(back) === canonicalKey(a);
    },
    RUNS,
  );
  t.pass();
});

test('numbers and bigints compare exactly, a number before the equal bigint', (t) => {
  t.log('seed', seed);
  const big = fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n });
  check(
    fc.tuple(big, fc.integer({ min: -3, max: 3 })),
    ([n, d]) => {
      const x = Number(n) + d; // a nearby double, often not exactly n
      const exact = BigInt(x);
      const expected = exact < n ? -1 : exact > n ? 1 : -1;
      return sign(compareValues(x, n)) === expected;
    },
    RUNS,
  );
  t.is(compareValues(2 ** 32 + 1, 2), 1, 'no 32-bit truncation');
  t.is(compareValues(2 ** 53, 2n ** 53n + 1n), -1);
  t.is(compareValues(-0, 0), 0);
  t.is(compareValues(Number.NaN, Number.NEGATIVE_INFINITY), -1);
  t.is(compareValues(Number.NaN, Number.NaN), 0);
  t.is(compareValues(Number.POSITIVE_INFINITY, 2n ** 1000n), 1);
});

test('the order across classes and within containers', (t) => {
  const sorted = [
    undefined,
    null,
    false,
    true,
    Number.NaN,
    -1,
    1,
    1n,
    '',
    'a',
    new Uint8Array([]),
    new Uint8Array([0]),
    [],
    [1],
    [1, 2],
    [2],
    { a: 1 },
    { a: 1, b: 1 },
    { b: 0 },
  ];
  const input = [...sorted].reverse();
  t.deepEqual(sortValues(input), sorted);
  t.is(input.indexOf(undefined), input.length - 1, 'Array.prototype.sort would put it last');
  t.is(compareValues({ a: 1, b: 2 }, { b: 2, a: 1 }), 0);
  t.is(compareValues(new Set([1, 2]), new Set([2, 1])), 0);
  t.is(compareValues(Buffer.from([1]), new Uint8Array([1])), 0);
  const holey = [1, 2, 3];
  delete holey[1];
  t.is(compareValues(holey, [1, undefined, 3]), 0);
  t.is(canonicalKey(holey), canonicalKey([1, undefined, 3]));
});

test('values without a canonical form are refused with ValidationError', (t) => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  t.throws(() => canonicalKey(cyclic), { instanceOf: ValidationError });
  t.throws(() => canonicalKey(() => 1), { instanceOf: ValidationError });
  t.throws(() => canonicalKey([Symbol('s')]), { instanceOf: ValidationError });
  t.throws(() => compareValues(cyclic, structuredClone(cyclic)), { instanceOf: ValidationError });
  t.is(compareValues({ a: cyclic }, { a: { self: {} } }), 1, 'a difference is found first');
});
