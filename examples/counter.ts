/**
 * A stateful function actor. squall constructs `Counter` once, on one executor of the
 * node, and keeps the instance between calls (which take turns), so `total` lives in
 * memory and a call costs no read; each call also writes the total with ctx.put, so a new
 * instance (after its executor thread is replaced, or on another node after its node left
 * or died) picks it up from the store on its first call. The key is the class's name: a
 * class has one instance in the cluster, and its address (`ctx.id`, NODE/Counter) changes
 * with the node it lives on.
 *
 *   squall call Counter 5   # → 5
 *   squall call Counter 2   # → 7 (same instance)
 */
import type { Context } from '../src/index.js';

export class Counter {
  #total: number | undefined;
  readonly #key: string;

  constructor(ctx: Context) {
    this.#key = `counter/${ctx.name}`;
  }

  /** Adds `by` (default 1) to the running total and returns the new total. */
  async run(ctx: Context, by = 1): Promise<number> {
    if (!Number.isFinite(by)) throw new TypeError(`by must be a finite number, got ${by}`);
    if (this.#total === undefined) {
      const stored = await ctx.get(this.#key);
      this.#total = typeof stored === 'number' ? stored : 0;
    }
    this.#total += by;
    await ctx.put(this.#key, this.#total);
    return this.#total;
  }
}
