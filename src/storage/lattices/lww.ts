/**
 * Last-writer-wins register. The larger timestamp wins, then the larger writer id, then
 * (two writes claiming the same stamp, which only a buggy or replayed writer produces) the
 * larger value in the canonical order, so the winner never depends on merge order; Anna
 * let the incoming value win ties, which made replicas diverge. The merge returns one of
 * its arguments, never a new object, and compares values only on a full stamp tie: this is
 * the hot path of every write.
 */
import { ValidationError } from '../../errors.js';
import { encode } from '../codec.js';
import { compareValues } from './compare_values.js';
import type { LwwLattice } from './types.js';
import { expectLength, expectString, invalid } from './wire_check.js';
import { TAG_LWW } from './wire_tags.js';

/** Loses to every real write: no timestamp is below -Infinity, no writer below ''. */
export function lwwBottom(): LwwLattice {
  return { kind: 'lww', ts: Number.NEGATIVE_INFINITY, writer: '', value: undefined };
}

export function lwwOf(value: unknown, ts: number, writer: string): LwwLattice {
  if (typeof ts !== 'number' || Number.isNaN(ts)) {
    throw new ValidationError('an lww timestamp must be a number other than NaN');
  }
  if (typeof writer !== 'string') throw new ValidationError('an lww writer must be a string');
  // `+ 0` turns -0 into 0, the form the codec would give it anyway.
  return { kind: 'lww', ts: ts + 0, writer, value };
}

export function mergeLww(a: LwwLattice, b: LwwLattice): LwwLattice {
  if (a.ts !== b.ts) return a.ts > b.ts ? a : b;
  if (a.writer !== b.writer) return a.writer > b.writer ? a : b;
  if (a.value === b.value) return a;
  return compareTied(a.value, b.value) >= 0 ? a : b;
}

export function lwwEquals(a: LwwLattice, b: LwwLattice): boolean {
  return a.ts === b.ts && a.writer === b.writer && compareTied(a.value, b.value) === 0;
}

/**
 * Orders two values written under one stamp. An LWW value may be anything the codec
 * carries, cycles included, which has no canonical order; those fall back to comparing
 * their encodings, still a total order, so the tie still resolves the same everywhere.
 */
function compareTied(a: unknown, b: unknown): number {
  if (a === b) return 0;
  try {
    return compareValues(a, b);
  } catch {
    return Buffer.compare(encode(a), encode(b));
  }
}

export function lwwToWire(l: LwwLattice): unknown[] {
  return [TAG_LWW, l.ts, l.writer, l.value];
}

export function lwwFromWire(x: readonly unknown[]): LwwLattice {
  expectLength(x, 4, 4, 'lww lattice');
  const ts = x[1];
  if (typeof ts !== 'number' || Number.isNaN(ts)) {
    throw invalid('lww lattice', 'the timestamp must be a number other than NaN');
  }
  return { kind: 'lww', ts: ts + 0, writer: expectString(x[2], 'lww writer'), value: x[3] };
}
