/**
 * Which nodes cache which keys, as their owner knows it: a node that reads a key it does
 * not own subscribes to it (DESIGN.md: caches subscribe to the keys they hold, and owners
 * push updates). A subscription lasts `ttlMs` unless renewed, and is dropped with its node
 * when that node leaves or dies. The table is bounded: past `entriesMax` a new
 * subscription is refused, and the subscriber's copy then only refreshes when it reads
 * again. Pure: the time is handed in.
 */

export interface SubscriptionLimits {
  ttlMs: number;
  entriesMax: number;
}

export class Subscriptions {
  readonly #limits: SubscriptionLimits;
  readonly #byKey = new Map<string, Map<string, number>>();
  #entries = 0;

  constructor(limits: SubscriptionLimits) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#entries;
  }

  /** Subscribes (or renews) `subscriber` to `key` until `nowMs + ttlMs`; false when full. */
  add(key: string, subscriber: string, nowMs: number): boolean {
    let subscribers = this.#byKey.get(key);
    if (subscribers === undefined) {
      if (this.#entries >= this.#limits.entriesMax) return false;
      subscribers = new Map();
      this.#byKey.set(key, subscribers);
    }
    if (!subscribers.has(subscriber)) {
      if (this.#entries >= this.#limits.entriesMax) return false;
      this.#entries += 1;
    }
    subscribers.set(subscriber, nowMs + this.#limits.ttlMs);
    return true;
  }

  /** The live subscribers of `key` (expired ones are dropped on the way). */
  subscribers(key: string, nowMs: number): string[] {
    const subscribers = this.#byKey.get(key);
    if (subscribers === undefined) return [];
    const live: string[] = [];
    for (const [subscriber, expiresMs] of subscribers) {
      if (expiresMs > nowMs) live.push(subscriber);
      else this.#remove(key, subscribers, subscriber);
    }
    return live;
  }

  dropSubscriber(subscriber: string): void {
    for (const [key, subscribers] of this.#byKey) {
      if (subscribers.has(subscriber)) this.#remove(key, subscribers, subscriber);
    }
  }

  sweep(nowMs: number): void {
    for (const [key, subscribers] of this.#byKey) {
      for (const [subscriber, expiresMs] of subscribers) {
        if (expiresMs <= nowMs) this.#remove(key, subscribers, subscriber);
      }
    }
  }

  #remove(key: string, subscribers: Map<string, number>, subscriber: string): void {
    subscribers.delete(subscriber);
    this.#entries -= 1;
    if (subscribers.size === 0) this.#byKey.delete(key);
  }
}
