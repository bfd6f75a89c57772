/**
 * The byte layout of the cache segment: one SharedArrayBuffer holding, in order,
 *
 *   header  HEADER_INTS int32: magic, version, the sizes below, the writer's claim, and the
 *           writer's entry count and bytes used (mirrored for monitoring);
 *   stats   float64: the writer's eviction and bypass counts, then one (hits, misses) pair
 *           per reader index, so each executor thread bumps only its own pair;
 *   index   slotCount slots of SLOT_INTS int32 (open addressing, linear probing);
 *   arena   the entries' bytes: the key's UTF-16 code units, then the encoded value, both
 *           starting on an ENTRY_ALIGN_BYTES boundary (see `keyBytes`).
 *
 * Everything is derived from the total size once, by `planLayout`, and written into the
 * header so a reader (another thread that only has the buffer) finds the same regions with
 * `readLayout`. Offsets are int32, so a segment is at most CACHE_BYTES_MAX. The slot count is
 * a power of two (the probe start is `hash & mask`) of about one slot per
 * ARENA_BYTES_PER_SLOT arena bytes, and at most ENTRIES_PER_SLOT_MAX of the slots are ever
 * used so probe chains stay short.
 */
import { ValidationError } from '../errors.js';

export const CACHE_MAGIC = 0x53514331; // 'SQC1'
export const CACHE_LAYOUT_VERSION = 1;

/** Header fields (int32 indices). */
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_TOTAL_BYTES = 2;
export const H_SLOT_COUNT = 3;
export const H_INDEX_OFFSET = 4;
export const H_ARENA_OFFSET = 5;
export const H_ARENA_BYTES = 6;
export const H_STATS_OFFSET = 7;
export const H_READERS_MAX = 8;
export const H_WRITER_CLAIMED = 9;
export const H_ENTRIES = 10;
export const H_BYTES_USED = 11;
export const H_ENTRIES_MAX = 12;
export const H_ENTRY_BYTES_MAX = 13;
export const HEADER_INTS = 16;
const HEADER_BYTES = HEADER_INTS * 4;

/** Stats fields (float64 indices); reader r's pair is at STATS_READERS + 2r. */
export const S_EVICTIONS = 0;
export const S_BYPASSES = 1;
export const STATS_READERS = 4;

/**
 * Slot fields (int32 indices within a slot). SEQ is even when the slot is stable and odd
 * while the writer changes it or the arena bytes it points at; OFFSET is EMPTY_OFFSET for a
 * free slot; ACCESSED is set by readers on a hit (the CLOCK reference bit).
 */
export const SLOT_SEQ = 0;
export const SLOT_HASH = 1;
export const SLOT_OFFSET = 2;
export const SLOT_KEY_LENGTH = 3;
export const SLOT_VALUE_BYTES = 4;
export const SLOT_ACCESSED = 5;
export const SLOT_INTS = 6;
export const EMPTY_OFFSET = -1;

export const ENTRY_ALIGN_BYTES = 8;
export const ARENA_BYTES_PER_SLOT = 256;
export const ENTRIES_PER_SLOT_MAX = 0.75;
/** An entry larger than this fraction of the arena bypasses the cache. */
export const ENTRY_ARENA_FRACTION_MAX = 1 / 8;
export const SLOT_COUNT_MIN = 64;
export const ARENA_BYTES_MIN = 4096;
export const READERS_MAX_DEFAULT = 64;
export const CACHE_BYTES_MAX = 2 ** 31 - 8;

export interface CacheLayout {
  totalBytes: number;
  slotCount: number;
  indexOffset: number;
  arenaOffset: number;
  arenaBytes: number;
  statsOffset: number;
  readersMax: number;
  entriesMax: number;
  entryBytesMax: number;
}

export function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

function nextPowerOfTwo(value: number): number {
  let power = 1;
  while (power < value) power *= 2;
  return power;
}

/** Derives every region from the total size; throws ValidationError when it cannot fit. */
export function planLayout(totalBytes: number, readersMax: number): CacheLayout {
  if (!Number.isSafeInteger(totalBytes) || totalBytes <= 0 || totalBytes > CACHE_BYTES_MAX) {
    throw new ValidationError(
      `cache bytes must be an integer in 1..${CACHE_BYTES_MAX}, got ${totalBytes}`,
    );
  }
  if (!Number.isSafeInteger(readersMax) || readersMax < 1 || readersMax > 65536) {
    throw new ValidationError(`readersMax must be an integer in 1..65536, got ${readersMax}`);
  }
  const statsOffset = HEADER_BYTES;
  const indexOffset = alignUp(statsOffset + (STATS_READERS + 2 * readersMax) * 8, 64);
  const slotBytes = SLOT_INTS * 4;
  const rest = totalBytes - indexOffset;
  const slotCount = nextPowerOfTwo(
    Math.max(SLOT_COUNT_MIN, Math.ceil(rest / (ARENA_BYTES_PER_SLOT + slotBytes))),
  );
  const arenaOffset = alignUp(indexOffset + slotCount * slotBytes, 64);
  const arenaBytes = Math.floor((totalBytes - arenaOffset) / ENTRY_ALIGN_BYTES) * ENTRY_ALIGN_BYTES;
  if (arenaBytes < ARENA_BYTES_MIN) {
    const needed = arenaOffset + ARENA_BYTES_MIN;
    throw new ValidationError(
      `cache of ${totalBytes} bytes is too small: at least ${needed} bytes are needed`,
    );
  }
  const entryBytesMax =
    Math.floor((arenaBytes * ENTRY_ARENA_FRACTION_MAX) / ENTRY_ALIGN_BYTES) * ENTRY_ALIGN_BYTES;
  const entriesMax = Math.floor(slotCount * ENTRIES_PER_SLOT_MAX);
  return {
    totalBytes,
    slotCount,
    indexOffset,
    arenaOffset,
    arenaBytes,
    statsOffset,
    readersMax,
    entriesMax,
    entryBytesMax,
  };
}

export function writeLayout(buffer: SharedArrayBuffer, layout: CacheLayout): void {
  const header = new Int32Array(buffer, 0, HEADER_INTS);
  header[H_VERSION] = CACHE_LAYOUT_VERSION;
  header[H_TOTAL_BYTES] = layout.totalBytes;
  header[H_SLOT_COUNT] = layout.slotCount;
  header[H_INDEX_OFFSET] = layout.indexOffset;
  header[H_ARENA_OFFSET] = layout.arenaOffset;
  header[H_ARENA_BYTES] = layout.arenaBytes;
  header[H_STATS_OFFSET] = layout.statsOffset;
  header[H_READERS_MAX] = layout.readersMax;
  header[H_ENTRIES_MAX] = layout.entriesMax;
  header[H_ENTRY_BYTES_MAX] = layout.entryBytesMax;
  const index = new Int32Array(buffer, layout.indexOffset, layout.slotCount * SLOT_INTS);
  for (let slot = 0; slot < layout.slotCount; slot++) {
    index[slot * SLOT_INTS + SLOT_OFFSET] = EMPTY_OFFSET;
  }
  // The magic goes last: a buffer is only recognised once it is fully laid out.
  Atomics.store(header, H_MAGIC, CACHE_MAGIC);
}

/** Reads the layout back from a buffer made by `createCacheBuffer`; throws ValidationError. */
export function readLayout(buffer: SharedArrayBuffer): CacheLayout {
  if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_BYTES) {
    throw new ValidationError('cache buffer must be a SharedArrayBuffer from createCacheBuffer');
  }
  const header = new Int32Array(buffer, 0, HEADER_INTS);
  if (Atomics.load(header, H_MAGIC) !== CACHE_MAGIC) {
    throw new ValidationError('buffer is not a cache segment (bad magic)');
  }
  if (header[H_VERSION] !== CACHE_LAYOUT_VERSION) {
    throw new ValidationError(`cache segment layout version ${header[H_VERSION]} is not supported`);
  }
  const field = (at: number): number => header[at] ?? 0;
  const layout: CacheLayout = {
    totalBytes: field(H_TOTAL_BYTES),
    slotCount: field(H_SLOT_COUNT),
    indexOffset: field(H_INDEX_OFFSET),
    arenaOffset: field(H_ARENA_OFFSET),
    arenaBytes: field(H_ARENA_BYTES),
    statsOffset: field(H_STATS_OFFSET),
    readersMax: field(H_READERS_MAX),
    entriesMax: field(H_ENTRIES_MAX),
    entryBytesMax: field(H_ENTRY_BYTES_MAX),
  };
  if (layout.totalBytes !== buffer.byteLength) {
    throw new ValidationError('cache segment header does not match the buffer size');
  }
  return layout;
}

/**
 * Where an entry's value starts, relative to the entry: after the key's code units, padded
 * so the value is 8-byte aligned. The alignment is a matter of speed, not taste: V8 copies
 * to or from a SharedArrayBuffer word by word only when source and destination are equally
 * aligned, and byte by byte otherwise (1 MB: 60 µs aligned, 520 µs misaligned, here).
 */
export function keyBytes(keyLength: number): number {
  return alignUp(keyLength * 2, ENTRY_ALIGN_BYTES);
}

/** The bytes an entry takes in the arena: aligned key code units plus the value, aligned. */
export function entryBytes(keyLength: number, valueBytes: number): number {
  return keyBytes(keyLength) + alignUp(valueBytes, ENTRY_ALIGN_BYTES);
}
