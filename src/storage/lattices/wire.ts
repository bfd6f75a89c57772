/**
 * The wire and disk form of lattices: compact arrays `[tag, ...fields]` (tags in
 * wire_tags.ts) holding no derived data (no canonical keys, no cached sorts), encoded with
 * the one codec. Decoding is for untrusted bytes: every field is checked, collections are
 * rebuilt through their constructors (so their invariants hold whatever order the sender
 * used), maps may nest only LATTICE_DEPTH_MAX deep, and any failure is a ValidationError.
 */
import { ValidationError } from '../../errors.js';
import { decode, encode } from '../codec.js';
import { causalFromWire, causalToWire } from './causal.js';
import { counterFromWire, counterToWire } from './counter.js';
import { lwwFromWire, lwwToWire } from './lww.js';
import { mapFromWire, mapToWire } from './map.js';
import { maxFromWire, maxToWire } from './max.js';
import { multiCausalFromWire, multiCausalToWire } from './multi_causal.js';
import { orderedSetFromWire, orderedSetToWire } from './ordered_set.js';
import { setFromWire, setToWire } from './set.js';
import type { Lattice } from './types.js';
import { vclockFromWire, vclockToWire } from './vclock.js';
import { describe, invalid } from './wire_check.js';
import { LATTICE_DEPTH_MAX } from './wire_tags.js';

export function toWire(l: Lattice): unknown {
  switch (l.kind) {
    case 'lww':
      return lwwToWire(l);
    case 'set':
      return setToWire(l);
    case 'orderedSet':
      return orderedSetToWire(l);
    case 'max':
      return maxToWire(l);
    case 'map':
      return mapToWire(l, toWire);
    case 'counter':
      return counterToWire(l);
    case 'vclock':
      return vclockToWire(l);
    case 'causal':
      return causalToWire(l);
    case 'multiCausal':
      return multiCausalToWire(l);
  }
}

/** Validates untrusted input; throws ValidationError on anything that is not a lattice. */
export function fromWire(x: unknown): Lattice {
  return fromWireAt(x, 0);
}

const readers: readonly ((x: readonly unknown[], depth: number) => Lattice)[] = [
  lwwFromWire,
  setFromWire,
  orderedSetFromWire,
  maxFromWire,
  (x, depth) => mapFromWire(x, (y) => fromWireAt(y, depth + 1)),
  counterFromWire,
  vclockFromWire,
  causalFromWire,
  multiCausalFromWire,
];

function fromWireAt(x: unknown, depth: number): Lattice {
  if (depth > LATTICE_DEPTH_MAX) {
    throw invalid('lattice', `maps nest deeper than ${LATTICE_DEPTH_MAX} levels`);
  }
  if (!Array.isArray(x) || x.length === 0) {
    throw invalid('lattice', `expected [tag, ...fields], got ${describe(x)}`);
  }
  const tag = x[0];
  const read = typeof tag === 'number' && Number.isInteger(tag) ? readers[tag] : undefined;
  if (read === undefined)
    throw invalid('lattice', `unknown tag ${typeof tag === 'number' ? tag : describe(tag)}`);
  return read(x, depth);
}

export function encodeLattice(l: Lattice): Uint8Array {
  return encode(toWire(l));
}

/** Validates; throws ValidationError on garbage, whatever the bytes are. */
export function decodeLattice(bytes: Uint8Array): Lattice {
  let x: unknown;
  try {
    x = decode(bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ValidationError(`malformed lattice bytes: ${reason}`);
  }
  return fromWire(x);
}
