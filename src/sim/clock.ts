/**
 * Virtual time for the simulator: a clock that only moves when the next event runs, the
 * agenda of those events, and a bounded trace of what happened.
 *
 * Invariants: `now` never decreases; an event is never scheduled in the past; events run
 * in (time, scheduling order), so a seed replays exactly; at most `eventsMax` events run in
 * one clock's life (a livelock fails loudly instead of hanging the test run); the trace
 * keeps only its last `keep` lines.
 *
 * Why: the protocol cores take `nowMs` as an argument (DESIGN.md principle 1), so the
 * simulator can hand them a virtual time, run minutes of cluster life in milliseconds, and
 * never read the wall clock.
 */
import { EventQueue } from './event_queue.js';

export type Action = () => void;

export const EVENTS_MAX_DEFAULT = 5_000_000;

export class SimClock {
  readonly #queue = new EventQueue<Action>();
  readonly #eventsMax: number;
  #now = 0;
  #events = 0;

  constructor(eventsMax: number = EVENTS_MAX_DEFAULT) {
    this.#eventsMax = eventsMax;
  }

  /** Virtual milliseconds since the simulation began. */
  get now(): number {
    return this.#now;
  }

  /** How many events have run. */
  get eventsRun(): number {
    return this.#events;
  }

  /** How many events wait to run. */
  get pending(): number {
    return this.#queue.size;
  }

  /** Runs `action` at virtual time `atMs` (not before now). */
  at(atMs: number, action: Action): void {
    if (!(atMs >= this.#now))
      throw new RangeError(`cannot schedule at ${atMs}, now is ${this.#now}`);
    this.#queue.push(atMs, action);
  }

  /** Runs `action` `delayMs` (>= 0) from now. */
  after(delayMs: number, action: Action): void {
    if (!(delayMs >= 0)) throw new RangeError(`delay must be >= 0, not ${delayMs}`);
    this.#queue.push(this.#now + delayMs, action);
  }

  /** Runs the next event, advancing the clock to its time; false when there is none. */
  step(): boolean {
    const event = this.#queue.pop();
    if (event === undefined) return false;
    if (++this.#events > this.#eventsMax) {
      throw new RangeError(`more than ${this.#eventsMax} events: a livelock in the simulation`);
    }
    this.#now = event.atMs;
    event.item();
    return true;
  }

  /** Runs every event due at or before `endMs`, then sets the clock to `endMs`. */
  runUntil(endMs: number): void {
    if (endMs < this.#now) throw new RangeError(`cannot run back to ${endMs}, now is ${this.#now}`);
    for (;;) {
      const next = this.#queue.peekTime();
      if (next === undefined || next > endMs) break;
      this.step();
    }
    this.#now = endMs;
  }
}

/** The last `keep` strings pushed, oldest first. */
class Ring {
  readonly #items: string[] = [];
  #next = 0;

  constructor(readonly keep: number) {
    if (!Number.isInteger(keep) || keep < 1)
      throw new RangeError('a trace keeps at least one line');
  }

  push(item: string): void {
    if (this.#items.length < this.keep) this.#items.push(item);
    else this.#items[this.#next % this.keep] = item;
    this.#next++;
  }

  items(): string[] {
    if (this.#items.length < this.keep) return [...this.#items];
    const at = this.#next % this.keep;
    return [...this.#items.slice(at), ...this.#items.slice(0, at)];
  }
}

/** Keys whose history a trace keeps (a bound, not a limit a simulation comes near). */
export const TRACED_KEYS_MAX = 10_000;
/** Lines kept per key. */
export const KEY_LINES_KEPT = 24;

/**
 * What happened, as text lines: the last `keep` lines of every kind; apart from them, the
 * last `keep` notable ones (faults, ring changes, starts and crashes); and, per key, the
 * last KEY_LINES_KEPT lines about that key (writes, forwards, hand-off deletions). A
 * failure report needs the notable and per-key lines long after routine traffic has pushed
 * them out of the first list. Every line also goes to `sink` when one is given (replay).
 */
export class Trace {
  readonly #all: Ring;
  readonly #notable: Ring;
  readonly #keys = new Map<string, Ring>();
  readonly #sink: ((line: string) => void) | undefined;

  constructor(keep: number, sink?: (line: string) => void) {
    this.#all = new Ring(keep);
    this.#notable = new Ring(keep);
    this.#sink = sink;
  }

  /** Whether every line goes to a sink (callers may then afford more detail). */
  get verbose(): boolean {
    return this.#sink !== undefined;
  }

  /** A routine event (a message delivered or dropped, a timer). */
  add(atMs: number, text: string): void {
    const line = `${String(atMs).padStart(7)}ms ${text}`;
    this.#all.push(line);
    this.#sink?.(line);
  }

  /** A notable event, or one about `key`: also kept apart from the routine ones. */
  note(atMs: number, text: string, key?: string): void {
    const line = `${String(atMs).padStart(7)}ms ${text}`;
    this.#all.push(line);
    this.#sink?.(line);
    if (key === undefined) {
      this.#notable.push(line);
      return;
    }
    let ring = this.#keys.get(key);
    if (ring === undefined && this.#keys.size < TRACED_KEYS_MAX) {
      ring = new Ring(KEY_LINES_KEPT);
      this.#keys.set(key, ring);
    }
    ring?.push(line);
  }

  /** The last lines of every kind, oldest first. */
  lines(): string[] {
    return this.#all.items();
  }

  /** The last notable lines, oldest first. */
  notes(): string[] {
    return this.#notable.items();
  }

  /** The last lines about `key`, oldest first. */
  keyLines(key: string): string[] {
    return this.#keys.get(key)?.items() ?? [];
  }

  /** The keys with lines of their own. */
  keys(): string[] {
    return [...this.#keys.keys()];
  }
}
