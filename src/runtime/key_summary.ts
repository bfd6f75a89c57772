/**
 * A compact summary of the keys a node's cache holds: a Bloom filter that nodes gossip so
 * the scheduler can prefer the node caching the keys a call references (REFERENCE.md,
 * Cloudburst's locality policy). `has(key)` never answers false for a key that was added;
 * it answers true for a key that was not with probability about (1 − e^(−k·n/m))^k for n
 * keys, m bits and k hashes — `sized(n, p)` picks m and k so that this is p.
 *
 * Invariants: `bits` is a positive multiple of 8 of at most BITS_MAX (1 MiB of bit
 * array), `hashes` is between 1 and HASHES_MAX, and the bit array is exactly bits/8
 * bytes. The wire form is: version byte, hash count byte, bit count as a little-endian
 * uint32, then the bit array (bit i is bit i%8 of byte i/8); `fromBytes` accepts only
 * that form, with the exact length.
 *
 * Why this way: the k bit positions come from two murmur3 hashes of the key (`ringHash`
 * with two fixed seeds) by double hashing, h1 + i·h2 mod m (Kirsch and Mitzenmacher show
 * this keeps the false-positive rate of k independent hashes), so every process, and any
 * other language, sets the same bits for the same key, and a key costs two hash passes
 * however large k is. A wrong "yes" only costs a cache miss on the chosen node; a wrong
 * "no" never happens, so locality is never lost for a cached key. Pure: no I/O.
 */
import { ValidationError } from '../errors.js';
import { ringHash } from './ring_hash.js';

/** The largest bit array: 1 MiB, i.e. 8 Mi bits (≈ 875k keys at 1%). */
export const SUMMARY_BYTES_MAX = 1 << 20;
export const BITS_MAX = SUMMARY_BYTES_MAX * 8;
/** More hashes than this only pay off below a false-positive rate of 2^-32. */
export const HASHES_MAX = 32;

const VERSION = 1;
const HEADER_BYTES = 6;
const SEED_1 = 0x9747b28c;
const SEED_2 = 0x5bd1e995;

function checkShape(bits: number, hashes: number): void {
  if (!Number.isInteger(bits) || bits < 8 || bits > BITS_MAX || bits % 8 !== 0) {
    throw new ValidationError(
      `key summary bits must be a multiple of 8 between 8 and ${BITS_MAX}, got ${bits}`,
    );
  }
  if (!Number.isInteger(hashes) || hashes < 1 || hashes > HASHES_MAX) {
    throw new ValidationError(
      `key summary hashes must be an integer between 1 and ${HASHES_MAX}, got ${hashes}`,
    );
  }
}

export class KeySummary {
  readonly bits: number;
  readonly hashes: number;
  readonly #array: Uint8Array;

  /** An empty summary of `bits` bits (a positive multiple of 8) probed by `hashes` hashes. */
  constructor(bits: number, hashes: number) {
    checkShape(bits, hashes);
    this.bits = bits;
    this.hashes = hashes;
    this.#array = new Uint8Array(bits / 8);
  }

  /**
   * A summary for about `expectedKeys` keys at `falsePositiveRate`: m = ⌈−n·ln p / ln²2⌉
   * bits (rounded up to whole bytes, at most BITS_MAX) and k = round(m/n · ln 2) hashes
   * (optimal for that m, so a capped m still gets its best k).
   */
  static sized(expectedKeys: number, falsePositiveRate: number): KeySummary {
    if (!Number.isInteger(expectedKeys) || expectedKeys < 0) {
      throw new ValidationError(
        `expected key count must be a non-negative integer, got ${expectedKeys}`,
      );
    }
    if (!(falsePositiveRate > 0 && falsePositiveRate < 1)) {
      throw new ValidationError(
        `false-positive rate must be between 0 and 1 (exclusive), got ${falsePositiveRate}`,
      );
    }
    const n = Math.max(1, expectedKeys);
    const ideal = Math.ceil((-n * Math.log(falsePositiveRate)) / (Math.LN2 * Math.LN2));
    const bits = Math.min(BITS_MAX, Math.max(8, Math.ceil(ideal / 8) * 8));
    const hashes = Math.round((bits / n) * Math.LN2);
    return new KeySummary(bits, Math.min(HASHES_MAX, Math.max(1, hashes)));
  }

  /** Parses the wire form; ValidationError when it is not exactly one. */
  static fromBytes(bytes: Uint8Array): KeySummary {
    if (!(bytes instanceof Uint8Array)) throw new ValidationError('key summary must be bytes');
    if (bytes.length < HEADER_BYTES) {
      throw new ValidationError(`key summary of ${bytes.length} bytes is shorter than its header`);
    }
    if (bytes[0] !== VERSION) {
      throw new ValidationError(`key summary has unknown version ${bytes[0]}`);
    }
    const hashes = bytes[1]!;
    const bits = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(2, true);
    checkShape(bits, hashes);
    if (bytes.length !== HEADER_BYTES + bits / 8) {
      throw new ValidationError(
        `key summary of ${bits} bits must be ${HEADER_BYTES + bits / 8} bytes, got ${bytes.length}`,
      );
    }
    const summary = new KeySummary(bits, hashes);
    summary.#array.set(bytes.subarray(HEADER_BYTES));
    return summary;
  }

  /** The wire form: a fresh copy, `6 + bits/8` bytes. */
  toBytes(): Uint8Array {
    const bytes = new Uint8Array(HEADER_BYTES + this.#array.length);
    bytes[0] = VERSION;
    bytes[1] = this.hashes;
    new DataView(bytes.buffer).setUint32(2, this.bits, true);
    bytes.set(this.#array, HEADER_BYTES);
    return bytes;
  }

  add(key: string): void {
    const array = this.#array;
    this.#probe(key, (bit) => {
      array[bit >>> 3]! |= 1 << (bit & 7);
      return true;
    });
  }

  /** False only when `key` was never added; true for an absent key at the stated rate. */
  has(key: string): boolean {
    const array = this.#array;
    return this.#probe(key, (bit) => (array[bit >>> 3]! & (1 << (bit & 7))) !== 0);
  }

  /** How many bits are set (for the fill estimate and for tests). */
  bitsSet(): number {
    let count = 0;
    for (const byte of this.#array) {
      let b = byte;
      while (b !== 0) {
        b &= b - 1;
        count += 1;
      }
    }
    return count;
  }

  /**
   * The false-positive rate the summary has now, from how full it is: (set bits / m)^k.
   * A scheduler can stop trusting a summary whose estimate has grown far past its target.
   */
  estimatedFalsePositiveRate(): number {
    return (this.bitsSet() / this.bits) ** this.hashes;
  }

  /** Visits the k bit positions of `key` while `visit` returns true; true if all did. */
  #probe(key: string, visit: (bit: number) => boolean): boolean {
    const m = this.bits;
    let bit = ringHash(key, SEED_1) % m;
    // Odd, so that with m a multiple of 8 the step is never 0 mod m.
    const step = (ringHash(key, SEED_2) | 1) >>> 0;
    const stride = step % m;
    for (let i = 0; i < this.hashes; i += 1) {
      if (!visit(bit)) return false;
      bit += stride;
      if (bit >= m) bit -= m;
    }
    return true;
  }
}
