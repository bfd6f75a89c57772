/**
 * What a user's write says, before it becomes a lattice: plain data that crosses threads and
 * the wire as is (`lattice.*` builders make it, materialize.ts turns it into a lattice at
 * the node that applies the write). `specFromWire` is the gate for untrusted specs: it
 * checks every field and rebuilds the spec from fresh objects, so nothing it returns
 * aliases the input and no "__proto__" key can reach a prototype.
 */
import { ValidationError } from '../../errors.js';
import { canonicalKey } from './canonical_key.js';
import { checkMaxValue } from './max.js';
import { describe, expectArray, invalid } from './wire_check.js';
import { LATTICE_DEPTH_MAX } from './wire_tags.js';

export type LatticeSpec =
  | { readonly kind: 'lww'; readonly value: unknown }
  | { readonly kind: 'set'; readonly values: readonly unknown[] }
  | { readonly kind: 'orderedSet'; readonly values: readonly unknown[] }
  | { readonly kind: 'max'; readonly value: number | bigint }
  | { readonly kind: 'map'; readonly entries: Readonly<Record<string, LatticeSpec>> }
  | { readonly kind: 'counter'; readonly by: number };

export type LatticeSpecKind = LatticeSpec['kind'];

/** Returns `by` if it is a valid increment (a finite number >= 0), else throws. */
export function checkIncrement(by: unknown): number {
  if (typeof by !== 'number' || !Number.isFinite(by) || by < 0) {
    throw new ValidationError('a counter increment must be a finite number >= 0');
  }
  return by + 0;
}

/** Checks that every element can be stored (has a canonical form); returns a copy. */
export function checkElements(values: Iterable<unknown>): unknown[] {
  const copy = [...values];
  for (const value of copy) canonicalKey(value);
  return copy;
}

export function specFromWire(x: unknown): LatticeSpec {
  return specAt(x, 0);
}

function specAt(x: unknown, depth: number): LatticeSpec {
  if (depth > LATTICE_DEPTH_MAX) throw invalid('lattice spec', 'maps nest too deeply');
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    throw invalid('lattice spec', `expected an object, got ${describe(x)}`);
  }
  const record = x as Record<string, unknown>;
  switch (record.kind) {
    case 'lww':
      return { kind: 'lww', value: record.value };
    case 'set':
    case 'orderedSet':
      return { kind: record.kind, values: checkElements(expectArray(record.values, 'values')) };
    case 'max':
      return { kind: 'max', value: checkMaxValue(record.value) };
    case 'counter':
      return { kind: 'counter', by: checkIncrement(record.by) };
    case 'map':
      return { kind: 'map', entries: entriesAt(record.entries, depth) };
    default:
      throw invalid('lattice spec', `unknown kind ${kindName(record.kind)}`);
  }
}

/** Names an untrusted kind without calling into it (String() may run a hostile toString). */
function kindName(kind: unknown): string {
  return typeof kind === 'string' ? JSON.stringify(kind) : describe(kind);
}

function entriesAt(x: unknown, depth: number): Record<string, LatticeSpec> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    throw invalid('map spec', `expected an object of entries, got ${describe(x)}`);
  }
  const pairs: [string, LatticeSpec][] = [];
  for (const key of Object.keys(x)) {
    pairs.push([key, specAt((x as Record<string, unknown>)[key], depth + 1)]);
  }
  return Object.fromEntries(pairs);
}
