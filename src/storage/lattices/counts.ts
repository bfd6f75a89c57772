/**
 * String-keyed maps of non-negative numbers merged by pointwise max: the body of both the
 * grow-only counter and the vector clock. Invariants: keys iterate in ascending order and no
 * entry is zero (absent means zero), so each state has exactly one form and sums, wire
 * forms and comparisons are deterministic without sorting. A merge returns an argument
 * unchanged when that argument already dominates the other.
 */
import { ValidationError } from '../../errors.js';
import { compareStrings } from './compare_values.js';
import { expectArray, expectString, invalid } from './wire_check.js';

export type Counts = ReadonlyMap<string, number>;

/** Validates one count; returns false for zero (which is dropped). */
export type CountCheck = (n: unknown, key: string) => n is number;

export type CountEntries = Iterable<readonly [string, number]> | Readonly<Record<string, number>>;

export function entriesOf<T>(
  entries: Iterable<readonly [string, T]> | Readonly<Record<string, T>>,
): Iterable<readonly [string, T]> {
  if (Symbol.iterator in entries) return entries as Iterable<readonly [string, T]>;
  return Object.entries(entries as Readonly<Record<string, T>>);
}

/** Builds the canonical form; a repeated key is a ValidationError (which one would win?). */
export function countsOf(entries: CountEntries, check: CountCheck, what: string): Counts {
  const list: [string, number][] = [];
  const seen = new Set<string>();
  for (const [key, n] of entriesOf(entries)) {
    if (typeof key !== 'string') throw new ValidationError(`${what} keys must be strings`);
    if (seen.has(key)) throw new ValidationError(`${what} repeats the key ${JSON.stringify(key)}`);
    seen.add(key);
    if (!check(n, key))
      throw new ValidationError(
        `${what}: the count for ${JSON.stringify(key)} would be ${String(n)}, not a finite number of at least 0`,
      );
    if (n !== 0) list.push([key, n]);
  }
  list.sort((x, y) => compareStrings(x[0], y[0]));
  return new Map(list);
}

/** True when every count of `b` is at most the same key's count in `a`. */
export function dominates(a: Counts, b: Counts): boolean {
  if (b.size > a.size) {
    for (const key of b.keys()) if (!a.has(key)) return false;
  }
  for (const [key, n] of b) if ((a.get(key) ?? 0) < n) return false;
  return true;
}

export function mergeCounts(a: Counts, b: Counts): Counts {
  if (dominates(a, b)) return a;
  if (dominates(b, a)) return b;
  const x = [...a];
  const y = [...b];
  const out = new Map<string, number>();
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    const ex = x[i];
    const ey = y[j];
    const c = ex === undefined ? 1 : ey === undefined ? -1 : compareStrings(ex[0], ey[0]);
    if (c < 0) out.set(ex![0], ex![1]);
    else if (c > 0) out.set(ey![0], ey![1]);
    else out.set(ex![0], Math.max(ex![1], ey![1]));
    if (c <= 0) i++;
    if (c >= 0) j++;
  }
  return out;
}

export function countsEqual(a: Counts, b: Counts): boolean {
  if (a.size !== b.size) return false;
  for (const [key, n] of a) if (b.get(key) !== n) return false;
  return true;
}

/** Lexicographic over the ascending (key, count) pairs: a total order for canonical sorting. */
export function compareCounts(a: Counts, b: Counts): number {
  const x = a[Symbol.iterator]();
  const y = b[Symbol.iterator]();
  for (;;) {
    const ex = x.next();
    const ey = y.next();
    if (ex.done || ey.done) return ex.done ? (ey.done ? 0 : -1) : 1;
    const c = compareStrings(ex.value[0], ey.value[0]) || ex.value[1] - ey.value[1];
    if (c !== 0) return c;
  }
}

/** The wire body: a flat `[key, count, key, count, ...]` array. */
export function countsToWire(counts: Counts): unknown[] {
  const flat: unknown[] = [];
  for (const [key, n] of counts) flat.push(key, n);
  return flat;
}

export function countsFromWire(x: unknown, check: CountCheck, what: string): Counts {
  const flat = expectArray(x, what);
  if (flat.length % 2 !== 0) throw invalid(what, 'expected [key, count, ...] pairs');
  const pairs: [string, number][] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const key = expectString(flat[i], `${what} key`);
    const n = flat[i + 1];
    if (!check(n, key)) throw invalid(what, `bad count for ${JSON.stringify(key)}`);
    pairs.push([key, n]);
  }
  return countsOf(pairs, check, what);
}
