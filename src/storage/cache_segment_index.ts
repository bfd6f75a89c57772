/**
 * The writer's side of the cache segment's hash index: open addressing with linear probing
 * over the shared Int32Array of slots, with a per-slot sequence lock (see cache_layout.ts
 * for the slot fields).
 *
 * Invariants (the readers rely on them; see cache_segment_reader.ts):
 * - Every change to a slot's fields, and every change to arena bytes a slot points at, is
 *   bracketed by `#begin` (seq becomes odd) and `#end` (seq becomes even again). A reader
 *   that saw the same even seq before and after copying therefore copied bytes that no one
 *   touched in between.
 * - A key lives in at most one slot, except for the instant of a backward shift, when the
 *   moved entry is briefly in two slots with the same value.
 * - Deletion uses backward shift instead of tombstones, so a probe chain never grows with
 *   churn. A reader racing a shift can miss a key that is present; a false miss only costs
 *   the caller a message to the supervisor, never a wrong value.
 *
 * The writer keeps a JS mirror (`#records`, slot → record) so that it never has to read the
 * shared index back or compare keys in the arena: it is the only writer.
 */
import {
  EMPTY_OFFSET,
  SLOT_ACCESSED,
  SLOT_HASH,
  SLOT_INTS,
  SLOT_KEY_LENGTH,
  SLOT_OFFSET,
  SLOT_SEQ,
  SLOT_VALUE_BYTES,
} from './cache_layout.js';

/** One entry's bytes in the arena; `slot` is -1 once no slot points at them (dead). */
export interface CacheRecord {
  readonly key: string;
  readonly hash: number;
  offset: number;
  /** Arena bytes taken, aligned (key code units + value + padding). */
  readonly bytes: number;
  readonly valueBytes: number;
  slot: number;
}

export const DEAD_SLOT = -1;

const MOVED_FIELDS = [SLOT_HASH, SLOT_OFFSET, SLOT_KEY_LENGTH, SLOT_VALUE_BYTES, SLOT_ACCESSED];

export class IndexWriter {
  readonly #index: Int32Array;
  readonly #mask: number;
  readonly #records: (CacheRecord | undefined)[];

  constructor(index: Int32Array, slotCount: number) {
    this.#index = index;
    this.#mask = slotCount - 1;
    this.#records = new Array<CacheRecord | undefined>(slotCount).fill(undefined);
  }

  /** Publishes a record under a key the index does not hold. The caller keeps a free slot. */
  insert(record: CacheRecord): void {
    let slot = record.hash & this.#mask;
    while (this.#records[slot] !== undefined) slot = (slot + 1) & this.#mask;
    const base = this.#begin(slot);
    const index = this.#index;
    Atomics.store(index, base + SLOT_HASH, record.hash);
    Atomics.store(index, base + SLOT_OFFSET, record.offset);
    Atomics.store(index, base + SLOT_KEY_LENGTH, record.key.length);
    Atomics.store(index, base + SLOT_VALUE_BYTES, record.valueBytes);
    Atomics.store(index, base + SLOT_ACCESSED, 0);
    this.#end(slot);
    record.slot = slot;
    this.#records[slot] = record;
  }

  /** Points the slot of `old` (same key) at `record`'s bytes; `old` becomes dead. */
  replace(old: CacheRecord, record: CacheRecord): void {
    const slot = old.slot;
    const base = this.#begin(slot);
    Atomics.store(this.#index, base + SLOT_OFFSET, record.offset);
    Atomics.store(this.#index, base + SLOT_VALUE_BYTES, record.valueBytes);
    this.#end(slot);
    old.slot = DEAD_SLOT;
    record.slot = slot;
    this.#records[slot] = record;
  }

  /**
   * Moves a live record's bytes to `offset`: `copy` runs while the slot is odd, because
   * source and destination may overlap and readers may be copying the source.
   */
  move(record: CacheRecord, offset: number, copy: () => void): void {
    const base = this.#begin(record.slot);
    copy();
    Atomics.store(this.#index, base + SLOT_OFFSET, offset);
    this.#end(record.slot);
    record.offset = offset;
  }

  /** Removes a live record (backward shift); it becomes dead. */
  remove(record: CacheRecord): void {
    const mask = this.#mask;
    let hole = record.slot;
    record.slot = DEAD_SLOT;
    let probe = (hole + 1) & mask;
    for (let step = 1; step <= mask; step++) {
      const next = this.#records[probe];
      if (next === undefined) break;
      const home = next.hash & mask;
      // `next` may fill the hole only if the hole lies between its home and where it is.
      if (((probe - home) & mask) >= ((probe - hole) & mask)) {
        this.#copySlot(probe, hole);
        next.slot = hole;
        this.#records[hole] = next;
        hole = probe;
      }
      probe = (probe + 1) & mask;
    }
    const base = this.#begin(hole);
    Atomics.store(this.#index, base + SLOT_OFFSET, EMPTY_OFFSET);
    Atomics.store(this.#index, base + SLOT_ACCESSED, 0);
    this.#end(hole);
    this.#records[hole] = undefined;
  }

  /** The CLOCK reference bit readers set on a hit. */
  isAccessed(record: CacheRecord): boolean {
    return Atomics.load(this.#index, record.slot * SLOT_INTS + SLOT_ACCESSED) !== 0;
  }

  clearAccessed(record: CacheRecord): void {
    Atomics.store(this.#index, record.slot * SLOT_INTS + SLOT_ACCESSED, 0);
  }

  #copySlot(from: number, to: number): void {
    const index = this.#index;
    const source = from * SLOT_INTS;
    const base = this.#begin(to);
    for (const field of MOVED_FIELDS) {
      Atomics.store(index, base + field, Atomics.load(index, source + field));
    }
    this.#end(to);
  }

  #begin(slot: number): number {
    const base = slot * SLOT_INTS;
    const seq = Atomics.add(this.#index, base + SLOT_SEQ, 1);
    if ((seq & 1) !== 0) throw new Error(`cache slot ${slot} was already being written`);
    return base;
  }

  #end(slot: number): void {
    Atomics.add(this.#index, slot * SLOT_INTS + SLOT_SEQ, 1);
  }
}
