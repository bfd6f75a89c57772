/**
 * The shapes of every lattice: immutable plain data with a `kind` discriminant, so values
 * cross threads and the wire as data and every operation is a pure function (no classes,
 * no hidden state). Invariants each constructor establishes and every merge keeps:
 * - collections keyed by string (map, counter, vclock) iterate in ascending key order
 *   (UTF-16 code unit order), so reveal and the wire form are deterministic without sorting;
 * - counters and clocks hold no zero entries (absent means zero), so equal states have one form;
 * - sets hold one representative per canonical key; ordered sets and causal versions are kept
 *   in canonical order, and causal versions form an antichain (no version's clock dominates
 *   another's).
 * Nothing here is frozen at run time (freezing costs on the write path); the `readonly`
 * types are the contract, and merges never mutate their inputs. The one structure that is
 * not plain data is a set's `items` (set_items.ts): versions of a growing set share their
 * elements, so that adding to a large set does not copy it.
 */

import type { SetItems } from './set_items.js';

export type LatticeKind =
  | 'lww'
  | 'set'
  | 'orderedSet'
  | 'max'
  | 'map'
  | 'counter'
  | 'vclock'
  | 'causal'
  | 'multiCausal';

export const LATTICE_KINDS: readonly LatticeKind[] = [
  'lww',
  'set',
  'orderedSet',
  'max',
  'map',
  'counter',
  'vclock',
  'causal',
  'multiCausal',
];

/** Last writer wins: the larger `(ts, writer)` pair wins; a full tie falls to the value order. */
export interface LwwLattice {
  readonly kind: 'lww';
  readonly ts: number;
  readonly writer: string;
  readonly value: unknown;
}

/** A set; `items` holds each element by its canonical key (set_items.ts). */
export interface SetLattice {
  readonly kind: 'set';
  readonly items: SetItems;
}

/** A set kept sorted by the canonical value order, without duplicates. */
export interface OrderedSetLattice {
  readonly kind: 'orderedSet';
  readonly values: readonly unknown[];
}

/** The largest number seen; `undefined` is the bottom (nothing seen yet). */
export interface MaxLattice {
  readonly kind: 'max';
  readonly value: number | bigint | undefined;
}

/** String keys to lattices, merged key by key. */
export interface MapLattice {
  readonly kind: 'map';
  readonly entries: ReadonlyMap<string, Lattice>;
}

/** Grow-only counter: writer id to that writer's (positive, finite) total. */
export interface CounterLattice {
  readonly kind: 'counter';
  readonly counts: ReadonlyMap<string, number>;
}

/** Vector clock: node id to a positive safe integer. */
export interface VClockLattice {
  readonly kind: 'vclock';
  readonly clock: ReadonlyMap<string, number>;
}

export interface CausalVersion {
  readonly clock: VClockLattice;
  readonly value: unknown;
}

/** Single-key causal: the maximal versions (mutually concurrent or equal-clocked). */
export interface CausalLattice {
  readonly kind: 'causal';
  readonly versions: readonly CausalVersion[];
}

export interface MultiCausalVersion {
  readonly clock: VClockLattice;
  /** The versions of other keys this version depends on, ascending by key. */
  readonly deps: ReadonlyMap<string, VClockLattice>;
  readonly value: unknown;
}

/** Multi-key causal: like causal, each version carrying its dependencies. */
export interface MultiCausalLattice {
  readonly kind: 'multiCausal';
  readonly versions: readonly MultiCausalVersion[];
}

export type Lattice =
  | LwwLattice
  | SetLattice
  | OrderedSetLattice
  | MaxLattice
  | MapLattice
  | CounterLattice
  | VClockLattice
  | CausalLattice
  | MultiCausalLattice;

/** The lattice of one kind, e.g. `LatticeOf<'set'>` is `SetLattice`. */
export type LatticeOf<K extends LatticeKind> = Extract<Lattice, { kind: K }>;
