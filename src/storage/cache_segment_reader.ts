/**
 * An executor's side of the cache segment: reads without sending a message.
 *
 * A read is a sequence-lock read of one slot: load the slot's seq (odd means the writer is
 * in it: try again), compare the key, copy the value's bytes into this reader's scratch
 * buffer, and load the seq again. Only if it is unchanged are the copied bytes decoded, so a
 * torn value can never reach the decoder; after READ_ATTEMPTS_MAX failed attempts the read
 * reports a miss rather than spin (the caller then asks the supervisor).
 *
 * Why it is built this way:
 * - Nothing on the hit path allocates in proportion to the value: the key is hashed and
 *   compared through `charCodeAt` against the UTF-16 code units stored in the arena, and the
 *   scratch buffer is reused and only grows (TOOLCHAIN.md: allocation dominates copying).
 * - Nothing returned aliases shared memory: values are decoded from the private scratch and
 *   the codec copies byte strings (`copyBuffers`), and `getBytes` returns a fresh copy.
 * - Each reader counts its hits and misses in its own stats pair, so threads never contend.
 * - The ordering argument relies on Atomics operations being sequentially consistent and on
 *   V8 not moving plain loads across them (the writer's side is in cache_segment_index.ts).
 */
import { ValidationError } from '../errors.js';
import {
  EMPTY_OFFSET,
  keyBytes,
  readLayout,
  SLOT_ACCESSED,
  SLOT_HASH,
  SLOT_INTS,
  SLOT_KEY_LENGTH,
  SLOT_OFFSET,
  SLOT_SEQ,
  SLOT_VALUE_BYTES,
  STATS_READERS,
} from './cache_layout.js';
import { decode, decodeOwned } from './codec.js';
import { hashKey } from './key_hash.js';

/** What `CacheReader.get` returns when the key is not (or not safely) readable. */
export const MISS: unique symbol = Symbol('squall.cache.miss');

export const READ_ATTEMPTS_MAX = 64;
const SCRATCH_BYTES_INITIAL = 4096;
/** Values up to this size are copied byte by byte: cheaper than making a subarray view. */
const BYTE_LOOP_MAX = 64;
const VIEWS = 16;
/** Values this large are read into a buffer of their own rather than the scratch buffer. */
const LARGE_BYTES_MIN = 64 * 1024;

const ABSENT = -1;
const RETRY = -2;

export class CacheReader {
  readonly #index: Int32Array;
  readonly #arena8: Uint8Array;
  readonly #arena16: Uint16Array;
  readonly #arenaBytes: number;
  readonly #mask: number;
  readonly #stats: Float64Array;
  readonly #hitsAt: number;
  #scratch = new Uint8Array(SCRATCH_BYTES_INITIAL);
  /** A large value's own copy, from a read until `get` hands it out (see #copyLarge). */
  #large: Uint8Array | undefined;
  #largeAttempt: Uint8Array | undefined;
  /**
   * Exact-length views of the scratch buffer, by length modulo VIEWS. Reusing one saves
   * allocating the view and the DataView cbor-x hangs on it (a third of a small get).
   */
  #views: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(VIEWS).fill(undefined);

  constructor(buffer: SharedArrayBuffer, readerIndex: number) {
    const layout = readLayout(buffer);
    if (!Number.isInteger(readerIndex) || readerIndex < 0 || readerIndex >= layout.readersMax) {
      throw new ValidationError(
        `readerIndex must be an integer in 0..${layout.readersMax - 1}, got ${readerIndex}`,
      );
    }
    this.#index = new Int32Array(buffer, layout.indexOffset, layout.slotCount * SLOT_INTS);
    this.#arena8 = new Uint8Array(buffer, layout.arenaOffset, layout.arenaBytes);
    this.#arena16 = new Uint16Array(buffer, layout.arenaOffset, layout.arenaBytes / 2);
    this.#arenaBytes = layout.arenaBytes;
    this.#mask = layout.slotCount - 1;
    this.#stats = new Float64Array(
      buffer,
      layout.statsOffset,
      STATS_READERS + 2 * layout.readersMax,
    );
    this.#hitsAt = STATS_READERS + 2 * readerIndex;
  }

  /** Decoded value or MISS. Never returns a torn value; never returns a view into the SAB. */
  get(key: string): unknown {
    const length = this.#read(key);
    if (length < 0) return MISS;
    const large = this.#large;
    if (large !== undefined) {
      this.#large = undefined;
      return decodeOwned(large);
    }
    const slot = length & (VIEWS - 1);
    let view = this.#views[slot];
    if (view === undefined || view.length !== length) {
      view = this.#scratch.subarray(0, length);
      this.#views[slot] = view;
    }
    return decode(view);
  }

  /** Raw bytes copied into a fresh Uint8Array (for tests and for forwarding). */
  getBytes(key: string): Uint8Array | undefined {
    const length = this.#read(key);
    if (length < 0) return undefined;
    const large = this.#large;
    this.#large = undefined;
    return large ?? this.#scratch.slice(0, length);
  }

  /**
   * Copies the key's value into the scratch buffer (or, when large, into `#large`);
   * returns its length, or ABSENT.
   */
  #read(key: string): number {
    this.#large = undefined;
    try {
      return this.#readAttempts(key);
    } finally {
      this.#largeAttempt = undefined;
    }
  }

  #readAttempts(key: string): number {
    const hash = hashKey(key);
    for (let attempt = 0; attempt < READ_ATTEMPTS_MAX; attempt++) {
      const length = this.#tryRead(key, hash);
      if (length !== RETRY) {
        this.#count(length >= 0 ? 0 : 1);
        return length;
      }
    }
    this.#count(1);
    return ABSENT;
  }

  #count(which: 0 | 1): void {
    const at = this.#hitsAt + which;
    this.#stats[at] = (this.#stats[at] ?? 0) + 1;
  }

  #tryRead(key: string, hash: number): number {
    const index = this.#index;
    const mask = this.#mask;
    let slot = hash & mask;
    for (let probe = 0; probe <= mask; probe++) {
      const base = slot * SLOT_INTS;
      const seq = Atomics.load(index, base + SLOT_SEQ);
      if ((seq & 1) !== 0) return RETRY;
      const offset = Atomics.load(index, base + SLOT_OFFSET);
      if (offset === EMPTY_OFFSET) return ABSENT;
      if (
        Atomics.load(index, base + SLOT_HASH) === hash &&
        Atomics.load(index, base + SLOT_KEY_LENGTH) === key.length
      ) {
        const length = this.#copyIfKey(key, base, seq, offset);
        if (length !== ABSENT) return length;
      }
      slot = (slot + 1) & mask;
    }
    return ABSENT;
  }

  /** Compares the key and copies the value if it matches; ABSENT on another key, RETRY. */
  #copyIfKey(key: string, base: number, seq: number, offset: number): number {
    const index = this.#index;
    const valueBytes = Atomics.load(index, base + SLOT_VALUE_BYTES);
    const start = offset + keyBytes(key.length);
    const end = start + valueBytes;
    if (offset < 0 || (offset & 7) !== 0 || valueBytes <= 0 || end > this.#arenaBytes) {
      // Fields read while the writer changed them; a stable slot is always in bounds.
      if (Atomics.load(index, base + SLOT_SEQ) !== seq) return RETRY;
      throw new Error(`cache slot holds an out-of-range entry (${offset}+${valueBytes})`);
    }
    const arena16 = this.#arena16;
    const keyAt = offset >> 1;
    for (let i = 0; i < key.length; i++) {
      if (arena16[keyAt + i] !== key.charCodeAt(i)) {
        return Atomics.load(index, base + SLOT_SEQ) === seq ? ABSENT : RETRY;
      }
    }
    if (valueBytes >= LARGE_BYTES_MIN) return this.#copyLarge(base, seq, start, end);
    if (valueBytes > this.#scratch.length) this.#grow(valueBytes);
    const scratch = this.#scratch;
    if (valueBytes <= BYTE_LOOP_MAX) {
      const arena8 = this.#arena8;
      for (let i = 0; i < valueBytes; i++) scratch[i] = arena8[start + i] ?? 0;
    } else {
      scratch.set(this.#arena8.subarray(start, end));
    }
    if (Atomics.load(index, base + SLOT_SEQ) !== seq) return RETRY;
    if (index[base + SLOT_ACCESSED] === 0) Atomics.store(index, base + SLOT_ACCESSED, 1);
    return valueBytes;
  }

  /**
   * A large value is copied once, straight into a buffer of its own that `get` decodes
   * in place (a Uint8Array value becomes a view of it): one copy instead of two. The buffer
   * comes from `allocUnsafeSlow` because zero-filling a fresh multi-megabyte buffer costs
   * more than copying into it (TOOLCHAIN.md); every byte is overwritten before use.
   */
  #copyLarge(base: number, seq: number, start: number, end: number): number {
    const length = end - start;
    // A retried read reuses the buffer of the attempt before.
    const into =
      this.#largeAttempt?.length === length
        ? this.#largeAttempt
        : new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
    into.set(this.#arena8.subarray(start, end));
    this.#largeAttempt = into;
    if (Atomics.load(this.#index, base + SLOT_SEQ) !== seq) return RETRY;
    this.#large = into;
    if (this.#index[base + SLOT_ACCESSED] === 0)
      Atomics.store(this.#index, base + SLOT_ACCESSED, 1);
    return length;
  }

  #grow(bytes: number): void {
    let length = this.#scratch.length;
    while (length < bytes) length *= 2;
    this.#scratch = new Uint8Array(length);
    this.#views.fill(undefined);
  }
}
