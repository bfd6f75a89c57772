/**
 * Fingerprints for anti-entropy. Each stored entry gets a 32-bit fingerprint of its key and
 * its lattice's canonical encoding (equal lattices encode equally, so equal replicas have
 * equal fingerprints); a bucket's digest is the sum of its entries' fingerprints modulo
 * 2^32, so it can be computed in any order. Fingerprints are cached per key and dropped
 * when the key changes, so a digest round costs a hash only for keys written since the last.
 */
import { encodeLattice, type Lattice } from '../storage/index.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export function fingerprint(key: string, value: Lattice): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) {
    hash = Math.imul(hash ^ key.charCodeAt(i), FNV_PRIME);
  }
  hash = Math.imul(hash ^ 0xff, FNV_PRIME);
  const bytes = encodeLattice(value);
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, FNV_PRIME);
  return finalMix(hash);
}

/**
 * murmur3's finaliser. Without it a change in a value's last byte moves the FNV hash by a
 * multiple of the prime, and two keys of one bucket changing in opposite directions cancel
 * out in the bucket's sum — anti-entropy then never sees them (found by the simulator).
 */
function finalMix(hash: number): number {
  let h = hash;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class FingerprintCache {
  readonly #cache = new Map<string, number>();

  of(key: string, value: Lattice): number {
    let fp = this.#cache.get(key);
    if (fp === undefined) {
      fp = fingerprint(key, value);
      this.#cache.set(key, fp);
    }
    return fp;
  }

  forget(key: string): void {
    this.#cache.delete(key);
  }
}

/** Bucket sums over the given entries. */
export function bucketSums(
  entries: Iterable<[key: string, value: Lattice]>,
  buckets: number,
  bucketOf: (key: string) => number,
  fingerprints: FingerprintCache,
): number[] {
  const sums = new Array<number>(buckets).fill(0);
  for (const [key, value] of entries) {
    const b = bucketOf(key);
    sums[b] = (sums[b]! + fingerprints.of(key, value)) >>> 0;
  }
  return sums;
}
