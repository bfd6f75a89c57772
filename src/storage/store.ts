/**
 * The store shard: the lattice values of the keys this node owns. Every write is a merge,
 * so replicas, gossip and retries converge whatever order they arrive in, and every write
 * is checked completely (key, kind, limits) before anything is stored, so a refused write
 * leaves the shard exactly as it was. "Changed" is an identity test: lattice merges return
 * their first argument itself when the result equals it.
 * Limits: keys are 1 to KEY_BYTES_MAX UTF-8 bytes; `keysMax` keys (a new key past it is
 * refused with UnavailableError: the node is full, the input is not at fault);
 * `valueBytesMax`, when given, bounds the encoded size of each stored lattice (checking it
 * encodes each changed value once, so it is off unless asked for).
 */
import { UnavailableError, ValidationError } from '../errors.js';
import {
  encodeLattice,
  type Lattice,
  type LatticeSpec,
  materialize,
  merge,
  type WriteStamp,
} from './lattices/index.js';

export const KEY_BYTES_MAX = 1024;

export interface StoreShardOptions {
  keysMax?: number | undefined;
  valueBytesMax?: number | undefined;
}

export interface MergeResult {
  value: Lattice;
  changed: boolean;
}

export class StoreShard {
  readonly #values = new Map<string, Lattice>();
  readonly #keysMax: number;
  readonly #valueBytesMax: number;

  constructor(options: StoreShardOptions = {}) {
    this.#keysMax = options.keysMax ?? Number.POSITIVE_INFINITY;
    this.#valueBytesMax = options.valueBytesMax ?? Number.POSITIVE_INFINITY;
    if (!(this.#keysMax >= 0) || !(this.#valueBytesMax >= 0)) {
      throw new ValidationError('keysMax and valueBytesMax must be numbers >= 0');
    }
  }

  get(key: string): Lattice | undefined {
    return this.#values.get(key);
  }

  /** Throws ValidationError (and changes nothing) when the key holds another lattice kind. */
  merge(key: string, incoming: Lattice): MergeResult {
    checkKey(key);
    const current = this.#values.get(key);
    if (current === undefined) {
      if (this.#values.size >= this.#keysMax) {
        throw new UnavailableError(`store shard is full (${this.#keysMax} keys)`);
      }
      this.#checkSize(key, incoming);
      this.#values.set(key, incoming);
      return { value: incoming, changed: true };
    }
    const value = merge(current, incoming);
    if (value === current) return { value, changed: false };
    this.#checkSize(key, value);
    this.#values.set(key, value);
    return { value, changed: true };
  }

  /**
   * Stores `next`, which the caller merged from `previous`, the value it read here: no
   * second merge when that is still the value held (else `next` is merged as usual).
   */
  commit(key: string, previous: Lattice | undefined, next: Lattice): MergeResult {
    if (previous === undefined || this.#values.get(key) !== previous) return this.merge(key, next);
    if (next === previous) return { value: previous, changed: false };
    this.#checkSize(key, next);
    this.#values.set(key, next);
    return { value: next, changed: true };
  }

  /**
   * A user's write: materialized against the current value, then merged. `incoming` is
   * the write as a lattice (what replicas need to apply it too).
   */
  write(key: string, spec: LatticeSpec, stamp: WriteStamp): MergeResult & { incoming: Lattice } {
    checkKey(key);
    const incoming = materialize(spec, stamp, this.#values.get(key));
    return { ...this.merge(key, incoming), incoming };
  }

  /**
   * Removes a key. Only for system keys that the node itself expires (stored call
   * results): removing a user's lattice is not a lattice operation, and a replica that
   * still holds the key would merge it straight back. The shard does not police this;
   * its callers do.
   */
  delete(key: string): boolean {
    return this.#values.delete(key);
  }

  /** The keys, optionally those starting with `prefix`, in insertion order. */
  *keys(prefix?: string): IterableIterator<string> {
    for (const key of this.#values.keys()) {
      if (prefix === undefined || key.startsWith(prefix)) yield key;
    }
  }

  /** The entries, optionally those whose key starts with `prefix` (for gossip, handover). */
  *entries(prefix?: string): IterableIterator<[string, Lattice]> {
    for (const entry of this.#values) {
      if (prefix === undefined || entry[0].startsWith(prefix)) yield entry;
    }
  }

  get size(): number {
    return this.#values.size;
  }

  #checkSize(key: string, value: Lattice): void {
    if (this.#valueBytesMax === Number.POSITIVE_INFINITY) return;
    const bytes = encodeLattice(value).byteLength;
    if (bytes > this.#valueBytesMax) {
      throw new ValidationError(
        `value of ${bytes} bytes for key ${JSON.stringify(key)} exceeds ${this.#valueBytesMax}`,
      );
    }
  }
}

/** Keys are non-empty strings of at most KEY_BYTES_MAX UTF-8 bytes. */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new ValidationError('a key must be a non-empty string');
  }
  // A UTF-16 unit is at most 3 UTF-8 bytes, so short keys need no counting.
  if (key.length * 3 > KEY_BYTES_MAX && Buffer.byteLength(key, 'utf8') > KEY_BYTES_MAX) {
    throw new ValidationError(`a key must be at most ${KEY_BYTES_MAX} UTF-8 bytes`);
  }
}
