/**
 * Callers waiting for something to arrive under a key: a call result under its future's
 * key, a message in an actor's mailbox. Each wait has a deadline and the number of waits
 * is bounded; `notify` wakes every waiter of a key at once. Timers come from the runtime
 * (this is binding code, not a protocol core).
 */
import { UnavailableError } from '../errors.js';

interface Waiter<T> {
  resolve(value: T | undefined): void;
  timer: NodeJS.Timeout;
}

export class KeyedWaiters<T> {
  readonly #waiting = new Map<string, Set<Waiter<T>>>();
  readonly #waitersMax: number;
  #count = 0;

  constructor(waitersMax: number) {
    this.#waitersMax = waitersMax;
  }

  get size(): number {
    return this.#count;
  }

  /** Resolves with the notified value, or undefined once `timeoutMs` passes. */
  wait(key: string, timeoutMs: number): Promise<T | undefined> {
    if (this.#count >= this.#waitersMax) {
      return Promise.reject(new UnavailableError(`more than ${this.#waitersMax} waits are open`));
    }
    return new Promise((resolve) => {
      let set = this.#waiting.get(key);
      if (set === undefined) {
        set = new Set();
        this.#waiting.set(key, set);
      }
      const waiter: Waiter<T> = {
        resolve,
        timer: setTimeout(() => {
          this.#remove(key, waiter);
          resolve(undefined);
        }, timeoutMs),
      };
      set.add(waiter);
      this.#count += 1;
    });
  }

  has(key: string): boolean {
    return this.#waiting.has(key);
  }

  notify(key: string, value: T): void {
    const set = this.#waiting.get(key);
    if (set === undefined) return;
    this.#waiting.delete(key);
    for (const waiter of set) {
      clearTimeout(waiter.timer);
      this.#count -= 1;
      waiter.resolve(value);
    }
  }

  /** Wakes every waiter with undefined (on shutdown). */
  clear(): void {
    for (const key of [...this.#waiting.keys()]) {
      const set = this.#waiting.get(key)!;
      this.#waiting.delete(key);
      for (const waiter of set) {
        clearTimeout(waiter.timer);
        waiter.resolve(undefined);
      }
    }
    this.#count = 0;
  }

  #remove(key: string, waiter: Waiter<T>): void {
    const set = this.#waiting.get(key);
    if (set === undefined || !set.delete(waiter)) return;
    this.#count -= 1;
    if (set.size === 0) this.#waiting.delete(key);
  }
}
