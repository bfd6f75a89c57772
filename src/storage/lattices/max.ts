/**
 * Max register over numbers and bigints, compared exactly in the canonical numeric order
 * (Anna's compared through a 32-bit integer). Mathematically equal values of different
 * types resolve to the bigint (the order puts 1 before 1n), and -0 is stored as 0, so the
 * merge is commutative down to the type. NaN has no place in an order and is refused.
 */
import { ValidationError } from '../../errors.js';
import { compareNumeric } from './compare_values.js';
import type { MaxLattice } from './types.js';
import { expectLength, invalid } from './wire_check.js';
import { TAG_MAX } from './wire_tags.js';

export function maxBottom(): MaxLattice {
  return { kind: 'max', value: undefined };
}

export function maxOf(n: number | bigint): MaxLattice {
  return { kind: 'max', value: checkMaxValue(n) };
}

/** Returns the value normalised (-0 → 0); throws ValidationError for NaN and non-numbers. */
export function checkMaxValue(n: unknown): number | bigint {
  if (typeof n === 'bigint') return n;
  if (typeof n !== 'number') throw new ValidationError('a max value must be a number or bigint');
  if (Number.isNaN(n)) throw new ValidationError('a max value must not be NaN');
  return n + 0;
}

export function mergeMax(a: MaxLattice, b: MaxLattice): MaxLattice {
  if (b.value === undefined) return a;
  if (a.value === undefined) return b;
  return compareNumeric(a.value, b.value) >= 0 ? a : b;
}

export function maxEquals(a: MaxLattice, b: MaxLattice): boolean {
  if (a.value === undefined || b.value === undefined) return a.value === b.value;
  return compareNumeric(a.value, b.value) === 0;
}

export function maxToWire(l: MaxLattice): unknown[] {
  return l.value === undefined ? [TAG_MAX] : [TAG_MAX, l.value];
}

export function maxFromWire(x: readonly unknown[]): MaxLattice {
  expectLength(x, 1, 2, 'max lattice');
  if (x.length === 1) return maxBottom();
  const n = x[1];
  if (typeof n === 'bigint') return { kind: 'max', value: n };
  if (typeof n !== 'number' || Number.isNaN(n)) {
    throw invalid('max lattice', 'the value must be a number other than NaN, or a bigint');
  }
  return { kind: 'max', value: n + 0 };
}
