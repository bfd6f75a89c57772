/**
 * The simulator's seeded random source: sfc32 (Chris Doty-Humphrey's small fast counting
 * generator), its 128-bit state seeded from one 32-bit seed through splitmix32.
 *
 * Invariants: the same seed gives the same sequence on every machine and Node version (only
 * 32-bit integer arithmetic: `Math.imul`, shifts, `>>> 0`); `next()` is in [0, 1);
 * `int(n)` is in [0, n); `fork()` draws the child's seed from the parent, so the child's
 * stream is fixed by the parent's position, and what the child draws never moves the parent.
 *
 * Why: a failing simulation must replay exactly from its seed, so nothing in `src/sim`
 * reads `Math.random`. Each concern (scenario, network, workload, each node's cores) gets
 * its own fork, so adding a draw to one does not reshuffle the others.
 */

/** splitmix32: spreads a seed over the state words so nearby seeds give unrelated streams. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Random {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** `seed` is taken modulo 2^32 (any safe integer works; negative ones too). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed))
      throw new RangeError(`seed must be a safe integer, not ${seed}`);
    const state = { s: seed | 0 };
    this.#a = splitmix32(state);
    this.#b = splitmix32(state);
    this.#c = splitmix32(state);
    this.#d = splitmix32(state);
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** A uniform integer in [0, 2^32). */
  uint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.uint32() / 4_294_967_296;
  }

  /** A uniform integer in [0, n); `n` must be a positive integer up to 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4_294_967_296) {
      throw new RangeError(`int(n) needs a positive integer n up to 2^32, not ${n}`);
    }
    return Math.floor(this.next() * n);
  }

  /** A uniform integer in [low, high], both included. */
  between(low: number, high: number): number {
    if (high < low) throw new RangeError(`between(${low}, ${high}): high is below low`);
    return low + this.int(high - low + 1);
  }

  /** A uniform element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[this.int(items.length)] as T;
  }

  /** True with probability `p` (0 never, 1 always). */
  chance(p: number): boolean {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`chance(p) needs p in [0, 1], not ${p}`);
    return p > 0 && this.next() < p;
  }

  /** Fisher–Yates in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const a = items[i] as T;
      items[i] = items[j] as T;
      items[j] = a;
    }
    return items;
  }

  /** An independent generator whose seed is drawn from this one. */
  fork(): Random {
    return new Random(this.uint32());
  }
}
