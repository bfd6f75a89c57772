/**
 * Whether the supervisor's wait for a lone call's answer is worth spinning for
 * (docs/ARCHITECTURE.md, "Latency"). A spin that catches the answer saves a wake-up; one
 * that times out burned CPU that other processes on a small machine needed — every call
 * of a function that runs longer than the spin does. So after `missesTolerated` misses in
 * a row the next spin is skipped, twice as many after each further miss (up to `skipMax`),
 * and a catch brings spinning back at once. An occasional miss changes nothing.
 */
export class SpinBackoff {
  readonly #skipMax: number;
  readonly #missesTolerated: number;
  #misses = 0;
  #skip = 0;

  constructor(skipMax = 64, missesTolerated = 2) {
    this.#skipMax = skipMax;
    this.#missesTolerated = missesTolerated;
  }

  /** Asked before each chance to spin: whether to spin this time. */
  shouldSpin(): boolean {
    if (this.#skip === 0) return true;
    this.#skip -= 1;
    return false;
  }

  /** The spin ended: `caught` when a message arrived before it timed out. */
  record(caught: boolean): void {
    if (caught) {
      this.#misses = 0;
      this.#skip = 0;
      return;
    }
    this.#misses = Math.min(this.#misses + 1, 30);
    const over = this.#misses - this.#missesTolerated;
    if (over > 0) this.#skip = Math.min(this.#skipMax, 2 ** (over - 1));
  }
}
