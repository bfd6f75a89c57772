/**
 * Map lattice: string keys → lattices, merged key by key. A key holding different kinds on
 * the two sides is a ValidationError naming the key, raised before anything is built, so a
 * failed merge leaves no partial result. Entries iterate in ascending key order. This module
 * is told how to merge, compare, reveal and encode the nested lattices (the dispatch passes
 * itself in) so that it does not import the dispatch and make a cycle.
 */
import { SquallError, ValidationError } from '../../errors.js';
import { compareStrings } from './compare_values.js';
import { entriesOf } from './counts.js';
import type { Lattice, MapLattice } from './types.js';
import { expectArray, expectLength, expectString, invalid } from './wire_check.js';
import { TAG_MAP } from './wire_tags.js';

export function mapBottom(): MapLattice {
  return { kind: 'map', entries: new Map() };
}

export type MapEntries = Iterable<readonly [string, Lattice]> | Readonly<Record<string, Lattice>>;

export function mapOf(entries: MapEntries): MapLattice {
  const list: [string, Lattice][] = [];
  const seen = new Set<string>();
  for (const [key, value] of entriesOf(entries)) {
    if (typeof key !== 'string') throw new ValidationError('map lattice keys must be strings');
    if (seen.has(key)) throw new ValidationError(`map lattice repeats key ${JSON.stringify(key)}`);
    seen.add(key);
    list.push([key, value]);
  }
  list.sort((x, y) => compareStrings(x[0], y[0]));
  return { kind: 'map', entries: new Map(list) };
}

export function mergeMap(
  a: MapLattice,
  b: MapLattice,
  mergeEntry: (x: Lattice, y: Lattice) => Lattice,
): MapLattice {
  if (b.entries.size === 0) return a;
  if (a.entries.size === 0) return b;
  let changed: Map<string, Lattice> | undefined;
  let added = false;
  for (const [key, y] of b.entries) {
    const x = a.entries.get(key);
    const merged = x === undefined ? y : mergeAt(key, x, y, mergeEntry);
    if (merged === x) continue;
    changed ??= new Map(a.entries);
    changed.set(key, merged);
    if (x === undefined) added = true;
  }
  if (changed === undefined) return a;
  if (!added) return { kind: 'map', entries: changed };
  return { kind: 'map', entries: new Map([...changed].sort((x, y) => compareStrings(x[0], y[0]))) };
}

function mergeAt(
  key: string,
  x: Lattice,
  y: Lattice,
  mergeEntry: (x: Lattice, y: Lattice) => Lattice,
): Lattice {
  try {
    return mergeEntry(x, y);
  } catch (error) {
    if (error instanceof SquallError && error.code === 'INVALID') {
      throw new ValidationError(`map key ${JSON.stringify(key)}: ${error.message}`);
    }
    throw error;
  }
}

export function mapEquals(
  a: MapLattice,
  b: MapLattice,
  equals: (x: Lattice, y: Lattice) => boolean,
): boolean {
  if (a.entries.size !== b.entries.size) return false;
  for (const [key, x] of a.entries) {
    const y = b.entries.get(key);
    if (y === undefined || !equals(x, y)) return false;
  }
  return true;
}

/** A plain object; built with defineProperty semantics so a key like "__proto__" is data. */
export function revealMap(l: MapLattice, reveal: (x: Lattice) => unknown): Record<string, unknown> {
  const pairs: [string, unknown][] = [];
  for (const [key, x] of l.entries) pairs.push([key, reveal(x)]);
  return Object.fromEntries(pairs);
}

export function mapToWire(l: MapLattice, toWire: (x: Lattice) => unknown): unknown[] {
  const flat: unknown[] = [];
  for (const [key, x] of l.entries) flat.push(key, toWire(x));
  return [TAG_MAP, flat];
}

export function mapFromWire(x: readonly unknown[], fromWire: (y: unknown) => Lattice): MapLattice {
  expectLength(x, 2, 2, 'map lattice');
  const flat = expectArray(x[1], 'map entries');
  if (flat.length % 2 !== 0) throw invalid('map entries', 'expected [key, lattice, ...] pairs');
  const pairs: [string, Lattice][] = [];
  for (let i = 0; i < flat.length; i += 2) {
    pairs.push([expectString(flat[i], 'map key'), fromWire(flat[i + 1])]);
  }
  return mapOf(pairs);
}
