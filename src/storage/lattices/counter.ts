/**
 * Grow-only counter: each writer's own running total, merged by per-writer max, worth the
 * sum. A writer only ever raises its own entry (materialize.ts turns "add n" into "my total
 * is now t + n"), so concurrent increments by different writers all survive a merge, and a
 * replayed increment is idempotent. Totals are non-negative finite numbers; the sum runs in
 * key order so every replica computes the same float.
 */
import {
  type CountEntries,
  type Counts,
  countsEqual,
  countsFromWire,
  countsOf,
  countsToWire,
  mergeCounts,
} from './counts.js';
import type { CounterLattice } from './types.js';
import { expectLength } from './wire_check.js';
import { TAG_COUNTER } from './wire_tags.js';

export function counterBottom(): CounterLattice {
  return { kind: 'counter', counts: new Map() };
}

function isTotal(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0;
}

/** `entries`: writer id → that writer's total. */
export function counterOf(entries: CountEntries): CounterLattice {
  return { kind: 'counter', counts: countsOf(entries, isTotal, 'counter') };
}

export function mergeCounter(a: CounterLattice, b: CounterLattice): CounterLattice {
  const counts: Counts = mergeCounts(a.counts, b.counts);
  return counts === a.counts ? a : counts === b.counts ? b : { kind: 'counter', counts };
}

export function counterEquals(a: CounterLattice, b: CounterLattice): boolean {
  return countsEqual(a.counts, b.counts);
}

export function counterValue(l: CounterLattice): number {
  let sum = 0;
  for (const n of l.counts.values()) sum += n;
  return sum;
}

/** The total a writer has contributed so far (0 when it never wrote). */
export function counterOfWriter(l: CounterLattice, writer: string): number {
  return l.counts.get(writer) ?? 0;
}

export function counterToWire(l: CounterLattice): unknown[] {
  return [TAG_COUNTER, countsToWire(l.counts)];
}

export function counterFromWire(x: readonly unknown[]): CounterLattice {
  expectLength(x, 2, 2, 'counter lattice');
  return { kind: 'counter', counts: countsFromWire(x[1], isTotal, 'counter') };
}
