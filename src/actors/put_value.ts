/**
 * How a write travels from the SDK or a function to the store: a plain value (stored as
 * last-writer-wins, stamped by the node that accepts the write) or a lattice spec built by
 * `lattice.*` (merged with what is there). `toPutValue` recognises lattice inputs by a
 * registered symbol, not `instanceof`, so a `lattice` imported from another copy of the
 * squall package inside a deployed module still counts.
 */
import { isLatticeInput, type LatticeSpec } from '../storage/index.js';

export type PutValue = { t: 'plain'; v: unknown } | { t: 'lattice'; spec: LatticeSpec };

export function toPutValue(value: unknown): PutValue {
  if (isLatticeInput(value)) return { t: 'lattice', spec: value.spec };
  return { t: 'plain', v: value };
}
