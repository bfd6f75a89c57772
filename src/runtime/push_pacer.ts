/**
 * Paces an owner's pushes of a cached key to its subscribers (cache coherence across
 * nodes). Each push carries the key's whole value — a subscriber caches the value, not the
 * lattice, so it has nothing to merge a change into — and so a large set written often cost
 * its subscribers its whole size per write, decoded and re-cached each time. A key is
 * pushed at once when it changes, unless it was pushed less than its interval ago; then
 * one push is due at the end of the interval, carrying the value as it is then. The
 * interval grows with the value's size (`intervalOf`): small values are never held back,
 * and no key costs a subscriber more than about `bytesPerMs` of pushes.
 */

export interface PacerClock {
  nowMs(): number;
  setTimer(fire: () => void, afterMs: number): unknown;
  clearTimer(timer: unknown): void;
}

interface KeyState {
  lastMs: number;
  timer: unknown;
}

/** The longest a change to a very large value waits to reach a subscriber. */
export const PUSH_INTERVAL_MAX_MS = 1000;
/**
 * The push rate per key and subscriber past which pushes are held back: a subscriber
 * decodes and re-caches a large set at ≈ 25 MB/s of one core here, so a hot key may take
 * up to a tenth of that.
 */
export const PUSH_BYTES_PER_MS = 2_500;

/** The pause between two pushes of a value of `bytes` (0: push every change). */
export function pushIntervalMs(bytes: number): number {
  return Math.min(PUSH_INTERVAL_MAX_MS, Math.floor(bytes / PUSH_BYTES_PER_MS));
}

export class PushPacer {
  readonly #keys = new Map<string, KeyState>();

  constructor(
    private readonly push: (key: string) => void,
    private readonly intervalOf: (key: string) => number,
    private readonly clock: PacerClock,
  ) {}

  /** `key` changed and has subscribers: push it now, or once its interval is over. */
  changed(key: string): void {
    const state = this.#keys.get(key);
    if (state?.timer !== undefined) return; // the push due carries this change too
    const nowMs = this.clock.nowMs();
    const waitMs = state === undefined ? 0 : state.lastMs + this.intervalOf(key) - nowMs;
    if (waitMs <= 0 || state === undefined) {
      this.#pushNow(key, nowMs);
      return;
    }
    state.timer = this.clock.setTimer(() => this.#pushNow(key, this.clock.nowMs()), waitMs);
  }

  #pushNow(key: string, nowMs: number): void {
    this.#keys.set(key, { lastMs: nowMs, timer: undefined });
    this.push(key);
  }

  /** Forgets keys pushed long enough ago that their next change goes at once anyway. */
  sweep(): void {
    const nowMs = this.clock.nowMs();
    for (const [key, state] of this.#keys) {
      if (state.timer === undefined && nowMs - state.lastMs >= PUSH_INTERVAL_MAX_MS)
        this.#keys.delete(key);
    }
  }

  stop(): void {
    for (const state of this.#keys.values())
      if (state.timer !== undefined) this.clock.clearTimer(state.timer);
    this.#keys.clear();
  }

  /** Keys with a push due (for tests). */
  get due(): number {
    let count = 0;
    for (const state of this.#keys.values()) if (state.timer !== undefined) count += 1;
    return count;
  }
}
