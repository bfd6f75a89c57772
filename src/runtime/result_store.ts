/**
 * The results of `callAsync`, kept in the KVS under `__squall/result/NODE/ID` so that a Future
 * is just a key: any reader may `get` it, and a waiter is woken when it is written. A
 * failed call stores its typed error under `ID.error` instead, so the Future rethrows the
 * same error a direct call would have. Results are dropped `ttlMs` after they are written
 * (and the oldest first when more than `resultsMax` are held), so forgotten futures cannot
 * fill the store.
 */
import { nanoid } from 'nanoid';
import { parseWireError, type WireError } from '../errors.js';
import { hlcPhysicalMs, type Lattice } from '../storage/index.js';
import type { NodeStore } from './node_store.js';
import { RESULT_PREFIX } from './placement.js';
import { KeyedWaiters } from './waiters.js';

/** A failed call's error is stored beside where its result would be, under KEY + this. */
export const RESULT_ERROR_SUFFIX = '.error';
const ERROR_SUFFIX = RESULT_ERROR_SUFFIX;
const RESULTS_MAX = 100_000;
/** Expired result keys remembered, to tell a waiter at once that its result is gone. */
const GONE_MAX = 100_000;

export type Outcome = { value: unknown } | { error: WireError };

/** The node that ran the call whose result is stored at `key`; undefined for other keys. */
export function resultProducer(key: string): string | undefined {
  if (!key.startsWith(RESULT_PREFIX)) return undefined;
  const node = key.slice(RESULT_PREFIX.length).split('/', 1)[0];
  return node === undefined || node === '' ? undefined : node;
}

/** An Outcome from another node (a peer's answer to `await`), checked; undefined if none. */
export function parseOutcome(wire: unknown): Outcome | undefined {
  if (typeof wire !== 'object' || wire === null) return undefined;
  if ('value' in wire) return { value: wire.value };
  if ('error' in wire) {
    const error = parseWireError(wire.error);
    if (error !== undefined) return { error };
  }
  return undefined;
}

export class ResultStore {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #waiters = new KeyedWaiters<true>(100_000);
  /** Written result keys in write order, with their expiry time. */
  readonly #expiries: { key: string; expiresMs: number }[] = [];
  #expiryHead = 0;

  constructor(ttlMs: number, now: () => number) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /**
   * A result key placed on `nodeId` (the node running the call; see placement.ts). It
   * carries the time by which the call will have settled, so that a waiter can tell a
   * result that expired from one not written yet, without asking anyone.
   */
  newKey(nodeId: string, settledByMs: number): string {
    return `${RESULT_PREFIX}${nodeId}/${Math.ceil(settledByMs).toString(36)}.${nanoid(16)}`;
  }

  /**
   * Whether the result at `key` (written by `settledByMs`, see newKey) has certainly been
   * dropped by now: false for keys that are not such result keys.
   */
  expiredKey(key: string): boolean {
    if (!key.startsWith(RESULT_PREFIX)) return false;
    const name = key.slice(key.lastIndexOf('/') + 1);
    const dot = name.indexOf('.');
    if (dot <= 0) return false;
    const settledByMs = Number.parseInt(name.slice(0, dot), 36);
    return Number.isSafeInteger(settledByMs) && this.#now() > settledByMs + this.#ttlMs;
  }

  /** The ttl, for messages. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /**
   * Whether the result at `key` is known to be gone: past its time by its key, or dropped
   * here when it expired (a result that settled early expires well before its key says).
   */
  isGone(key: string): boolean {
    return this.#gone.has(key) || this.expiredKey(key);
  }

  /** Result keys this node dropped as expired, the oldest first (bounded). */
  readonly #gone = new Set<string>();

  #dropped(key: string): void {
    this.#gone.add(key);
    if (this.#gone.size > GONE_MAX) this.#gone.delete(this.#gone.values().next().value as string);
  }

  succeed(store: NodeStore, key: string, value: unknown): void {
    this.#write(store, key, value);
  }

  fail(store: NodeStore, key: string, error: WireError): void {
    this.#write(store, key + ERROR_SUFFIX, error);
  }

  /** Called for every changed key: wakes whoever waits for that result. */
  changed(key: string): void {
    const base = key.endsWith(ERROR_SUFFIX) ? key.slice(0, -ERROR_SUFFIX.length) : key;
    this.#waiters.notify(base, true);
  }

  read(store: NodeStore, key: string): Outcome | undefined {
    if (store.lattice(key) !== undefined) return { value: store.read(key) };
    if (key.startsWith(RESULT_PREFIX) && store.lattice(key + ERROR_SUFFIX) !== undefined) {
      return { error: store.read(key + ERROR_SUFFIX) as WireError };
    }
    return undefined;
  }

  async wait(store: NodeStore, key: string, timeoutMs: number): Promise<Outcome | undefined> {
    const now = this.read(store, key);
    if (now !== undefined) return now;
    await this.#waiters.wait(key, timeoutMs);
    return this.read(store, key);
  }

  /**
   * Deletes every stored result older than the ttl by the time it was written (its LWW
   * stamp), whoever wrote it: replicas of results made elsewhere, and results recovered
   * from the data dir, expire like this node's own — else they would pile up for good.
   */
  expireStored(store: NodeStore): void {
    const expired: string[] = [];
    for (const key of store.keys(RESULT_PREFIX)) {
      const value = store.lattice(key);
      if (value !== undefined && this.isExpired(key, value)) expired.push(key);
    }
    for (const key of expired) {
      store.delete(key);
      this.#dropped(key);
    }
  }

  /** Whether `value` at `key` is a call result written longer than the ttl ago. */
  isExpired(key: string, value: Lattice): boolean {
    return (
      key.startsWith(RESULT_PREFIX) &&
      value.kind === 'lww' &&
      hlcPhysicalMs(value.ts) < this.#now() - this.#ttlMs
    );
  }

  /** Deletes results past their time, oldest first. */
  expire(store: NodeStore): void {
    const nowMs = this.#now();
    while (this.#expiryHead < this.#expiries.length) {
      const entry = this.#expiries[this.#expiryHead]!;
      const held = this.#expiries.length - this.#expiryHead;
      if (entry.expiresMs > nowMs && held <= RESULTS_MAX) break;
      store.delete(entry.key);
      this.#dropped(entry.key);
      this.#expiryHead += 1;
    }
    if (this.#expiryHead > 1024 && this.#expiryHead * 2 > this.#expiries.length) {
      this.#expiries.splice(0, this.#expiryHead);
      this.#expiryHead = 0;
    }
  }

  clear(): void {
    this.#waiters.clear();
  }

  #write(store: NodeStore, key: string, value: unknown): void {
    store.write(key, { kind: 'lww', value });
    this.#expiries.push({ key, expiresMs: this.#now() + this.#ttlMs });
  }
}
