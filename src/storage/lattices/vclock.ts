/**
 * Vector clock: node id → number of events seen from that node, merged by pointwise max.
 * Counts are safe integers (a tick past 2^53 - 1 is refused rather than rounded, which
 * would silently break causality); zero entries are dropped so that `{a: 0}` and `{}` are
 * one clock. The causal lattices embed clocks of this shape in their versions.
 */
import { ValidationError } from '../../errors.js';
import {
  type CountEntries,
  compareCounts,
  countsEqual,
  countsFromWire,
  countsOf,
  countsToWire,
  mergeCounts,
} from './counts.js';
import type { VClockLattice } from './types.js';
import { expectLength } from './wire_check.js';
import { TAG_VCLOCK } from './wire_tags.js';

export type ClockOrder = 'before' | 'after' | 'equal' | 'concurrent';

export function vclockBottom(): VClockLattice {
  return { kind: 'vclock', clock: new Map() };
}

export function isClockCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

export function vclockOf(entries: CountEntries): VClockLattice {
  return { kind: 'vclock', clock: countsOf(entries, isClockCount, 'vclock') };
}

export function mergeVClock(a: VClockLattice, b: VClockLattice): VClockLattice {
  const clock = mergeCounts(a.clock, b.clock);
  return clock === a.clock ? a : clock === b.clock ? b : { kind: 'vclock', clock };
}

/** How `a` relates to `b`: 'before' when b has seen everything a has and more. */
export function compareClocks(a: VClockLattice, b: VClockLattice): ClockOrder {
  let aAhead = false;
  let bAhead = false;
  for (const [node, n] of a.clock) {
    const m = b.clock.get(node) ?? 0;
    if (n > m) aAhead = true;
    else if (n < m) bAhead = true;
  }
  if (!bAhead) {
    for (const node of b.clock.keys()) {
      if (!a.clock.has(node)) {
        bAhead = true;
        break;
      }
    }
  }
  if (aAhead) return bAhead ? 'concurrent' : 'after';
  return bAhead ? 'before' : 'equal';
}

/** The clock after one more event at `node`. */
export function tick(clock: VClockLattice, node: string): VClockLattice {
  const n = (clock.clock.get(node) ?? 0) + 1;
  if (!Number.isSafeInteger(n)) throw new ValidationError(`vclock entry ${node} would overflow`);
  if (clock.clock.has(node)) {
    const next = new Map(clock.clock);
    next.set(node, n);
    return { kind: 'vclock', clock: next };
  }
  return vclockOf([...clock.clock, [node, n]]);
}

export function vclockEquals(a: VClockLattice, b: VClockLattice): boolean {
  return countsEqual(a.clock, b.clock);
}

/** A total order on clocks (not causality): used to keep causal versions sorted. */
export function compareClocksCanonical(a: VClockLattice, b: VClockLattice): number {
  return compareCounts(a.clock, b.clock);
}

/** The embedded form used inside causal versions: the flat pairs without a tag. */
export function clockToWire(l: VClockLattice): unknown[] {
  return countsToWire(l.clock);
}

export function clockFromWire(x: unknown, what: string): VClockLattice {
  return { kind: 'vclock', clock: countsFromWire(x, isClockCount, what) };
}

export function vclockToWire(l: VClockLattice): unknown[] {
  return [TAG_VCLOCK, clockToWire(l)];
}

export function vclockFromWire(x: readonly unknown[]): VClockLattice {
  expectLength(x, 2, 2, 'vclock lattice');
  return clockFromWire(x[1], 'vclock');
}
