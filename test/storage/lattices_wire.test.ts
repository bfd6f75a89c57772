/**
 * The wire form: round trips for every kind, stable bytes, no redundant data, and the
 * decoder's promise for untrusted input: a lattice or a ValidationError, never another
 * error, whatever the bytes or structures (random, or valid ones with one field corrupted).
 */
import test from 'ava';
import fc from 'fast-check';
import { ValidationError } from '../../src/errors.js';
import { encode } from '../../src/storage/codec.js';
import {
  decodeLattice,
  encodeLattice,
  fromWire,
  type Lattice,
  lwwOf,
  mapOf,
  setOf,
  specFromWire,
  toWire,
} from '../../src/storage/lattices/index.js';
import { anyLattice, canon, check, seed } from './lattices_arbitraries.js';

const RUNS = 10_000;

/** True when `f` returns or throws ValidationError; anything else fails the property. */
function onlyValidationErrors(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (error) {
    if (error instanceof ValidationError) return true;
    throw error;
  }
}

test('fromWire(toWire(x)) and decodeLattice(encodeLattice(x)) give x back', (t) => {
  t.log('seed', seed);
  check(
    anyLattice,
    (x) =>
      canon(fromWire(toWire(x))) === canon(x) &&
      canon(decodeLattice(encodeLattice(x))) === canon(x),
    RUNS,
  );
  t.pass();
});

test('the encoding is stable: re-encoding decoded bytes gives the same bytes', (t) => {
  t.log('seed', seed);
  check(
    anyLattice,
    (x) => {
      const bytes = encodeLattice(x);
      return Buffer.compare(encodeLattice(decodeLattice(bytes)), bytes) === 0;
    },
    RUNS,
  );
  t.pass();
});

test('the wire form is compact: arrays with a tag, no canonical keys', (t) => {
  t.deepEqual(toWire(lwwOf('v', 7, 'w')), [0, 7, 'w', 'v']);
  t.deepEqual(toWire(setOf(['b', 'a', 'b'])), [1, ['a', 'b']]);
  t.deepEqual(toWire(mapOf({ z: setOf([]), a: lwwOf(1, 1, 'w') })), [
    4,
    ['a', [0, 1, 'w', 1], 'z', [1, []]],
  ]);
  const lww = encodeLattice(lwwOf('hello', 1_700_000_000_000 * 1024, 'node-1'));
  t.true(lww.byteLength <= 4 + 9 + 7 + 6, `lww is ${lww.byteLength} bytes`);
});

test('random bytes decode to a lattice or a ValidationError', (t) => {
  t.log('seed', seed);
  check(
    fc.uint8Array({ maxLength: 48 }),
    (bytes) => onlyValidationErrors(() => decodeLattice(bytes)),
    RUNS,
  );
  const prefixed = fc
    .tuple(fc.constantFrom(0x82, 0x83, 0x84, 0x9f), fc.nat(9), fc.uint8Array({ maxLength: 40 }))
    .map(([head, tag, rest]) => new Uint8Array([head, tag, ...rest]));
  check(prefixed, (bytes) => onlyValidationErrors(() => decodeLattice(bytes)), RUNS);
  t.pass();
});

const junk = fc.oneof(
  fc.anything({ maxDepth: 2, withBigInt: true, withMap: true, withSet: true }),
  fc.constantFrom<unknown>(
    Number.NaN,
    -1,
    1.5,
    2 ** 60,
    -0,
    '',
    null,
    undefined,
    [],
    [[]],
    {},
    10n,
  ),
  fc.constantFrom<unknown>([0], [1, 'x'], [4, ['k']], [6, ['a', -1]], [7, [[['a', 1]]]]),
);

test('random structures are a lattice or a ValidationError', (t) => {
  t.log('seed', seed);
  const tagged = fc.tuple(fc.integer({ min: -1, max: 9 }), fc.array(junk, { maxLength: 4 }));
  check(tagged, ([tag, rest]) => onlyValidationErrors(() => fromWire([tag, ...rest])), RUNS);
  check(junk, (x) => onlyValidationErrors(() => fromWire(x)), RUNS);
  t.pass();
});

/** Every array inside a wire form, so one of them can be corrupted. */
function arraysIn(x: unknown, out: unknown[][] = []): unknown[][] {
  if (Array.isArray(x)) {
    out.push(x);
    for (const item of x) arraysIn(item, out);
  }
  return out;
}

function corrupt(wire: unknown, pick: number, slot: number, how: number, replacement: unknown) {
  const copy = structuredClone(wire);
  const arrays = arraysIn(copy);
  const target = arrays[pick % arrays.length]!;
  if (how === 0) target.splice(slot % (target.length + 1), 1);
  else if (how === 1) target.push(replacement);
  else target[slot % Math.max(1, target.length)] = replacement;
  return copy;
}

test('valid wire forms with one field corrupted are a lattice or a ValidationError', (t) => {
  t.log('seed', seed);
  const corrupted = fc
    .tuple(anyLattice, fc.nat(), fc.nat(), fc.nat(2), junk)
    .map(([x, pick, slot, how, replacement]) => corrupt(toWire(x), pick, slot, how, replacement));
  check(corrupted, (wire) => onlyValidationErrors(() => fromWire(wire)), RUNS);
  check(corrupted, (wire) => onlyValidationErrors(() => decodeLattice(encode(wire))), RUNS);
  t.pass();
});

test('deep nesting and cycles are refused, not a stack overflow', (t) => {
  let deep: unknown = [0, 1, 'w', 'v'];
  for (let i = 0; i < 10_000; i++) deep = [4, ['k', deep]];
  t.throws(() => fromWire(deep), { instanceOf: ValidationError });
  let deepValue: unknown = 1;
  for (let i = 0; i < 10_000; i++) deepValue = [deepValue];
  t.throws(() => fromWire([1, [deepValue]]), { instanceOf: ValidationError });
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  t.throws(() => fromWire([2, [cyclic]]), { instanceOf: ValidationError });
  t.notThrows(
    () => fromWire([0, 1, 'w', cyclic]),
    'an LWW value may be anything the codec carries',
  );
  const bytes = new Uint8Array(20_000).fill(0x81);
  t.throws(() => decodeLattice(bytes), { instanceOf: ValidationError });
});

test('fromWire normalises what a sender left unsorted or duplicated', (t) => {
  const set = fromWire([1, ['b', 'a', 'b']]) as Lattice & { kind: 'set' };
  t.is(set.items.size, 2);
  t.deepEqual(toWire(fromWire([6, ['y', 1, 'x', 2, 'z', 0]])), [6, ['x', 2, 'y', 1]]);
  t.throws(() => fromWire([5, ['a', 1, 'a', 2]]), { instanceOf: ValidationError });
  t.throws(() => fromWire([4, ['k', [3], 'k', [3]]]), { instanceOf: ValidationError });
  const causal = fromWire([
    7,
    [
      [['x', 1], 'old'],
      [['x', 2], 'new'],
    ],
  ]);
  t.deepEqual(toWire(causal), [7, [[['x', 2], 'new']]]);
});

test('specFromWire accepts every spec the builders make and refuses garbage', (t) => {
  t.log('seed', seed);
  const spec = {
    kind: 'map',
    entries: {
      c: { kind: 'counter', by: 2 },
      s: { kind: 'set', values: [1, 'a'] },
      m: { kind: 'max', value: 3n },
      n: { kind: 'map', entries: { l: { kind: 'lww', value: { deep: [1] } } } },
      o: { kind: 'orderedSet', values: [] },
    },
  };
  t.deepEqual(specFromWire(spec), spec);
  t.throws(() => specFromWire({ kind: 'counter', by: -1 }), { instanceOf: ValidationError });
  t.throws(() => specFromWire({ kind: 'max', value: Number.NaN }), { instanceOf: ValidationError });
  t.throws(() => specFromWire({ kind: 'map', entries: { a: 1 } }), { instanceOf: ValidationError });
  t.throws(() => specFromWire({ kind: 'vclock' }), { instanceOf: ValidationError });
  const structure = fc.oneof(
    junk,
    fc.record({
      kind: fc.constantFrom('lww', 'set', 'orderedSet', 'max', 'map', 'counter', 'x'),
      value: junk,
      values: junk,
      entries: junk,
      by: junk,
    }),
  );
  check(structure, (x) => onlyValidationErrors(() => specFromWire(x)), RUNS);
  const fromJson = specFromWire(
    JSON.parse('{"kind":"map","entries":{"__proto__":{"kind":"counter","by":1}}}'),
  );
  t.true(fromJson.kind === 'map' && Object.hasOwn(fromJson.entries, '__proto__'));
});
