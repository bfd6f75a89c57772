/**
 * Sets share their elements between versions (set_items.ts) and keep their canonical order
 * incrementally (set.ts): checked against plain copies over random histories in which any
 * earlier version may be extended again (a branch), by merges in either direction.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  canonicalKey,
  latticeEquals,
  merge,
  orderedSetOf,
  reveal,
  type SetLattice,
  setDifference,
  setHas,
  setOf,
  sortValues,
} from '../../src/storage/lattices/index.js';
import { seed } from './lattices_arbitraries.js';

const element = fc.oneof(fc.integer({ min: 0, max: 60 }), fc.constantFrom('a', 'b', [1], { k: 2 }));
const step = fc.record({
  from: fc.nat(),
  add: fc.array(element, { maxLength: 4 }),
  incomingFirst: fc.boolean(),
  reveal: fc.boolean(),
});

test('set versions keep their own elements and order, whatever is derived from them', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  fc.assert(
    fc.property(
      fc.array(element, { maxLength: 30 }),
      fc.array(step, { maxLength: 40 }),
      (start, steps) => {
        const versions: { set: SetLattice; model: unknown[] }[] = [
          { set: setOf(start), model: start },
        ];
        for (const s of steps) {
          const base = versions[s.from % versions.length]!;
          const incoming = setOf(s.add);
          const set = (
            s.incomingFirst ? merge(incoming, base.set) : merge(base.set, incoming)
          ) as SetLattice;
          versions.push({ set, model: [...base.model, ...s.add] });
          if (s.reveal) reveal(set);
        }
        for (const { set, model } of versions) {
          const expected = setOf(model);
          if (!latticeEquals(set, expected)) return false;
          if (set.items.size !== new Set(model.map(canonicalKey)).size) return false;
          if (!model.every((x) => setHas(set, x))) return false;
          const order = (reveal(set) as unknown[]).map(canonicalKey);
          if (
            order.join() !==
            sortValues(model)
              .map(canonicalKey)
              .filter((k, i, a) => a.indexOf(k) === i)
              .join()
          )
            return false;
        }
        return true;
      },
    ),
    { seed, numRuns: 2000 },
  );
  t.pass();
});

test('adding to a large set does not copy it: the old version still has only its own', (t) => {
  const big = setOf(Array.from({ length: 20_000 }, (_, i) => i));
  reveal(big);
  let latest = big;
  for (let i = 0; i < 200; i++) latest = merge(latest, setOf([`x${i}`])) as SetLattice;
  t.is(latest.items.size, 20_200);
  t.is(big.items.size, 20_000);
  t.false(setHas(big, 'x0'));
  t.deepEqual((reveal(latest) as unknown[]).slice(-2), ['x98', 'x99']);
});

test('an ordered set merged with a few elements (binary insertion) equals the plain union', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  fc.assert(
    fc.property(
      fc.array(element, { minLength: 40, maxLength: 120 }),
      fc.array(element, { maxLength: 2 }),
      fc.boolean(),
      (many, few, fewFirst) => {
        const large = orderedSetOf(many);
        const small = orderedSetOf(few);
        const merged = fewFirst ? merge(small, large) : merge(large, small);
        if (!latticeEquals(merged, orderedSetOf([...many, ...few]))) return false;
        // Nothing new: the larger value itself comes back (the store's "unchanged" test).
        return (
          !few.every((x) => many.some((y) => canonicalKey(x) === canonicalKey(y))) ||
          merged === large
        );
      },
    ),
    { seed, numRuns: 3000 },
  );
  t.pass();
});

test('a large set takes many new elements in one merge and reads back in order', (t) => {
  // Enough elements that spreading them into one call's arguments would overflow the stack.
  const big = setOf(Array.from({ length: 600_000 }, (_, i) => i));
  reveal(big);
  const more = setOf(Array.from({ length: 140_000 }, (_, i) => i + 0.5));
  const merged = merge(big, more) as SetLattice;
  const order = reveal(merged) as number[];
  t.is(order.length, 740_000);
  t.true(order.every((x, i) => i === 0 || order[i - 1]! < x));
});

test('setDifference is what a merge adds: b ⊔ (a − b) = a ⊔ b, and it shares nothing with b', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  fc.assert(
    fc.property(
      fc.array(element, { maxLength: 40 }),
      fc.array(element, { maxLength: 40 }),
      (a, b) => {
        const [sa, sb] = [setOf(a), setOf(b)];
        const added = setDifference(sa, sb);
        if (!latticeEquals(merge(sb, added), merge(sa, sb))) return false;
        return (reveal(added) as unknown[]).every((x) => !setHas(sb, x) && setHas(sa, x));
      },
    ),
    { seed, numRuns: 10_000 },
  );
  t.pass();
});
