/**
 * The canonical total order on stored values. Sets and ordered sets sort by it, LWW breaks
 * full ties with it and `reveal` returns elements in it, so every replica agrees without
 * talking. It is a total order whose equality is exactly canonical-key equality
 * (canonical_key.ts), and it survives the codec: a value and its decoded copy compare equal.
 * Classes come first (value_rank.ts); within a class:
 * - numbers and bigints mix and compare by mathematical value, exactly (JS relational
 *   operators between number and bigint do not round); NaN sorts first; -0 equals 0
 *   (the codec turns -0 into 0); a number sorts before the equal bigint (1 < 1n);
 * - strings by UTF-16 code units; bytes by unsigned bytes, a prefix first;
 * - arrays lexicographically (holes read as undefined); objects as their entries sorted by
 *   key; Maps and Sets as their entries/elements sorted by this order, so insertion order
 *   never matters.
 * It compares structurally, without encoding, because it sits on LWW and ordered-set merges.
 */
import {
  bytesOf,
  errorMessage,
  RANK_ARRAY,
  RANK_BOOLEAN,
  RANK_BYTES,
  RANK_DATE,
  RANK_ERROR,
  RANK_MAP,
  RANK_NUMERIC,
  RANK_OBJECT,
  RANK_REGEXP,
  RANK_SET,
  RANK_STRING,
  RANK_TYPED,
  rankOf,
  tooDeep,
  typedName,
  VALUE_DEPTH_MAX,
} from './value_rank.js';

/** Negative, zero or positive as `a` sorts before, with or after `b`. */
export function compareValues(a: unknown, b: unknown): number {
  return compareAt(a, b, 0);
}

/**
 * Sorts into canonical order, returning a new array. Use this, never
 * `array.sort(compareValues)`: Array.prototype.sort moves undefined elements to the end
 * without consulting the comparator, and undefined sorts first in this order.
 */
export function sortValues<T>(values: Iterable<T>): T[] {
  const defined: T[] = [];
  let undefinedCount = 0;
  for (const value of values) {
    if (value === undefined) undefinedCount++;
    else defined.push(value);
  }
  defined.sort(compareValues);
  return undefinedCount === 0
    ? defined
    : [...new Array<T>(undefinedCount).fill(undefined as T), ...defined];
}

/** The numeric part of the order, shared with the max lattice. */
export function compareNumeric(a: number | bigint, b: number | bigint): number {
  if (a < b) return -1;
  if (a > b) return 1;
  const aNaN = typeof a === 'number' && Number.isNaN(a);
  const bNaN = typeof b === 'number' && Number.isNaN(b);
  if (aNaN || bNaN) return aNaN === bNaN ? 0 : aNaN ? -1 : 1;
  const aBig = typeof a === 'bigint';
  return aBig === (typeof b === 'bigint') ? 0 : aBig ? 1 : -1;
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareAt(a: unknown, b: unknown, depth: number): number {
  if (a === b) return 0;
  if (depth > VALUE_DEPTH_MAX) throw tooDeep();
  const rank = rankOf(a);
  const rankB = rankOf(b);
  if (rank !== rankB) return rank < rankB ? -1 : 1;
  switch (rank) {
    case RANK_BOOLEAN:
      return a ? 1 : -1;
    case RANK_NUMERIC:
      return compareNumeric(a as number | bigint, b as number | bigint);
    case RANK_STRING:
      return compareStrings(a as string, b as string);
    default:
      return compareObjects(rank, a as object, b as object, depth + 1);
  }
}

function compareObjects(rank: number, a: object, b: object, depth: number): number {
  switch (rank) {
    case RANK_BYTES:
      return Buffer.compare(bytesOf(a), bytesOf(b));
    case RANK_TYPED:
      return compareStrings(typedName(a), typedName(b)) || Buffer.compare(bytesOf(a), bytesOf(b));
    case RANK_DATE:
      return compareNumeric((a as Date).getTime(), (b as Date).getTime());
    case RANK_REGEXP: {
      const [x, y] = [a as RegExp, b as RegExp];
      return compareStrings(x.source, y.source) || compareStrings(x.flags, y.flags);
    }
    case RANK_ERROR:
      return compareStrings(errorMessage(a as Error), errorMessage(b as Error));
    case RANK_ARRAY:
      return compareSequences(a as unknown[], b as unknown[], depth);
    case RANK_MAP:
      return compareSequences(sortedMapEntries(a, depth), sortedMapEntries(b, depth), depth);
    case RANK_SET:
      return compareSequences(sortedElements(a, depth), sortedElements(b, depth), depth);
    case RANK_OBJECT:
      return compareRecords(a as Record<string, unknown>, b as Record<string, unknown>, depth);
    default:
      throw new Error(`compareValues: unexpected rank ${rank}`);
  }
}

function compareSequences(a: readonly unknown[], b: readonly unknown[], depth: number): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareAt(a[i], b[i], depth);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function compareRecords(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  depth: number,
): number {
  const keysA = Object.keys(a).sort();
  const keysB = Object.keys(b).sort();
  const n = Math.min(keysA.length, keysB.length);
  for (let i = 0; i < n; i++) {
    const ka = keysA[i]!;
    const kb = keysB[i]!;
    const c = compareStrings(ka, kb) || compareAt(a[ka], b[kb], depth);
    if (c !== 0) return c;
  }
  return keysA.length - keysB.length;
}

/** A Map as a flat [k0, v0, k1, v1, ...] list sorted by key, then value. */
function sortedMapEntries(map: object, depth: number): unknown[] {
  const pairs = [...(map as Map<unknown, unknown>)];
  pairs.sort((x, y) => compareAt(x[0], y[0], depth) || compareAt(x[1], y[1], depth));
  return pairs.flat(1);
}

function sortedElements(set: object, depth: number): unknown[] {
  const values = [...(set as Set<unknown>)];
  const defined = values.filter((v) => v !== undefined);
  defined.sort((x, y) => compareAt(x, y, depth));
  // sort() would move undefined last; it sorts first (a Set holds it at most once).
  return defined.length === values.length ? defined : [undefined, ...defined];
}

/** The first index at or after `from` whose element is not below `value` (binary search). */
export function lowerBound(values: readonly unknown[], value: unknown, from = 0): number {
  let lo = from;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareValues(values[mid], value) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `sorted` with the few `more` (sorted too) inserted, each found by binary search and the
 * runs between them copied as blocks: O(n + k log n) rather than a compare per element.
 * A value already in `sorted` is skipped; undefined when nothing was new.
 */
export function insertSorted(
  sorted: readonly unknown[],
  more: readonly unknown[],
): unknown[] | undefined {
  const pieces: unknown[][] = [];
  let from = 0;
  for (const value of more) {
    const at = lowerBound(sorted, value, from);
    if (at < sorted.length && compareValues(sorted[at], value) === 0) continue;
    pieces.push(sorted.slice(from, at), [value]);
    from = at;
  }
  if (pieces.length === 0) return undefined;
  pieces.push(sorted.slice(from));
  // flat(), not concat(...pieces): a spread of that many arguments overflows the stack.
  return pieces.flat();
}
