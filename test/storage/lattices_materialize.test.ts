/**
 * User writes: the `lattice.*` builders validate eagerly, and `materialize` turns a spec
 * into a lattice whose merge does what the user meant (an increment raises the total by
 * exactly n, once, however often it is merged; an LWW value carries the write's stamp).
 */
import test from 'ava';
import fc from 'fast-check';
import { ValidationError } from '../../src/errors.js';
import {
  type CounterLattice,
  counterOf,
  isLatticeInput,
  type Lattice,
  type LatticeInput,
  lattice,
  lwwOf,
  mapOf,
  materialize,
  merge,
  reveal,
  setOf,
  specFromWire,
} from '../../src/storage/lattices/index.js';
import { check, seed, value, writer } from './lattices_arbitraries.js';

const counter = fc
  .dictionary(fc.constantFrom('a', 'b', 'c'), fc.nat(1000), { maxKeys: 3 })
  .map(counterOf);

test('a counter increment raises reveal by exactly n, once', (t) => {
  t.log('seed', seed);
  const input = fc.tuple(fc.option(counter, { nil: undefined }), fc.nat(1000), writer, counter);
  check(input, ([current, n, w, replica]) => {
    const stamp = { ts: 1, writer: w };
    const delta = materialize(lattice.counter(n).spec, stamp, current);
    const before = current === undefined ? 0 : (reveal(current) as number);
    const after = current === undefined ? delta : merge(current, delta);
    const twice = merge(after, delta);
    // Another replica that already saw `current` reaches the same total by merging.
    const elsewhere = merge(merge(replica, current ?? counterOf({})), delta);
    return (
      reveal(after) === before + n &&
      reveal(twice) === before + n &&
      reveal(elsewhere) === reveal(merge(replica, after))
    );
  });
  t.pass();
});

test('increments by different writers all survive a merge', (t) => {
  const base = counterOf({ a: 5 });
  const fromA = materialize(lattice.counter(2).spec, { ts: 1, writer: 'a' }, base);
  const fromB = materialize(lattice.counter(3).spec, { ts: 1, writer: 'b' }, base);
  t.is(reveal(merge(merge(base, fromA), fromB)), 10);
  t.is(reveal(merge(fromB, merge(fromA, base))), 10);
});

test('lww specs take the stamp; plain values keep their identity', (t) => {
  t.log('seed', seed);
  check(fc.tuple(value, fc.integer({ min: 0, max: 1e12 }), writer), ([v, ts, w]) => {
    const l = materialize(lattice.lww(v).spec, { ts, writer: w }, undefined);
    const older = lwwOf('older', ts - 1, 'zzz');
    return (
      l.kind === 'lww' &&
      l.ts === ts &&
      l.writer === w &&
      Object.is(reveal(l), v) &&
      merge(older, l) === l
    );
  });
  t.pass();
});

test('map specs recurse with the current sub-lattice', (t) => {
  const current = mapOf({ hits: counterOf({ n1: 4 }), tags: setOf(['a']) });
  const spec = lattice.map({
    hits: lattice.counter(3),
    tags: lattice.set(['b']),
    best: lattice.max(7n),
    inner: lattice.map({ name: lattice.lww('x') }),
  }).spec;
  const delta = materialize(spec, { ts: 9, writer: 'n1' }, current);
  t.deepEqual(reveal(merge(current, delta)), {
    best: 7n,
    hits: 7,
    inner: { name: 'x' },
    tags: ['a', 'b'],
  });
  t.is(
    ((delta as Lattice & { kind: 'map' }).entries.get('hits') as CounterLattice).counts.get('n1'),
    7,
  );
});

test('a spec of another kind than the stored one materializes, then the merge refuses it', (t) => {
  const current = setOf([1]);
  const delta = materialize(lattice.counter(1).spec, { ts: 1, writer: 'w' }, current);
  t.is(reveal(delta), 1);
  t.throws(() => merge(current, delta), { instanceOf: ValidationError });
});

test('builders validate at the call site', (t) => {
  t.throws(() => lattice.counter(-1), { instanceOf: ValidationError });
  t.throws(() => lattice.counter(Number.NaN), { instanceOf: ValidationError });
  t.throws(() => lattice.counter(Number.POSITIVE_INFINITY), { instanceOf: ValidationError });
  t.throws(() => lattice.counter('1' as unknown as number), { instanceOf: ValidationError });
  t.throws(() => lattice.max(Number.NaN), { instanceOf: ValidationError });
  t.throws(() => lattice.map({ a: 1 as unknown as LatticeInput }), { instanceOf: ValidationError });
  t.throws(() => lattice.map([lattice.counter(1)] as never), { instanceOf: ValidationError });
  t.throws(() => lattice.set([() => 1]), { instanceOf: ValidationError });
  t.throws(() => lattice.set(5 as unknown as unknown[]), { instanceOf: ValidationError });
  t.throws(() => lattice.set('ab' as unknown as unknown[]), { instanceOf: ValidationError });
  t.deepEqual(lattice.set(new Set([2, 1])).spec, { kind: 'set', values: [2, 1] });
  t.deepEqual(lattice.counter(0).spec, { kind: 'counter', by: 0 });
});

test('inputs are recognised, also from another copy of the module, and survive the wire', (t) => {
  const input = lattice.orderedSet([3, 1]);
  t.true(isLatticeInput(input));
  t.true(Object.isFrozen(input));
  const foreign = { spec: { kind: 'counter', by: 1 } };
  Object.defineProperty(foreign, Symbol.for('squall.LatticeInput'), { value: true });
  t.true(isLatticeInput(foreign));
  t.false(isLatticeInput({ spec: { kind: 'counter', by: 1 } }));
  t.false(isLatticeInput(null));
  t.deepEqual(specFromWire(structuredClone(input.spec)), input.spec);
});
