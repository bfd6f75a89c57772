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
  #stopped = false;

  constructor(core: ProtocolCore<M>, send: Sender<M>, now: () => number) {
    this.#core = core;
    this.#send = send;
    this.#now = now;
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
