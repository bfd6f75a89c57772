/**
 * Runs a protocol core on real time: `send` effects go to the peer transport, `timer`
 * effects become one Node timer per name (arming a name again replaces it). This is the
 * only place a core meets the clock; `src/sim` has its own host with a virtual clock.
 */
import type { CoreEffect, ProtocolCore } from './core_effects.js';

export type Sender<M> = (to: string, message: M) => void;

export class CoreHost<M> {
  readonly #core: ProtocolCore<M>;
  readonly #send: Sender<M>;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #now: () => number;
  readonly #onFired: () => void;
  #stopped = false;

  /**
   * `onFired` runs after a timer's effects: the core's state may have changed with no
   * message arriving (a member declared dead by its own suspicion timer), and whoever
   * derives state from it (the ring) must look again.
   */
  constructor(core: ProtocolCore<M>, send: Sender<M>, now: () => number, onFired = () => {}) {
    this.#core = core;
    this.#send = send;
    this.#now = now;
    this.#onFired = onFired;
  }

  get now(): number {
    return this.#now();
  }

  /** Carries out effects a core returned (from any of its methods). */
  apply(effects: CoreEffect<M>[]): void {
    if (this.#stopped) return;
    for (const effect of effects) {
      if (effect.t === 'send') {
        this.#send(effect.to, effect.message);
        continue;
      }
      clearTimeout(this.#timers.get(effect.name));
      const timer = setTimeout(() => {
        this.#timers.delete(effect.name);
        this.apply(this.#core.fire(effect.name, this.#now()));
        if (!this.#stopped) this.#onFired();
      }, effect.afterMs);
      timer.unref();
      this.#timers.set(effect.name, timer);
    }
  }

  receive(from: string, message: M): void {
    if (this.#stopped) return;
    this.apply(this.#core.receive(from, message, this.#now()));
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
