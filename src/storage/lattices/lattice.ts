/**
 * The dispatch over every lattice kind: merge, bottom, equality and reveal. Merging two
 * kinds is a ValidationError naming both (a key's kind is fixed by its first write). LWW is
 * tested first because it is almost every write. Every merge returns its first argument
 * itself when the result equals it, so callers detect "nothing changed" by identity.
 */
import { ValidationError } from '../../errors.js';
import { causalBottom, causalEquals, concurrentValues, mergeCausal } from './causal.js';
import { counterBottom, counterEquals, counterValue, mergeCounter } from './counter.js';
import { lwwBottom, lwwEquals, mergeLww } from './lww.js';
import { mapBottom, mapEquals, mergeMap, revealMap } from './map.js';
import { maxBottom, maxEquals, mergeMax } from './max.js';
import { mergeMultiCausal, multiCausalBottom, multiCausalEquals } from './multi_causal.js';
import { mergeOrderedSet, orderedSetBottom, orderedSetEquals } from './ordered_set.js';
import { mergeSet, setBottom, setEquals, setValues } from './set.js';
import type { Lattice, LatticeKind, LatticeOf } from './types.js';
import { mergeVClock, vclockBottom, vclockEquals } from './vclock.js';

/** Pure; throws ValidationError when the kinds differ (anywhere inside a map too). */
export function merge<L extends Lattice>(a: L, b: L): L;
export function merge(a: Lattice, b: Lattice): Lattice;
export function merge(a: Lattice, b: Lattice): Lattice {
  if (a.kind === 'lww' && b.kind === 'lww') return mergeLww(a, b);
  if (a.kind !== b.kind) {
    throw new ValidationError(`cannot merge a ${a.kind} lattice with a ${b.kind} lattice`);
  }
  switch (a.kind) {
    case 'set':
      return mergeSet(a, b as typeof a);
    case 'orderedSet':
      return mergeOrderedSet(a, b as typeof a);
    case 'max':
      return mergeMax(a, b as typeof a);
    case 'map':
      return mergeMap(a, b as typeof a, merge);
    case 'counter':
      return mergeCounter(a, b as typeof a);
    case 'vclock':
      return mergeVClock(a, b as typeof a);
    case 'causal':
      return mergeCausal(a, b as typeof a);
    case 'multiCausal':
      return mergeMultiCausal(a, b as typeof a);
    default:
      return mergeLww(a, b as typeof a);
  }
}

const bottoms: { [K in LatticeKind]: () => LatticeOf<K> } = {
  lww: lwwBottom,
  set: setBottom,
  orderedSet: orderedSetBottom,
  max: maxBottom,
  map: mapBottom,
  counter: counterBottom,
  vclock: vclockBottom,
  causal: causalBottom,
  multiCausal: multiCausalBottom,
};

/** The identity of merge for the kind (a fresh object each call). */
export function bottom<K extends LatticeKind>(kind: K): LatticeOf<K> {
  const make = Object.hasOwn(bottoms, kind) ? bottoms[kind] : undefined;
  if (make === undefined) throw new ValidationError(`unknown lattice kind ${JSON.stringify(kind)}`);
  return make();
}

/** Canonical equality: same kind and the same state, whatever representatives it holds. */
export function latticeEquals(a: Lattice, b: Lattice): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'lww':
      return lwwEquals(a, b as typeof a);
    case 'set':
      return setEquals(a, b as typeof a);
    case 'orderedSet':
      return orderedSetEquals(a, b as typeof a);
    case 'max':
      return maxEquals(a, b as typeof a);
    case 'map':
      return mapEquals(a, b as typeof a, latticeEquals);
    case 'counter':
      return counterEquals(a, b as typeof a);
    case 'vclock':
      return vclockEquals(a, b as typeof a);
    case 'causal':
      return causalEquals(a, b as typeof a);
    case 'multiCausal':
      return multiCausalEquals(a, b as typeof a);
  }
}

/**
 * The plain value `get` returns. LWW values are returned as stored, not copied (the hot
 * path): callers must not mutate them.
 */
export function reveal(l: Lattice): unknown {
  switch (l.kind) {
    case 'lww':
      return l.value;
    case 'set':
      return setValues(l);
    case 'orderedSet':
      return l.values.slice();
    case 'max':
      return l.value;
    case 'map':
      return revealMap(l, reveal);
    case 'counter':
      return counterValue(l);
    case 'vclock':
      return Object.fromEntries(l.clock);
    case 'causal':
    case 'multiCausal':
      return concurrentValues(l.versions);
  }
}
