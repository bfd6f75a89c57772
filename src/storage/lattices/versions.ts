/**
 * The merge at the heart of both causal lattices: the union of two version sets, exact
 * duplicates collapsed, then every version whose clock is strictly dominated by another's
 * dropped. Keeping the maximal elements of the union is associative (the naive "dominating
 * clock wins, else union" is not), commutative and idempotent. Versions stay sorted by a
 * canonical order so that equal states have one form; on ties the first argument's
 * version object is kept, which is what lets a no-op merge return its first argument.
 */
import type { VClockLattice } from './types.js';
import { compareClocks } from './vclock.js';

interface Versioned {
  readonly clock: VClockLattice;
}

/** Sorts, removes exact duplicates (compare === 0) and dominated versions. */
export function maximalVersions<V extends Versioned>(
  all: readonly V[],
  compare: (x: V, y: V) => number,
): V[] {
  // Array.prototype.sort is stable: among duplicates the earliest (the first argument's) wins.
  const sorted = all.slice().sort(compare);
  const distinct: V[] = [];
  for (const version of sorted) {
    const last = distinct[distinct.length - 1];
    if (last === undefined || compare(last, version) !== 0) distinct.push(version);
  }
  return distinct.filter(
    (v) => !distinct.some((w) => compareClocks(v.clock, w.clock) === 'before'),
  );
}

/** The merged list, or `a`/`b` itself when the merge adds nothing to it. */
export function mergeVersions<V extends Versioned>(
  a: readonly V[],
  b: readonly V[],
  compare: (x: V, y: V) => number,
): readonly V[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const merged = maximalVersions([...a, ...b], compare);
  if (sameElements(merged, a)) return a;
  if (merged.length === b.length && merged.every((v, i) => compare(v, b[i]!) === 0)) return b;
  return merged;
}

function sameElements<V>(x: readonly V[], y: readonly V[]): boolean {
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

export function versionsEqual<V>(
  a: readonly V[],
  b: readonly V[],
  compare: (x: V, y: V) => number,
): boolean {
  return a.length === b.length && a.every((v, i) => compare(v, b[i]!) === 0);
}
