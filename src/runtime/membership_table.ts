/**
 * The member table of one node: the newest claim it knows about every member, the
 * suspicion deadline of each suspect, and when each dead or departed member went down.
 *
 * Invariants: at most `membersMax` entries (self included); a claim replaces an entry only
 * when it `supersedes` it, so the table is a per-member max under the total precedence
 * order and merging claims in any order, any number of times, gives the same table;
 * `version` changes whenever anything `members()` returns changes; member objects are
 * never mutated in place, only replaced.
 *
 * Why: keeping precedence, bounds and bookkeeping here leaves the protocol (membership.ts)
 * to decide only what to send and when. The self entry is written with `setSelf`, never
 * through `apply`, because only a node itself may raise its own incarnation.
 */
import { isLive, type Member, supersedes } from './membership_messages.js';

/** What applying a claim did: news to gossip, nothing, a stale claim, or no room. */
export type ApplyOutcome = 'added' | 'changed' | 'same' | 'stale' | 'dropped';

export interface TableLimits {
  membersMax: number;
  suspicionTimeoutMs: number;
  forgetAfterMs: number;
}

export class MemberTable {
  private readonly entries = new Map<string, Member>();
  /** Suspect id → the time at which it is declared dead. */
  private readonly suspects = new Map<string, number>();
  /** Dead or departed id → the time this node learned it; forgotten `forgetAfterMs` later. */
  private readonly down = new Map<string, number>();
  private versionValue = 0;
  /** How many entries are alive or suspect, kept as entries change. */
  private live = 0;
  private cache: { version: number; members: Member[]; ring: string[] } | undefined;
  /** Claims about new members refused because the table was full of live members. */
  droppedCount = 0;

  constructor(
    private readonly selfId: string,
    private readonly limits: TableLimits,
  ) {}

  get version(): number {
    return this.versionValue;
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: string): Member | undefined {
    return this.entries.get(id);
  }

  /** Writes this node's own record (the only way the self entry changes). */
  setSelf(self: Member, nowMs: number): void {
    if (self.id !== this.selfId) throw new Error(`setSelf for ${self.id}, not ${this.selfId}`);
    this.put(self, nowMs);
  }

  /** Merges a claim about another member. */
  apply(claim: Member, nowMs: number): ApplyOutcome {
    if (claim.id === this.selfId) throw new Error('claims about self go through setSelf');
    const current = this.entries.get(claim.id);
    if (current === undefined) {
      if (this.entries.size >= this.limits.membersMax && !this.evictOldestDown()) {
        this.droppedCount++;
        return 'dropped';
      }
      this.put(claim, nowMs);
      return 'added';
    }
    if (supersedes(claim, current)) {
      this.put(claim, nowMs);
      return 'changed';
    }
    return supersedes(current, claim) ? 'stale' : 'same';
  }

  /** Suspects whose deadline has passed, to be declared dead by the caller. */
  expiredSuspects(nowMs: number): Member[] {
    const expired: Member[] = [];
    for (const [id, deadline] of this.suspects) {
      const member = this.entries.get(id);
      if (deadline <= nowMs && member !== undefined) expired.push(member);
    }
    return expired;
  }

  /** The earliest suspicion deadline, if any member is suspect. */
  nextSuspicionDeadline(): number | undefined {
    let next: number | undefined;
    for (const deadline of this.suspects.values()) {
      if (next === undefined || deadline < next) next = deadline;
    }
    return next;
  }

  /** Drops dead and departed members that went down `forgetAfterMs` ago; returns their ids. */
  forget(nowMs: number): string[] {
    const forgotten: string[] = [];
    for (const [id, since] of this.down) {
      if (id === this.selfId || since + this.limits.forgetAfterMs > nowMs) continue;
      this.remove(id);
      forgotten.push(id);
    }
    return forgotten;
  }

  /** Every member including self, sorted by id (copies: callers may keep them). */
  members(): Member[] {
    return this.sorted().members.map((m) => ({ ...m }));
  }

  /** Ids of the alive and suspect members, sorted. */
  ringMembers(): string[] {
    return [...this.sorted().ring];
  }

  /** How many members own data on the ring (alive or suspect). */
  liveCount(): number {
    return this.live;
  }

  /** All entries, unordered and uncopied: for the protocol's own scans. */
  values(): IterableIterator<Member> {
    return this.entries.values();
  }

  private sorted(): { members: Member[]; ring: string[] } {
    if (this.cache?.version !== this.versionValue) {
      const members = [...this.entries.values()].sort((a, b) =>
        a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
      );
      const ring = members.filter((m) => isLive(m.state)).map((m) => m.id);
      this.cache = { version: this.versionValue, members, ring };
    }
    return this.cache;
  }

  private put(member: Member, nowMs: number): void {
    const previous = this.entries.get(member.id);
    if (previous !== undefined && isLive(previous.state)) this.live--;
    if (isLive(member.state)) this.live++;
    this.entries.set(member.id, member);
    this.suspects.delete(member.id);
    this.down.delete(member.id);
    if (member.state === 'suspect') {
      this.suspects.set(member.id, nowMs + this.limits.suspicionTimeoutMs);
    } else if (!isLive(member.state)) {
      this.down.set(member.id, nowMs);
    }
    this.versionValue++;
  }

  private remove(id: string): void {
    const previous = this.entries.get(id);
    if (previous !== undefined && isLive(previous.state)) this.live--;
    this.entries.delete(id);
    this.suspects.delete(id);
    this.down.delete(id);
    this.versionValue++;
  }

  /** Makes room by forgetting the member that has been down longest; false if none is. */
  private evictOldestDown(): boolean {
    let oldest: string | undefined;
    let oldestSince = Number.POSITIVE_INFINITY;
    for (const [id, since] of this.down) {
      if (id !== this.selfId && since < oldestSince) {
        oldest = id;
        oldestSince = since;
      }
    }
    if (oldest === undefined) return false;
    this.remove(oldest);
    return true;
  }
}
