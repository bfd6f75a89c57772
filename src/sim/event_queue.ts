/**
 * The simulator's agenda: a binary min-heap of events ordered by (time, insertion
 * sequence), so events due at the same virtual millisecond run in the order they were
 * scheduled and a run is reproducible bit for bit.
 *
 * Invariants: `pop` returns events in non-decreasing time, and among equal times in
 * increasing sequence; every event gets a sequence number one greater than the last; the
 * heap holds at most `sizeMax` events (a runaway schedule is a loud error, not an
 * out-of-memory crash: DESIGN.md principle 3).
 *
 * Why a heap with a sequence tie-break rather than a sorted array or timers: pushes and
 * pops are O(log n), and ties must not depend on the heap's internal layout.
 */

export interface QueuedEvent<T> {
  readonly atMs: number;
  readonly seq: number;
  readonly item: T;
}

export const QUEUE_SIZE_MAX = 1_000_000;

function before<T>(a: QueuedEvent<T>, b: QueuedEvent<T>): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

export class EventQueue<T> {
  readonly #heap: QueuedEvent<T>[] = [];
  readonly #sizeMax: number;
  #seq = 0;

  constructor(sizeMax: number = QUEUE_SIZE_MAX) {
    this.#sizeMax = sizeMax;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** The time of the next event, or undefined when the queue is empty. */
  peekTime(): number | undefined {
    return this.#heap[0]?.atMs;
  }

  /** Schedules `item` at `atMs` (a finite number); returns its sequence number. */
  push(atMs: number, item: T): number {
    if (!Number.isFinite(atMs)) throw new RangeError(`event time must be finite, not ${atMs}`);
    if (this.#heap.length >= this.#sizeMax) {
      throw new RangeError(`event queue full (${this.#sizeMax} events): a runaway schedule`);
    }
    const event: QueuedEvent<T> = { atMs, seq: this.#seq++, item };
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const up = heap[parent] as QueuedEvent<T>;
      if (!before(event, up)) break;
      heap[i] = up;
      i = parent;
    }
    heap[i] = event;
    return event.seq;
  }

  /** Removes and returns the earliest event (by time, then sequence). */
  pop(): QueuedEvent<T> | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const l = heap[left] as QueuedEvent<T>;
      const r = heap[right];
      const child = r !== undefined && before(r, l) ? right : left;
      const c = heap[child] as QueuedEvent<T>;
      if (!before(c, last)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
