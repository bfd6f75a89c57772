/**
 * The supervisor's side of the cache segment: the one writer of the shared buffer.
 *
 * The arena is a log-structured ring. A put appends the entry at `#head`; when the space
 * ahead of the head is taken, the oldest record (the queue's front) is retired: a dead one
 * (overwritten or deleted) is just dropped, a live one is evicted, unless a reader has
 * touched it since it was last considered (its CLOCK bit), in which case it gets a second
 * chance and is moved to the head. No free lists, O(1) amortised per put, hot keys stay.
 * Second chances are bounded per put (count and bytes), so a put never rewrites the arena.
 *
 * Invariants:
 * - Live records occupy disjoint arena ranges, so `bytesUsed` ≤ `bytesMax` (the arena) by
 *   construction; records in the queue are in arena order, oldest first.
 * - New bytes are only ever written into space no slot points at; bytes a slot points at
 *   are only moved inside that slot's odd sequence window (IndexWriter.move). That is what
 *   makes the readers' sequence check sound.
 * - At most `entriesMax` keys are held, so the index always has a free slot and short probes.
 * - Exactly one CacheWriter per buffer: the constructor claims the buffer, because the
 *   writer's bookkeeping lives in this object, not in shared memory.
 * - `onEvict` runs only after a put has finished, so it may call back into the writer.
 */
import { ValidationError } from '../errors.js';
import {
  type CacheLayout,
  entryBytes,
  H_BYTES_USED,
  H_ENTRIES,
  H_WRITER_CLAIMED,
  HEADER_INTS,
  keyBytes,
  readLayout,
  S_BYPASSES,
  S_EVICTIONS,
  SLOT_INTS,
  STATS_READERS,
} from './cache_layout.js';
import { type CacheRecord, DEAD_SLOT, IndexWriter } from './cache_segment_index.js';
import { RecordQueue } from './cache_segment_queue.js';
import { hashKey } from './key_hash.js';

/** How many records one put may move to the head instead of evicting them. */
export const SECOND_CHANCES_PER_PUT = 8;
/**
 * Bytes one put may move: this multiple of its own size, but at least one entry of the
 * largest size, so that a hot large entry is kept even when small puts push the ring.
 */
const SECOND_CHANCE_BYTES_FACTOR = 4;

/** Misaligned values above this size are staged through an aligned buffer of STAGING_BYTES. */
const STAGING_BYTES_MIN = 256;
const STAGING_BYTES = 64 * 1024;

export interface CacheStats {
  entries: number;
  bytesUsed: number;
  bytesMax: number;
  evictions: number;
  bypasses: number;
  hits: number;
  misses: number;
}

export class CacheWriter {
  /** Called with each key evicted to make room (not for delete or bypass). */
  onEvict?: (key: string) => void;

  readonly #layout: CacheLayout;
  readonly #header: Int32Array;
  readonly #stats: Float64Array;
  readonly #arena8: Uint8Array;
  readonly #arena16: Uint16Array;
  readonly #slots: IndexWriter;
  readonly #live = new Map<string, CacheRecord>();
  readonly #ring = new RecordQueue<CacheRecord>();
  #head = 0;
  #bytesUsed = 0;
  #evicted: string[] = [];
  readonly #staging = new Uint8Array(STAGING_BYTES);
  #movesLeft = 0;
  #moveBytesLeft = 0;
  /** The key being put: its own old record is replaced, not evicted, if the ring reaches it. */
  #putting: string | undefined;

  constructor(buffer: SharedArrayBuffer) {
    const layout = readLayout(buffer);
    this.#layout = layout;
    this.#header = new Int32Array(buffer, 0, HEADER_INTS);
    if (Atomics.compareExchange(this.#header, H_WRITER_CLAIMED, 0, 1) !== 0) {
      throw new ValidationError('this cache buffer already has a CacheWriter (one writer only)');
    }
    this.#stats = new Float64Array(
      buffer,
      layout.statsOffset,
      STATS_READERS + 2 * layout.readersMax,
    );
    this.#arena8 = new Uint8Array(buffer, layout.arenaOffset, layout.arenaBytes);
    this.#arena16 = new Uint16Array(buffer, layout.arenaOffset, layout.arenaBytes / 2);
    const index = new Int32Array(buffer, layout.indexOffset, layout.slotCount * SLOT_INTS);
    this.#slots = new IndexWriter(index, layout.slotCount);
  }

  /**
   * Stores the encoded value; returns false (and removes any older copy of the key) when the
   * entry is larger than `entryBytesMax`. Evicts as needed to stay within the byte budget.
   */
  put(key: string, encoded: Uint8Array): boolean {
    if (typeof key !== 'string') throw new ValidationError('cache key must be a string');
    if (!(encoded instanceof Uint8Array) || encoded.length === 0) {
      throw new ValidationError('cache value must be a non-empty encoded Uint8Array');
    }
    const bytes = entryBytes(key.length, encoded.length);
    if (bytes > this.#layout.entryBytesMax) {
      this.#remove(key);
      this.#stats[S_BYPASSES] = (this.#stats[S_BYPASSES] ?? 0) + 1;
      this.#mirror();
      return false;
    }
    this.#movesLeft = SECOND_CHANCES_PER_PUT;
    this.#moveBytesLeft = Math.max(SECOND_CHANCE_BYTES_FACTOR * bytes, this.#layout.entryBytesMax);
    if (!this.#live.has(key)) this.#makeIndexRoom();
    this.#putting = key;
    const offset = this.#reserve(bytes);
    this.#putting = undefined;
    const keyAt = offset / 2;
    for (let i = 0; i < key.length; i++) this.#arena16[keyAt + i] = key.charCodeAt(i);
    this.#copyIn(encoded, offset + keyBytes(key.length));
    const record: CacheRecord = {
      key,
      hash: hashKey(key),
      offset,
      bytes,
      valueBytes: encoded.length,
      slot: DEAD_SLOT,
    };
    this.#head = offset + bytes;
    this.#ring.push(record);
    this.#publish(record);
    this.#mirror();
    this.#flushEvicted();
    return true;
  }

  delete(key: string): boolean {
    const removed = this.#remove(key);
    if (removed) this.#mirror();
    return removed;
  }

  has(key: string): boolean {
    return this.#live.has(key);
  }

  keys(): IterableIterator<string> {
    return this.#live.keys();
  }

  /** The arena size an entry (key code units + value, aligned) may take before it bypasses. */
  get entryBytesMax(): number {
    return this.#layout.entryBytesMax;
  }

  stats(): CacheStats {
    let hits = 0;
    let misses = 0;
    for (let reader = 0; reader < this.#layout.readersMax; reader++) {
      hits += this.#stats[STATS_READERS + 2 * reader] ?? 0;
      misses += this.#stats[STATS_READERS + 2 * reader + 1] ?? 0;
    }
    return {
      entries: this.#live.size,
      bytesUsed: this.#bytesUsed,
      bytesMax: this.#layout.arenaBytes,
      evictions: this.#stats[S_EVICTIONS] ?? 0,
      bypasses: this.#stats[S_BYPASSES] ?? 0,
      hits,
      misses,
    };
  }

  /**
   * Copies a value into free arena space. cbor-x hands out values carved from its slab at
   * any byte offset, and V8 copies into shared memory byte by byte when the source is not
   * aligned like the destination, so a misaligned large value goes through a small aligned
   * private buffer first (two fast copies beat one slow one by 5x).
   */
  #copyIn(encoded: Uint8Array, at: number): void {
    if ((encoded.byteOffset & 7) === 0 || encoded.length <= STAGING_BYTES_MIN) {
      this.#arena8.set(encoded, at);
      return;
    }
    const staging = this.#staging;
    for (let done = 0; done < encoded.length; done += staging.length) {
      const chunk = Math.min(staging.length, encoded.length - done);
      staging.set(encoded.subarray(done, done + chunk));
      this.#arena8.set(chunk === staging.length ? staging : staging.subarray(0, chunk), at + done);
    }
  }

  #publish(record: CacheRecord): void {
    const old = this.#live.get(record.key);
    if (old === undefined) {
      this.#slots.insert(record);
      this.#bytesUsed += record.bytes;
    } else {
      this.#slots.replace(old, record);
      this.#bytesUsed += record.bytes - old.bytes;
    }
    this.#live.set(record.key, record);
  }

  #remove(key: string): boolean {
    const record = this.#live.get(key);
    if (record === undefined) return false;
    this.#slots.remove(record);
    this.#live.delete(key);
    this.#bytesUsed -= record.bytes;
    return true;
  }

  /** Returns an offset with `bytes` of free space, retiring the oldest records as needed. */
  #reserve(bytes: number): number {
    const arenaBytes = this.#layout.arenaBytes;
    for (;;) {
      const front = this.#ring.peek();
      if (front === undefined) {
        this.#head = 0;
        return 0;
      }
      if (this.#head > front.offset) {
        // Not wrapped: free space is [head, end) and [0, front).
        if (this.#head + bytes <= arenaBytes) return this.#head;
        this.#head = 0;
      } else if (front.offset - this.#head >= bytes) {
        // Wrapped: free space is [head, front).
        return this.#head;
      } else {
        this.#retireFront();
      }
    }
  }

  #makeIndexRoom(): void {
    while (this.#live.size >= this.#layout.entriesMax) this.#retireFront();
  }

  #retireFront(): void {
    const record = this.#ring.shift();
    if (record === undefined || record.slot === DEAD_SLOT) return;
    if (record.key === this.#putting) {
      this.#remove(record.key);
      return;
    }
    const movable = this.#movesLeft > 0 && record.bytes <= this.#moveBytesLeft;
    if (movable && this.#slots.isAccessed(record)) this.#giveSecondChance(record);
    else this.#evict(record);
  }

  /** Moves a recently read record from the front to the head and clears its CLOCK bit. */
  #giveSecondChance(record: CacheRecord): void {
    this.#movesLeft--;
    this.#moveBytesLeft -= record.bytes;
    this.#slots.clearAccessed(record);
    if (this.#head > record.offset && this.#head + record.bytes > this.#layout.arenaBytes) {
      this.#head = 0;
    }
    const to = this.#head;
    const from = record.offset;
    if (to !== from) {
      this.#slots.move(record, to, () => this.#arena8.copyWithin(to, from, from + record.bytes));
    }
    this.#head = to + record.bytes;
    this.#ring.push(record);
  }

  #evict(record: CacheRecord): void {
    this.#slots.remove(record);
    this.#live.delete(record.key);
    this.#bytesUsed -= record.bytes;
    this.#stats[S_EVICTIONS] = (this.#stats[S_EVICTIONS] ?? 0) + 1;
    this.#evicted.push(record.key);
  }

  #mirror(): void {
    Atomics.store(this.#header, H_ENTRIES, this.#live.size);
    Atomics.store(this.#header, H_BYTES_USED, this.#bytesUsed);
  }

  #flushEvicted(): void {
    if (this.#evicted.length === 0) return;
    const evicted = this.#evicted;
    this.#evicted = [];
    const onEvict = this.onEvict;
    if (onEvict === undefined) return;
    for (const key of evicted) onEvict(key);
  }
}
