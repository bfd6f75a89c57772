/**
 * This node's view of the key-value store: the shard it owns, the shared cache segment it
 * alone writes, and the clock that stamps last-writer-wins writes. Every write is
 * materialised, merged and size-checked before anything changes, so a write of the wrong
 * lattice type or of an oversized value is refused with ValidationError and the stored
 * value stays as it was. The cache holds each key's revealed value, encoded once here;
 * executors decode it without asking.
 */
import { TimeoutError, UnavailableError, ValidationError } from '../errors.js';
import {
  type CacheWriter,
  conflictOrder,
  encode,
  encodeOwned,
  type HybridClock,
  type Lattice,
  type LatticeSpec,
  materialize,
  merge,
  reveal,
  type StoreShard,
  setDifference,
} from '../storage/index.js';

export const SYSTEM_PREFIX = '__squall/';

/** The most a CBOR array header grows by when two arrays are joined (#checkSize). */
const ARRAY_HEADER_BYTES_MAX = 9;
/** What a set's element is taken to cost when its size was never bounded (sizeHint). */
const SET_ELEMENT_BYTES_GUESS = 16;

export interface NodeStoreOptions {
  store: StoreShard;
  cache: CacheWriter;
  clock: HybridClock;
  /**
   * Whom this node's writes are stamped with: its id and its incarnation (one per start).
   * A counter increment is "this writer's total + n"; under the bare id, a node back from
   * a log that lost its tail (a crash under fsync 'interval', a truncated or missing log)
   * counted on from its old total, below what its replicas held, and its next increments
   * vanished in the merge, acknowledged (found by QA). Each start counts in a slot of its own.
   */
  writerId: string;
  valueBytesMax: number;
  /**
   * Called after a key's value changed (wakes waiters for call results, gossips the
   * change); `delta` is what was merged in, which joined to what came before gives `value`.
   */
  onChange(key: string, value: Lattice, delta: Lattice): void;
  /** Called after a key was removed (its replication bookkeeping can go too). */
  onDelete?: (key: string) => void;
  /** Makes a changed value durable (the data dir's log); absent: memory only. */
  persist?: (key: string, value: Lattice) => Promise<void>;
  /** Why `persist` can no longer succeed (the disk failed), if it cannot. */
  persistFailure?: () => Error | undefined;
  /** Told when owners held values of different kinds for a key, and which one stays. */
  onConflict?: (key: string, kept: string, dropped: string) => void;
  /**
   * Whether a value from another node has outlived its key's time (an expired call result):
   * then it is not taken in, so a replica that expired a key later cannot hand it back.
   */
  isExpired?: (key: string, value: Lattice) => boolean;
}

/**
 * A bound above a plain value's encoded size, found without encoding it (infinite for
 * anything but a string, a number, a boolean, null or bytes): most writes are of such
 * values, and encoding each only to learn it is small cost a put ≈ 0.7 µs of its ≈ 9.
 */
export function plainSizeBound(value: unknown): number {
  // CBOR: a head of at most 9 bytes; a UTF-16 unit is at most 3 UTF-8 bytes.
  if (typeof value === 'string') return 9 + 3 * value.length;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return 9;
  if (value instanceof Uint8Array && value.constructor === Uint8Array) return 9 + value.length;
  return Number.POSITIVE_INFINITY;
}

/** Whether a write increments a counter (directly or inside a map). */
export function specHasCounter(spec: LatticeSpec): boolean {
  if (spec.kind === 'counter') return true;
  return spec.kind === 'map' && Object.values(spec.entries).some(specHasCounter);
}

/** System keys are read-only to users. */
export function checkUserKey(key: string): void {
  if (key.startsWith(SYSTEM_PREFIX)) {
    throw new ValidationError(`keys starting with ${SYSTEM_PREFIX} are reserved for squall`);
  }
}

export class NodeStore {
  readonly #o: NodeStoreOptions;

  constructor(options: NodeStoreOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#o.store.size;
  }

  /** Whether changes go to a log that writes must wait for. */
  get durable(): boolean {
    return this.#o.persist !== undefined;
  }

  read(key: string): unknown {
    const value = this.#o.store.get(key);
    return value === undefined ? undefined : reveal(value);
  }

  lattice(key: string): Lattice | undefined {
    return this.#o.store.get(key);
  }

  /** A user's write (SDK or function). System keys are read-only to users. */
  writeUser(key: string, spec: LatticeSpec): Lattice {
    checkUserKey(key);
    return this.write(key, spec);
  }

  write(key: string, spec: LatticeSpec): Lattice {
    return this.#apply(key, spec).value;
  }

  /**
   * A cheap estimate of a key's encoded size, for pacing pushes to the nodes that cache it:
   * a growing set's size bound when one is known, else a guess from its element count; 0
   * (small) for anything else.
   */
  sizeHint(key: string): number {
    const value = this.#o.store.get(key);
    if (value === undefined) return 0;
    const bound = this.#sizes.get(value);
    if (bound !== undefined) return bound;
    return value.kind === 'set' ? value.items.size * SET_ELEMENT_BYTES_GUESS : 0;
  }

  /** Whether this node caches `key` (a write forwarded from here wants its value back). */
  caches(key: string): boolean {
    return this.#o.cache.has(key);
  }

  /** A write: the merged value, and the write itself as a lattice (`incoming`: a delta). */
  #apply(key: string, spec: LatticeSpec): { value: Lattice; incoming: Lattice } {
    const { store, clock, writerId } = this.#o;
    const current = store.get(key);
    const own = this.#ownCounts.get(key);
    const base = own === undefined ? current : current === undefined ? own : merge(current, own);
    const incoming = materialize(spec, { ts: clock.next(), writer: writerId }, base);
    const merged = current === undefined ? incoming : merge(current, incoming);
    const bytes = merged === current ? undefined : this.#checkSize(key, current, incoming, merged);
    const { value, changed } = store.commit(key, current, merged);
    if (specHasCounter(spec))
      this.#ownCounts.set(key, own === undefined ? incoming : merge(own, incoming));
    if (!changed) return { value, incoming };
    if (this.#o.cache.has(key)) this.#o.cache.put(key, bytes ?? encode(reveal(value)));
    // The log (and gossip) get the write alone: replaying merges it into what came before,
    // and a record of the whole value would make adding to a large set cost its size each time.
    this.#changed(key, value, incoming);
    return { value, incoming };
  }

  /**
   * Refuses a value whose encoding would pass `valueBytesMax`. A set grown by a write is
   * at most the size of the two it joined (plus an array header), so while that bound is
   * under the limit nothing is encoded — an add to a large set then costs the added
   * elements, not the set. Returns the encoding when it had to make one.
   */
  #checkSize(
    key: string,
    current: Lattice | undefined,
    incoming: Lattice,
    merged: Lattice,
  ): Uint8Array | undefined {
    const limit = this.#o.valueBytesMax;
    const grows = merged.kind === 'set' || merged.kind === 'orderedSet';
    let size =
      grows && current !== undefined
        ? this.#sizeOf(current) + this.#sizeOf(incoming) + ARRAY_HEADER_BYTES_MAX
        : merged.kind === 'lww'
          ? plainSizeBound(merged.value)
          : Number.POSITIVE_INFINITY;
    let bytes: Uint8Array | undefined;
    if (size > limit) {
      bytes = encode(reveal(merged));
      size = bytes.length;
    }
    if (size > limit) {
      throw new ValidationError(
        `value of ${size} bytes for key ${JSON.stringify(key)} exceeds the limit of ${limit}`,
      );
    }
    // Kept only where a later write can use it as its bound (a set that grows).
    if (grows) this.#sizes.set(merged, size);
    return bytes;
  }

  /** The encoded size of a value's revealed form, or a bound above it (#checkSize). */
  #sizeOf(value: Lattice): number {
    let size = this.#sizes.get(value);
    if (size === undefined) {
      size = encode(reveal(value)).length;
      this.#sizes.set(value, size);
    }
    return size;
  }

  readonly #sizes = new WeakMap<Lattice, number>();

  /**
   * Carries a growing set's size bound across a merge from a replica (#checkSize), so the
   * next write to it need not encode the whole set: a hot set takes a co-owner's gossip
   * between any two of its writes.
   */
  #boundSize(current: Lattice | undefined, incoming: Lattice, merged: Lattice): void {
    if (merged.kind !== 'set' && merged.kind !== 'orderedSet') return;
    const before = current === undefined ? undefined : this.#sizes.get(current);
    if (before === undefined || current?.kind !== merged.kind) return;
    this.#sizes.set(merged, before + this.#sizeOf(incoming) + ARRAY_HEADER_BYTES_MAX);
  }

  /**
   * This node's own contributions to counter keys, kept apart from the shard: an increment
   * is "my running total + n" under this node's writer id, and the shard may have handed
   * the key off and deleted it, or not have it back yet — then the total would restart and
   * the increment vanish in the merge (found by the simulator). One entry per counter key
   * this node ever incremented.
   */
  readonly #ownCounts = new Map<string, Lattice>();

  /**
   * `write`, resolving once the change is as durable as the node's fsync policy makes it.
   * Once the data dir has failed, writes are refused before anything changes: a write
   * told UnavailableError is then not applied, so sending it again (to another node) adds
   * nothing twice. Only the writes in flight when the disk failed can be in memory (and
   * passed to replicas) without being on this disk: they get TimeoutError (outcome unknown).
   */
  async writeDurable(
    key: string,
    spec: LatticeSpec,
  ): Promise<{ value: Lattice; incoming: Lattice }> {
    const failure = this.#o.persistFailure?.();
    if (failure !== undefined) {
      throw new UnavailableError(
        `this node takes no writes: ${failure.message}. Nothing was written; another node can take it`,
      );
    }
    const written = this.#apply(key, spec);
    try {
      await this.#lastPersist;
    } catch (error) {
      // Its outcome is unknown to the caller (it may reach replicas): TimeoutError, not
      // UnavailableError, which says that sending it again is safe.
      throw new TimeoutError(
        `the write to ${JSON.stringify(key)} is in this node's memory (and may reach its replicas) but not on its disk: ${(error as Error).message}`,
      );
    }
    return written;
  }

  #lastPersist: Promise<void> = Promise.resolve();

  /** `logged`: what the log needs to rebuild `value` on top of what it already holds. */
  #changed(key: string, value: Lattice, logged: Lattice): void {
    const persist = this.#o.persist;
    if (persist !== undefined) {
      const done = persist(key, logged);
      done.catch(() => undefined);
      this.#lastPersist = done;
    }
    this.#o.onChange(key, value, logged);
  }

  /**
   * Merges a replica's value (gossip, hand-off, repair). Never size-checked: the owner that
   * accepted the write checked it, and refusing a merge would lose data. Throws
   * ValidationError on a lattice kind mismatch (the caller skips that entry).
   */
  mergeReplica(key: string, incoming: Lattice): boolean {
    if (this.#o.isExpired?.(key, incoming)) return false;
    const current = this.#o.store.get(key);
    let merged: { value: Lattice; changed: boolean };
    try {
      merged = this.#o.store.merge(key, incoming);
    } catch (error) {
      const current = this.#o.store.get(key);
      if (!(error instanceof ValidationError) || current === undefined) throw error;
      merged = this.#resolveConflict(key, current, incoming);
    }
    const { value, changed } = merged;
    if (!changed) return false;
    // What the merge added, when a replica sent a whole set (a repair, a hand-off): the
    // log and the gossip to other co-owners then carry the new elements, not the set.
    const added =
      current?.kind === 'set' && incoming.kind === 'set' && value.kind === 'set'
        ? setDifference(incoming, current)
        : incoming;
    this.#boundSize(current, added, value);
    if (this.#o.cache.has(key)) this.#o.cache.put(key, encode(reveal(value)));
    this.#changed(key, value, added);
    return true;
  }

  /**
   * Two owners each accepted a write of a different lattice kind to one key (each refuses
   * the other kind only once it has a value; two first writes can cross). Merging cannot
   * join them, so every owner keeps the same one of the two, by a fixed order: the kind
   * first, then the bytes of the value — the replicas converge instead of staying apart.
   * The losing write is dropped and logged.
   */
  #resolveConflict(
    key: string,
    current: Lattice,
    incoming: Lattice,
  ): { value: Lattice; changed: boolean } {
    const keepIncoming = conflictOrder(incoming, current) > 0;
    const [kept, dropped] = keepIncoming ? [incoming, current] : [current, incoming];
    this.#o.onConflict?.(key, kept.kind, dropped.kind);
    if (!keepIncoming) return { value: current, changed: false };
    this.#o.store.delete(key);
    return this.#o.store.merge(key, incoming);
  }

  /** Refreshes the cached copy of a key this node does not own (an owner's push). */
  refreshCached(key: string, value: Lattice | undefined): void {
    if (!this.#o.cache.has(key)) return;
    if (value === undefined) this.#o.cache.delete(key);
    else this.#o.cache.put(key, encode(reveal(value)));
  }

  /**
   * Caches a value for an executor's miss and returns its encoding in a buffer of its own
   * (it is posted to the executor: a view into the codec's slab would clone the slab).
   */
  fillCache(key: string, value: Lattice): Uint8Array {
    const bytes = encodeOwned(reveal(value));
    this.#o.cache.put(key, bytes);
    return bytes;
  }

  cachedKeys(): IterableIterator<string> {
    return this.#o.cache.keys();
  }

  delete(key: string): void {
    this.#o.store.delete(key);
    this.#o.cache.delete(key);
    // #ownCounts keeps its entry: a handed-off counter key may come back here (see there).
    this.#o.onDelete?.(key);
  }

  keys(prefix: string): IterableIterator<string> {
    return this.#o.store.keys(prefix);
  }

  /** Every stored key and value (for snapshots). */
  *entries(): Generator<[string, Lattice]> {
    for (const key of this.#o.store.keys()) {
      const value = this.#o.store.get(key);
      if (value !== undefined) yield [key, value];
    }
  }

  /** Loads recovered values before the node serves (no change is reported for them). */
  load(entries: Map<string, Lattice>): void {
    for (const [key, value] of entries) this.#o.store.merge(key, value);
  }
}
