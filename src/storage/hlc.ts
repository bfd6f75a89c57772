/**
 * Hybrid logical clock for last-writer-wins timestamps. A reading is
 * `physicalMs * 1024 + logical`: it follows the wall clock (so "later" means what people
 * expect across nodes with synchronised clocks) yet strictly increases on every `next()`,
 * even when the wall clock stalls or steps back, and jumps past every timestamp `observe`d
 * from a peer, so a write that causally follows another gets a larger stamp. Readings stay
 * safe integers until the year 2248. The wall clock is passed in (DESIGN.md principle 1),
 * so simulations drive it. A peer stamp more than `driftMsMax` ahead of our wall clock is
 * ignored rather than adopted: one node with a broken clock must not drag every other
 * node's stamps into the future.
 */
import { ValidationError } from '../errors.js';

/** Logical ticks per millisecond: 10 bits, leaving 43 bits of milliseconds. */
export const HLC_TICKS_PER_MS = 1024;

export interface HybridClockOptions {
  /** How far ahead of the local wall clock an observed stamp may be and still count. */
  driftMsMax?: number | undefined;
}

export class HybridClock {
  readonly #now: () => number;
  readonly #driftMsMax: number;
  #last = 0;

  constructor(now: () => number, options: HybridClockOptions = {}) {
    this.#now = now;
    this.#driftMsMax = options.driftMsMax ?? 60_000;
    if (!(this.#driftMsMax >= 0)) throw new ValidationError('driftMsMax must be >= 0');
  }

  /** A stamp larger than every stamp this clock returned or observed before. */
  next(): number {
    const physical = this.#physical();
    const next = physical > this.#last ? physical : this.#last + 1;
    if (!Number.isSafeInteger(next)) throw new RangeError('hybrid clock exhausted safe integers');
    this.#last = next;
    return next;
  }

  /** Takes a peer's stamp into account; ignores stamps that are malformed or too far ahead. */
  observe(ts: number): void {
    if (!Number.isSafeInteger(ts) || ts <= this.#last) return;
    if (ts > this.#physical() + this.#driftMsMax * HLC_TICKS_PER_MS) return;
    this.#last = ts;
  }

  /** The last stamp issued or adopted (0 before the first). */
  get last(): number {
    return this.#last;
  }

  #physical(): number {
    const ms = Math.floor(this.#now());
    return Number.isFinite(ms) && ms > 0 ? ms * HLC_TICKS_PER_MS : 0;
  }
}

/** The wall-clock milliseconds a stamp was taken at (give or take its logical part). */
export function hlcPhysicalMs(ts: number): number {
  return Math.floor(ts / HLC_TICKS_PER_MS);
}
