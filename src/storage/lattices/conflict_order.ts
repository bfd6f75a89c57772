/**
 * A total order on lattice values that cannot be merged because their kinds differ. Two
 * owners can each accept a first write of a different kind to one key (each refuses the
 * other kind only once it holds a value, and two first writes can cross): every owner, and
 * every replay of a data dir, then keeps the same one of the two — the greater by this
 * order, the kind first and then the wire bytes — so replicas converge and a log that
 * recorded the switch replays to the state the node had.
 */
import type { Lattice } from './types.js';
import { encodeLattice } from './wire.js';

const KIND_ORDER: readonly Lattice['kind'][] = [
  'lww',
  'max',
  'counter',
  'set',
  'orderedSet',
  'map',
  'vclock',
  'causal',
  'multiCausal',
];

/** Positive when `a` is kept over `b`, negative when `b` is, 0 when they are the same value. */
export function conflictOrder(a: Lattice, b: Lattice): number {
  const byKind = KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind);
  if (byKind !== 0) return byKind;
  return Buffer.compare(encodeLattice(a), encodeLattice(b));
}
