/**
 * The hash of a cache key, computed over the string's UTF-16 code units with FNV-1a and a
 * final avalanche (murmur3's fmix32). Both sides of the cache segment (the supervisor that
 * writes and every executor that reads) must agree on it bit for bit, so it depends on
 * nothing but the code units. It walks `charCodeAt` instead of encoding to UTF-8 because the
 * reader's hot path must not allocate; the final mix matters because the index is masked to
 * its low bits and plain FNV-1a spreads short, similar keys (`user:1`, `user:2`) poorly there.
 */

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** A 32-bit hash of the key's code units, as a signed int32 (it is stored in an Int32Array). */
export function hashKey(key: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash | 0;
}
