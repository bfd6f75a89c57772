/**
 * Grow-only set kept sorted by the canonical value order, so ordered iteration is free and
 * a range read is a binary search. A merge is one linear merge-walk of two sorted arrays
 * (comparisons, no encoding), returning an argument unchanged when it already holds the
 * union.
 */
import { canonicalKey } from './canonical_key.js';
import { compareValues, insertSorted, lowerBound, sortValues } from './compare_values.js';
import type { OrderedSetLattice } from './types.js';
import { expectArray, expectLength } from './wire_check.js';
import { TAG_ORDERED_SET } from './wire_tags.js';

export function orderedSetBottom(): OrderedSetLattice {
  return { kind: 'orderedSet', values: [] };
}

/** Throws ValidationError for elements that cannot be stored (functions, cycles). */
export function orderedSetOf(values: Iterable<unknown>): OrderedSetLattice {
  const all = sortValues(values);
  // Keying validates each element once; the merge itself never has to.
  for (const value of all) canonicalKey(value);
  const distinct: unknown[] = [];
  for (const value of all) {
    if (distinct.length === 0 || compareValues(distinct[distinct.length - 1], value) !== 0) {
      distinct.push(value);
    }
  }
  return { kind: 'orderedSet', values: distinct };
}

export function mergeOrderedSet(a: OrderedSetLattice, b: OrderedSetLattice): OrderedSetLattice {
  const x = a.values;
  const y = b.values;
  if (y.length === 0) return a;
  if (x.length === 0) return b;
  if (y.length * SMALL_SHARE < x.length) return insertFew(a, y);
  if (x.length * SMALL_SHARE < y.length) return insertFew(b, x);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const c = compareValues(x[i], y[j]);
    if (c <= 0) out.push(x[i++]);
    else out.push(y[j++]);
    if (c === 0) j++;
  }
  while (i < x.length) out.push(x[i++]);
  while (j < y.length) out.push(y[j++]);
  if (out.length === x.length) return a;
  if (out.length === y.length) return b;
  return { kind: 'orderedSet', values: out };
}

/** Below 1 / this of the other's size, a side's elements are inserted by binary search. */
const SMALL_SHARE = 16;

/** `into` with the few `more` (sorted) added; `into` itself when it holds them all. */
function insertFew(into: OrderedSetLattice, more: readonly unknown[]): OrderedSetLattice {
  const values = insertSorted(into.values, more);
  return values === undefined ? into : { kind: 'orderedSet', values };
}

export function orderedSetEquals(a: OrderedSetLattice, b: OrderedSetLattice): boolean {
  if (a.values.length !== b.values.length) return false;
  return a.values.every((value, i) => compareValues(value, b.values[i]) === 0);
}

/**
 * The elements `v` with `from <= v < to`, in canonical order. An omitted bound leaves that
 * side open (a bound given as `undefined` is the value undefined, the lowest of all).
 */
export function orderedSetRange(
  l: OrderedSetLattice,
  bounds: { from?: unknown; to?: unknown } = {},
): unknown[] {
  const start = 'from' in bounds ? lowerBound(l.values, bounds.from) : 0;
  const end = 'to' in bounds ? lowerBound(l.values, bounds.to) : l.values.length;
  return l.values.slice(start, Math.max(start, end));
}

export function orderedSetToWire(l: OrderedSetLattice): unknown[] {
  return [TAG_ORDERED_SET, l.values.slice()];
}

export function orderedSetFromWire(x: readonly unknown[]): OrderedSetLattice {
  expectLength(x, 2, 2, 'orderedSet lattice');
  return orderedSetOf(expectArray(x[1], 'orderedSet elements'));
}
