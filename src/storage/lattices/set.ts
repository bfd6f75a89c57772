/**
 * Grow-only set. Elements are keyed by their canonical key once, when they enter a set;
 * merges then work on those string keys only (no element is re-keyed or re-encoded), and
 * the merge returns an argument unchanged when it already holds the union, so "did this
 * write change anything" is an identity check. The wire form carries the elements alone,
 * in canonical order; keys are rebuilt on decode.
 */
import { canonicalKey } from './canonical_key.js';
import { sortValues } from './compare_values.js';
import type { SetLattice } from './types.js';
import { expectArray, expectLength } from './wire_check.js';
import { TAG_SET } from './wire_tags.js';

export function setBottom(): SetLattice {
  return { kind: 'set', items: new Map() };
}

/** Throws ValidationError for elements that cannot be stored (functions, cycles). */
export function setOf(values: Iterable<unknown>): SetLattice {
  const items = new Map<string, unknown>();
  for (const value of values) {
    const key = canonicalKey(value);
    if (!items.has(key)) items.set(key, value);
  }
  return { kind: 'set', items };
}

export function mergeSet(a: SetLattice, b: SetLattice): SetLattice {
  if (b.items.size === 0) return a;
  if (a.items.size === 0) return b;
  let missing = 0;
  for (const key of b.items.keys()) if (!a.items.has(key)) missing++;
  if (missing === 0) return a;
  if (a.items.size + missing === b.items.size) return b;
  const small = a.items.size < b.items.size ? a : b;
  const items = new Map(small === a ? b.items : a.items);
  for (const [key, value] of small.items) if (!items.has(key)) items.set(key, value);
  return { kind: 'set', items };
}

export function setEquals(a: SetLattice, b: SetLattice): boolean {
  if (a.items.size !== b.items.size) return false;
  for (const key of a.items.keys()) if (!b.items.has(key)) return false;
  return true;
}

export function setHas(l: SetLattice, value: unknown): boolean {
  return l.items.has(canonicalKey(value));
}

const sortedCache = new WeakMap<SetLattice, readonly unknown[]>();

/** The elements in canonical order, as a fresh array (the sort is cached per set). */
export function setValues(l: SetLattice): unknown[] {
  let sorted = sortedCache.get(l);
  if (sorted === undefined) {
    sorted = sortValues(l.items.values());
    sortedCache.set(l, sorted);
  }
  return sorted.slice();
}

export function setToWire(l: SetLattice): unknown[] {
  return [TAG_SET, setValues(l)];
}

export function setFromWire(x: readonly unknown[]): SetLattice {
  expectLength(x, 2, 2, 'set lattice');
  return setOf(expectArray(x[1], 'set elements'));
}
