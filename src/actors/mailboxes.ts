/**
 * The mailboxes of the function actors on this node, held by the supervisor so that a
 * message survives its target's executor thread being replaced. A message waits in its
 * mailbox until `recv` drains it; an untouched mailbox is dropped `ttlMs` after its last
 * delivery or read (SPEC: never lost while the target lives or within messageTtlMs after).
 * Both the messages per mailbox and the number of mailboxes are bounded: a full mailbox is
 * a typed error to the sender, never unbounded growth. The clock is passed in.
 */
import { UnavailableError } from '../errors.js';
import type { MailMessage } from './messages.js';

export interface MailboxLimits {
  messagesMax: number;
  mailboxesMax: number;
  ttlMs: number;
}

export const DEFAULT_MAILBOX_LIMITS: MailboxLimits = {
  messagesMax: 10_000,
  mailboxesMax: 100_000,
  ttlMs: 60_000,
};

interface Mailbox {
  messages: MailMessage[];
  touchedMs: number;
  /** Ids of messages delivered lately, oldest first, at most `messagesMax` of them. */
  seen: Set<string>;
}

export class Mailboxes {
  readonly #limits: MailboxLimits;
  readonly #now: () => number;
  readonly #boxes = new Map<string, Mailbox>();

  readonly #live: (actorId: string) => boolean;

  /** `live`: actors whose mail is kept past the ttl, also when room is made for a new box. */
  constructor(
    limits: MailboxLimits,
    now: () => number,
    live: (actorId: string) => boolean = () => false,
  ) {
    this.#limits = limits;
    this.#now = now;
    this.#live = live;
  }

  get size(): number {
    return this.#boxes.size;
  }

  /** Adds a message; false (and nothing changes) when a message with its id was seen. */
  deliver(to: string, message: MailMessage): boolean {
    let box = this.#boxes.get(to);
    if (box === undefined) {
      if (this.#boxes.size >= this.#limits.mailboxesMax) this.sweep(this.#live);
      if (this.#boxes.size >= this.#limits.mailboxesMax) {
        throw new UnavailableError(`node holds ${this.#limits.mailboxesMax} mailboxes, its limit`);
      }
      box = { messages: [], touchedMs: this.#now(), seen: new Set() };
      this.#boxes.set(to, box);
    }
    if (message.id !== undefined && box.seen.has(message.id)) return false;
    if (box.messages.length >= this.#limits.messagesMax) {
      throw new UnavailableError(
        `mailbox of ${to} is full (${this.#limits.messagesMax} messages not yet received)`,
      );
    }
    box.messages.push(message);
    box.touchedMs = this.#now();
    if (message.id !== undefined) {
      box.seen.add(message.id);
      if (box.seen.size > this.#limits.messagesMax)
        box.seen.delete(box.seen.values().next().value as string);
    }
    return true;
  }

  /** Drains the mailbox; keeps it alive for another ttl. */
  take(actorId: string): MailMessage[] {
    const box = this.#boxes.get(actorId);
    if (box === undefined) return [];
    box.touchedMs = this.#now();
    if (box.messages.length === 0) return [];
    const messages = box.messages;
    box.messages = [];
    return messages;
  }

  has(actorId: string): boolean {
    return this.#boxes.has(actorId);
  }

  /** Empties every mailbox that holds messages not yet received, giving them (a graceful stop). */
  takeUndelivered(): [string, MailMessage[]][] {
    const out: [string, MailMessage[]][] = [];
    for (const actorId of this.#boxes.keys()) {
      // Taken, not copied: a recv still running here must not deliver them a second time.
      const messages = this.take(actorId);
      if (messages.length > 0) out.push([actorId, messages]);
    }
    return out;
  }

  /**
   * Drops mailboxes untouched for longer than the ttl, except those of actors `live` says
   * are alive (SPEC: a message is kept while its target lives); returns how many.
   */
  sweep(live: (actorId: string) => boolean = () => false): number {
    const oldestMs = this.#now() - this.#limits.ttlMs;
    let dropped = 0;
    for (const [actorId, box] of this.#boxes) {
      if (box.touchedMs < oldestMs && !live(actorId)) {
        this.#boxes.delete(actorId);
        dropped += 1;
      }
    }
    return dropped;
  }
}
