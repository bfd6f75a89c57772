/**
 * What a chaos run's clients were told and what they saw, and the verdict drawn from it.
 * A write the cluster acknowledged is recorded as acknowledged; one that failed (its node
 * was killed under it, say) only as attempted, since it may or may not have been applied.
 * The verdict then tells what must hold whatever the faults were — violations — from what
 * the design allows and a report should only count: a message delivered into a node's
 * memory and lost with it at a `kill -9`, an own last-writer-wins read served by the other
 * owner before gossip reached it, errors while a node was down.
 *
 * Kept apart from the processes and the clients so that its rules are unit-tested.
 */

export interface ChaosFinal {
  /** Each set key's elements, as every node answered it at the end (they must agree). */
  sets: Map<string, string[]>;
  /** Each counter key's value at the end. */
  counters: Map<string, number>;
  /** Each client's own last-writer-wins key's value at the end. */
  lww: Map<string, number>;
}

export interface ChaosVerdict {
  violations: string[];
  /** Acknowledged messages never received: allowed (in a killed node's memory), counted. */
  messagesLost: number;
  /** A few of them: when each was sent, and to which inbox (to set beside the faults). */
  lostSamples: string[];
  /**
   * Messages received twice under the same platform id: the one case the design allows
   * (received just before a `kill -9` that also lost the sender's acknowledgement, so the
   * sender wrote it to the fallback mailbox too). Under two ids it is a violation.
   */
  messagesTwiceSameId: number;
  messagesReceived: number;
  messagesAcked: number;
  /** Own last-writer-wins reads older than the client's last acknowledged write. */
  lwwStale: number;
  lwwReads: number;
}

const VIOLATIONS_LISTED_MAX = 20;
const LOST_LISTED_MAX = 10;

export class ChaosLedger {
  readonly setAcked = new Map<string, Set<string>>();
  readonly setAttempted = new Map<string, Set<string>>();
  readonly counterAcked = new Map<string, number>();
  readonly counterAttempted = new Map<string, number>();
  /** Per own key: the last acknowledged value, and the highest one ever written. */
  readonly lwwAcked = new Map<string, number>();
  readonly lwwAttempted = new Map<string, number>();
  /** Message id → whether the send was acknowledged. */
  readonly messagesSent = new Map<string, boolean>();
  readonly messagesReceived = new Map<string, number>();
  /** When (ms since `originMs`) and to / from which inbox, to tell a violation's story. */
  readonly #sentAt = new Map<string, [number, number]>();
  readonly #receivedAt = new Map<string, string[]>();
  /** The platform's id (`ReceivedMessage.id`) each message was first received under. */
  readonly #receivedAs = new Map<string, string>();
  /** Messages received again under the id of their first receipt. */
  readonly #twiceSameId = new Set<string>();
  readonly #originMs: number;
  /** Failed operations by error code (`TIMEOUT`, `UNAVAILABLE`, …) and kind of operation. */
  readonly errors = new Map<string, number>();
  /** Wrong answers seen while running (a call's result, a set missing what was read before). */
  readonly wrong: string[] = [];
  operations = 0;
  lwwReads = 0;
  lwwStale = 0;

  /** `originMs`: the run's start, which the times in violations count from. */
  constructor(originMs = Date.now()) {
    this.#originMs = originMs;
  }

  #at(): string {
    return `${((Date.now() - this.#originMs) / 1000).toFixed(2)} s`;
  }

  attemptSet(key: string, element: string): void {
    addTo(this.setAttempted, key, element);
  }

  ackSet(key: string, element: string): void {
    addTo(this.setAcked, key, element);
  }

  attemptCounter(key: string, by: number): void {
    this.counterAttempted.set(key, (this.counterAttempted.get(key) ?? 0) + by);
  }

  ackCounter(key: string, by: number): void {
    this.counterAcked.set(key, (this.counterAcked.get(key) ?? 0) + by);
  }

  attemptLww(key: string, value: number): void {
    this.lwwAttempted.set(key, Math.max(this.lwwAttempted.get(key) ?? value, value));
  }

  ackLww(key: string, value: number): void {
    this.lwwAcked.set(key, Math.max(this.lwwAcked.get(key) ?? value, value));
  }

  /** A client read its own key: older than its last acknowledged write is stale. */
  readLww(key: string, value: unknown): void {
    this.lwwReads += 1;
    const acked = this.lwwAcked.get(key);
    if (acked === undefined) return;
    if (typeof value !== 'number' || value < acked) this.lwwStale += 1;
    if (typeof value === 'number' && value > (this.lwwAttempted.get(key) ?? -1))
      this.wrong.push(`${key} read ${value}, a value never written`);
  }

  sent(id: string, acknowledged: boolean, inbox = -1): void {
    this.messagesSent.set(id, acknowledged || this.messagesSent.get(id) === true);
    if (!acknowledged) this.#sentAt.set(id, [Date.now() - this.#originMs, inbox]);
  }

  /** `platformId`: the id the platform gave it (`ReceivedMessage.id`), when known. */
  received(id: unknown, inbox = -1, platformId?: string): void {
    const key = String(id);
    const count = (this.messagesReceived.get(key) ?? 0) + 1;
    this.messagesReceived.set(key, count);
    const where = `at ${this.#at()} from inbox ${inbox}`;
    if (count === 1) {
      this.#receivedAt.set(key, [where]);
      if (platformId !== undefined) this.#receivedAs.set(key, platformId);
      return;
    }
    this.#receivedAt.get(key)?.push(where);
    if (count === 2 && platformId !== undefined && this.#receivedAs.get(key) === platformId)
      this.#twiceSameId.add(key);
  }

  /** What is known of a message's journey, for a violation's text. */
  #journey(id: string): string {
    const sent = this.#sentAt.get(id);
    const to =
      sent === undefined
        ? 'never sent'
        : `sent at ${(sent[0] / 1000).toFixed(2)} s to inbox ${sent[1]}`;
    const received = this.#receivedAt.get(id);
    return received === undefined ? to : `${to}, received ${received.join(', ')}`;
  }

  failed(operation: string, error: unknown): void {
    const code = (error as { code?: unknown } | null)?.code;
    const label = `${operation} ${typeof code === 'string' ? code : (error as Error)?.name}`;
    this.errors.set(label, (this.errors.get(label) ?? 0) + 1);
  }

  /** Checks the end state against what was acknowledged and attempted. */
  verdict(final: ChaosFinal): ChaosVerdict {
    const violations = [...this.wrong];
    this.#checkSets(final, violations);
    this.#checkCounters(final, violations);
    this.#checkLww(final, violations);
    let lost = 0;
    let acked = 0;
    const lostSamples: string[] = [];
    for (const [id, acknowledged] of this.messagesSent) {
      if (!acknowledged) continue;
      acked += 1;
      if (this.messagesReceived.has(id)) continue;
      lost += 1;
      if (lostSamples.length < LOST_LISTED_MAX) lostSamples.push(`${id} ${this.#journey(id)}`);
    }
    for (const [id, count] of this.messagesReceived) {
      if (count > 1 && !(count === 2 && this.#twiceSameId.has(id)))
        violations.push(`message ${id} received ${count} times (${this.#journey(id)})`);
      if (!this.messagesSent.has(id)) violations.push(`message ${id} received, never sent`);
    }
    const listed = violations.slice(0, VIOLATIONS_LISTED_MAX);
    if (violations.length > listed.length)
      listed.push(`… and ${violations.length - listed.length} more`);
    return {
      violations: listed,
      messagesLost: lost,
      lostSamples,
      messagesTwiceSameId: this.#twiceSameId.size,
      messagesReceived: this.messagesReceived.size,
      messagesAcked: acked,
      lwwStale: this.lwwStale,
      lwwReads: this.lwwReads,
    };
  }

  #checkSets(final: ChaosFinal, violations: string[]): void {
    for (const [key, acked] of this.setAcked) {
      const held = new Set(final.sets.get(key) ?? []);
      const missing = [...acked].filter((element) => !held.has(element));
      if (missing.length > 0)
        violations.push(`${key} lost ${missing.length} acknowledged elements (${missing[0]}, …)`);
    }
    for (const [key, elements] of final.sets) {
      const attempted = this.setAttempted.get(key) ?? new Set();
      const stray = elements.filter((element) => !attempted.has(element));
      if (stray.length > 0) violations.push(`${key} holds ${stray[0]}, never written`);
    }
  }

  #checkCounters(final: ChaosFinal, violations: string[]): void {
    for (const [key, attempted] of this.counterAttempted) {
      const acked = this.counterAcked.get(key) ?? 0;
      const value = final.counters.get(key) ?? 0;
      if (value < acked) violations.push(`${key} is ${value}, below its ${acked} acknowledged`);
      if (value > attempted)
        violations.push(`${key} is ${value}, above its ${attempted} attempted`);
    }
  }

  #checkLww(final: ChaosFinal, violations: string[]): void {
    for (const [key, acked] of this.lwwAcked) {
      const value = final.lww.get(key);
      if (value === undefined || value < acked)
        violations.push(`${key} ends at ${value}, older than its acknowledged ${acked}`);
    }
  }
}

function addTo(map: Map<string, Set<string>>, key: string, element: string): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(element);
}
