/**
 * The order in which a node probes its peers: round-robin over a shuffled list,
 * reshuffled at the start of every round, with members that join mid-round inserted at a
 * random position among those not yet probed (SWIM, section 4.3).
 *
 * Invariants: within one round every candidate is offered at most once, so every live
 * member is probed within two rounds of any moment (a bound on time to first detection that
 * pure random choice lacks); all randomness comes from the `random` function given.
 *
 * Why: the list holds ids only; whether an id is still worth probing is asked at the moment
 * it comes up, so departures need no bookkeeping here.
 */

export class ProbeOrder {
  private list: string[] = [];
  private index = 0;

  constructor(private readonly random: () => number) {}

  /**
   * The next id to probe: the next probeable entry of this round, or, when the round is
   * over, the first of a fresh shuffle of `candidates()`; undefined when there is none.
   */
  next(isProbeable: (id: string) => boolean, candidates: () => string[]): string | undefined {
    const found = this.advance(isProbeable);
    if (found !== undefined) return found;
    this.list = candidates();
    this.index = 0;
    shuffle(this.list, this.random);
    return this.advance(isProbeable);
  }

  /** A member came alive mid-round: it gets a random place among the ids still to come. */
  add(id: string): void {
    for (let i = this.index; i < this.list.length; i++) if (this.list[i] === id) return;
    const at = this.index + pick(this.random, this.list.length - this.index + 1);
    this.list.splice(at, 0, id);
  }

  private advance(isProbeable: (id: string) => boolean): string | undefined {
    while (this.index < this.list.length) {
      const id = this.list[this.index++];
      if (id !== undefined && isProbeable(id)) return id;
    }
    return undefined;
  }
}

/** A uniform integer in [0, n), safe even if `random` misbehaves and returns 1. */
export function pick(random: () => number, n: number): number {
  return Math.min(n - 1, Math.max(0, Math.floor(random() * n)));
}

/** Fisher–Yates, in place. */
export function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = pick(random, i + 1);
    const a = items[i] as T;
    items[i] = items[j] as T;
    items[j] = a;
  }
}
