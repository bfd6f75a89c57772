/**
 * The public face of the lattices: the types, the dispatch (merge, bottom, equality,
 * reveal), the wire form, the canonical value order, one constructor per kind, the helpers
 * the consistency protocols need (vector clocks, causal clocks, ranges), and the user-facing
 * builders with `materialize`. Nothing outside this folder imports its other files.
 */

export { canonicalKey } from './canonical_key.js';
export { causalClock, causalOf } from './causal.js';
export { compareValues, sortValues } from './compare_values.js';
export { conflictOrder } from './conflict_order.js';
export { counterOf, counterOfWriter, counterValue } from './counter.js';
export { isLatticeInput, LatticeInput, lattice } from './input.js';
export { bottom, latticeEquals, merge, reveal } from './lattice.js';
export { lwwOf } from './lww.js';
export { type MapEntries, mapOf } from './map.js';
export { materialize, type WriteStamp } from './materialize.js';
export { maxOf } from './max.js';
export {
  type DepsInput,
  type MultiCausalVersionInput,
  multiCausalOf,
} from './multi_causal.js';
export { orderedSetOf, orderedSetRange } from './ordered_set.js';
export { setDifference, setHas, setOf } from './set.js';
export { type LatticeSpec, specFromWire } from './spec.js';
export type {
  CausalLattice,
  CausalVersion,
  CounterLattice,
  Lattice,
  LatticeKind,
  LatticeOf,
  LwwLattice,
  MapLattice,
  MaxLattice,
  MultiCausalLattice,
  MultiCausalVersion,
  OrderedSetLattice,
  SetLattice,
  VClockLattice,
} from './types.js';
export { LATTICE_KINDS } from './types.js';
export { type ClockOrder, compareClocks, tick, vclockOf } from './vclock.js';
export { decodeLattice, encodeLattice, fromWire, toWire } from './wire.js';
