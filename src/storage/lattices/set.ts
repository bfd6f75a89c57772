/**
 * Grow-only set. Elements are keyed by their canonical key once, when they enter a set;
 * merges then work on those string keys only (no element is re-keyed or re-encoded), and
 * the merge returns an argument unchanged when it already holds the union, so "did this
 * write change anything" is an identity check. The wire form carries the elements alone,
 * in canonical order; keys are rebuilt on decode.
 */
import { canonicalKey } from './canonical_key.js';
import { insertSorted, sortValues } from './compare_values.js';
import { SetItems } from './set_items.js';
import type { SetLattice } from './types.js';
import { expectArray, expectLength } from './wire_check.js';
import { TAG_SET } from './wire_tags.js';

export function setBottom(): SetLattice {
  return { kind: 'set', items: SetItems.of([]) };
}

/** Throws ValidationError for elements that cannot be stored (functions, cycles). */
export function setOf(values: Iterable<unknown>): SetLattice {
  const keyed: [string, unknown][] = [];
  for (const value of values) keyed.push([canonicalKey(value), value]);
  return { kind: 'set', items: SetItems.of(keyed) };
}

/**
 * The union. The larger set is extended by what the smaller adds (set_items.ts: without
 * copying it), and remembered as the new set's parent, so its canonical order can be
 * updated rather than sorted again (setValues).
 */
export function mergeSet(a: SetLattice, b: SetLattice): SetLattice {
  if (b.items.size === 0) return a;
  if (a.items.size === 0) return b;
  const [large, small] = a.items.size >= b.items.size ? [a, b] : [b, a];
  const added: [string, unknown][] = [];
  for (const [key, value] of small.items.entries())
    if (!large.items.has(key)) added.push([key, value]);
  if (added.length === 0) return large === a || a.items.size === b.items.size ? a : b;
  const merged: SetLattice = { kind: 'set', items: large.items.plus(added) };
  // Each link keeps its parent alive, so a set written often and never read would hold
  // every version it came from: past DERIVATION_DEPTH_MAX links its order is sorted anew.
  const depth = (derivation.get(large)?.depth ?? 0) + 1;
  if (depth <= DERIVATION_DEPTH_MAX) {
    derivation.set(merged, { parent: large, added: added.map(([, value]) => value), depth });
  }
  return merged;
}

/** How a set was made from a larger one (mergeSet), until its canonical order is known. */
const derivation = new WeakMap<
  SetLattice,
  { parent: SetLattice; added: unknown[]; depth: number }
>();
const DERIVATION_DEPTH_MAX = 64;

/**
 * The elements of `a` that `b` lacks, as a set: what merging `a` into `b` adds. A replica's
 * whole set merged into a large one is logged and gossiped on as this, not as itself.
 */
export function setDifference(a: SetLattice, b: SetLattice): SetLattice {
  const added: [string, unknown][] = [];
  for (const [key, value] of a.items.entries()) if (!b.items.has(key)) added.push([key, value]);
  return added.length === a.items.size ? a : { kind: 'set', items: SetItems.of(added) };
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

/**
 * The elements in canonical order, as a fresh array (the order is cached per set). A set
 * made by adding a few elements to sets whose order is known gets them inserted into that
 * order, not the whole set sorted again.
 */
export function setValues(l: SetLattice): unknown[] {
  let sorted = sortedCache.get(l);
  if (sorted === undefined) {
    sorted = sortedFromAncestor(l) ?? sortValues(l.items.values());
    sortedCache.set(l, sorted);
    derivation.delete(l);
  }
  return sorted.slice();
}

/** `l`'s order from its nearest ancestor with a known order, when few elements were added since. */
function sortedFromAncestor(l: SetLattice): unknown[] | undefined {
  const added: unknown[] = [];
  for (let at = derivation.get(l); at !== undefined; at = derivation.get(at.parent)) {
    for (const item of at.added) added.push(item); // a spread of many overflows the stack
    if (added.length * 4 > l.items.size) return undefined;
    const known = sortedCache.get(at.parent);
    if (known !== undefined) return insertSorted(known, sortValues(added)) ?? known.slice();
  }
  return undefined;
}

export function setToWire(l: SetLattice): unknown[] {
  return [TAG_SET, setValues(l)];
}

export function setFromWire(x: readonly unknown[]): SetLattice {
  expectLength(x, 2, 2, 'set lattice');
  return setOf(expectArray(x[1], 'set elements'));
}
