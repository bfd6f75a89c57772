/**
 * The cache segment: one SharedArrayBuffer per node, sized by the node's `cacheBytes`,
 * holding encoded values by key. The supervisor is its only writer (`CacheWriter`); every
 * executor thread reads it with a `CacheReader` and no message at all, and asks the
 * supervisor only on a miss. DESIGN.md, "The cache segment", says why it exists.
 *
 * This module is the segment's public face. The pieces: the byte layout (cache_layout.ts),
 * the key hash (key_hash.ts), the writer's index protocol (cache_segment_index.ts), the
 * writer's ring of records (cache_segment_queue.ts), the writer (cache_segment_writer.ts)
 * and the reader (cache_segment_reader.ts). Their headers state the invariants; the central
 * one is that a reader never decodes bytes the writer may have touched while they were
 * copied, and never hands out a view into shared memory.
 */
import { planLayout, READERS_MAX_DEFAULT, writeLayout } from './cache_layout.js';

export { CACHE_BYTES_MAX } from './cache_layout.js';
export { CacheReader, MISS } from './cache_segment_reader.js';
export { type CacheStats, CacheWriter } from './cache_segment_writer.js';

export interface CacheSegmentOptions {
  /** Total size of the shared buffer, header and index included. */
  bytes: number;
  /** How many reader indices (one hit/miss counter pair each) to lay out; default 64. */
  readersMax?: number;
}

/** Makes and lays out a cache buffer; throws ValidationError when `bytes` cannot hold one. */
export function createCacheBuffer(options: CacheSegmentOptions): SharedArrayBuffer {
  const layout = planLayout(options.bytes, options.readersMax ?? READERS_MAX_DEFAULT);
  const buffer = new SharedArrayBuffer(layout.totalBytes);
  writeLayout(buffer, layout);
  return buffer;
}
