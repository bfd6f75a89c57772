/**
 * The dissemination queue: claims waiting to be piggybacked on outgoing membership
 * messages, each sent a bounded number of times (SWIM's infection-style dissemination).
 *
 * Invariants: at most one entry per member (a newer claim replaces the older one and
 * starts its count afresh) and at most `entriesMax` entries, the most-sent one evicted
 * first; `take` returns at most `max` claims, the least-sent first and, among equals, the
 * most recently queued, and drops a claim once it has gone out `transmitLimit` times.
 *
 * Why: a bounded number of retransmissions (~λ·log N) reaches every node with high
 * probability while keeping each message small; least-sent-first makes fresh news
 * (a suspicion, a refutation) overtake old news instead of waiting behind it.
 */
import type { Member } from './membership_messages.js';

interface Entry {
  claim: Member;
  sent: number;
  /** Enqueue order: a tie-break that prefers newer claims. */
  order: number;
}

export class GossipQueue {
  private readonly entries = new Map<string, Entry>();
  private counter = 0;

  constructor(private readonly entriesMax: number) {
    if (!(entriesMax >= 1)) throw new Error(`entriesMax must be at least 1, not ${entriesMax}`);
  }

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  /** Queues a claim to be sent, replacing any older claim about the same member. */
  push(claim: Member): void {
    this.entries.delete(claim.id);
    this.entries.set(claim.id, { claim, sent: 0, order: this.counter++ });
    if (this.entries.size > this.entriesMax) this.evictMostSent();
  }

  /** Up to `max` claims for one message, not about `skipId`; counts them as sent. */
  take(max: number, transmitLimit: number, skipId?: string): Member[] {
    if (max <= 0 || this.entries.size === 0) return [];
    const chosen = [...this.entries.values()]
      .filter((entry) => entry.claim.id !== skipId)
      .sort((a, b) => a.sent - b.sent || b.order - a.order)
      .slice(0, max);
    for (const entry of chosen) {
      entry.sent++;
      if (entry.sent >= transmitLimit) this.entries.delete(entry.claim.id);
    }
    return chosen.map((entry) => entry.claim);
  }

  private evictMostSent(): void {
    let worst: Entry | undefined;
    for (const entry of this.entries.values()) {
      if (
        worst === undefined ||
        entry.sent > worst.sent ||
        (entry.sent === worst.sent && entry.order < worst.order)
      ) {
        worst = entry;
      }
    }
    if (worst !== undefined) this.entries.delete(worst.claim.id);
  }
}
