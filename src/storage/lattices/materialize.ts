/**
 * Turns a user's write (a spec) into the lattice to merge at the node that applies it.
 * Everything that is not already a lattice operation becomes one here: an LWW value takes
 * the write's stamp, and a counter increment "add n" becomes "this writer's total is now
 * t + n", t being what the store holds for that writer. The result is an ordinary lattice,
 * so replicas and caches apply it by plain merging, and applying it twice changes nothing.
 * The writer id must be one only this store applies increments for (a node or shard id),
 * or two nodes could both raise one total from the same t.
 */
import { counterOf } from './counter.js';
import { lwwOf } from './lww.js';
import { mapOf } from './map.js';
import { maxOf } from './max.js';
import { orderedSetOf } from './ordered_set.js';
import { setOf } from './set.js';
import { checkIncrement, type LatticeSpec } from './spec.js';
import type { Lattice } from './types.js';

export interface WriteStamp {
  /** A hybrid-logical-clock reading (hlc.ts), so later writes win across nodes. */
  ts: number;
  writer: string;
}

/**
 * `current` is what the store holds at that key (or undefined). When it is another kind,
 * the spec is materialized as if the key were empty and the merge that follows reports the
 * mismatch.
 */
export function materialize(
  spec: LatticeSpec,
  stamp: WriteStamp,
  current: Lattice | undefined,
): Lattice {
  switch (spec.kind) {
    case 'lww':
      return lwwOf(spec.value, stamp.ts, stamp.writer);
    case 'set':
      return setOf(spec.values);
    case 'orderedSet':
      return orderedSetOf(spec.values);
    case 'max':
      return maxOf(spec.value);
    case 'counter': {
      const total = current?.kind === 'counter' ? (current.counts.get(stamp.writer) ?? 0) : 0;
      return counterOf([[stamp.writer, total + checkIncrement(spec.by)]]);
    }
    case 'map': {
      const held = current?.kind === 'map' ? current.entries : undefined;
      return mapOf(
        Object.keys(spec.entries).map((key) => [
          key,
          materialize(spec.entries[key]!, stamp, held?.get(key)),
        ]),
      );
    }
  }
}
