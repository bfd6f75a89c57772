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

/** The last `keep` events as text lines, each also written to `sink` when one is given. */
export class Trace {
  readonly #lines: string[] = [];
  readonly #keep: number;
  readonly #sink: ((line: string) => void) | undefined;
  #next = 0;

  constructor(keep: number, sink?: (line: string) => void) {
    if (!Number.isInteger(keep) || keep < 1)
      throw new RangeError('a trace keeps at least one line');
    this.#keep = keep;
    this.#sink = sink;
  }

  /** Whether every line goes to a sink (callers may then afford more detail). */
  get verbose(): boolean {
    return this.#sink !== undefined;
  }

  add(atMs: number, text: string): void {
    const line = `${String(atMs).padStart(7)}ms ${text}`;
    if (this.#lines.length < this.#keep) this.#lines.push(line);
    else this.#lines[this.#next % this.#keep] = line;
    this.#next++;
    this.#sink?.(line);
  }

  /** The kept lines, oldest first. */
  lines(): string[] {
    if (this.#lines.length < this.#keep) return [...this.#lines];
    const at = this.#next % this.#keep;
    return [...this.#lines.slice(at), ...this.#lines.slice(0, at)];
  }
}
