/**
 * Direct messages between function actors, on this node or any other (SPEC.md:
 * `ctx.send` / `ctx.recv`). An actor's address starts with its node's id, so a message
 * goes straight to that node's mailboxes over one peer hop. When the node cannot be reached
 * the message is written instead to the actor's fallback mailbox in the KVS
 * (`__squall/mailbox/ADDRESS`, placed on that node first and on its replicas), which
 * `recv` reads, so nothing is lost while the target lives or within `messageTtlMs`.
 * Every message carries an id and a mailbox keeps each id once, so a message that arrived
 * both ways (a reply that was lost, then the fallback) is received once. A full mailbox is
 * an UnavailableError to the sender, never a fallback.
 *
 * Across a restart of the target's node (whose id, and so whose actor addresses, survive
 * with its data dir): a graceful stop first writes every message not yet received to its
 * fallback mailbox, so none is lost; and receiving a message that came through the fallback
 * adds a "taken" marker for its id to the same set, so the restarted node — which has
 * forgotten the ids it saw — does not hand it out again. (A crash loses what was only in
 * memory: messages delivered directly and not yet received.)
 */
import { nanoid } from 'nanoid';
import { Mailboxes, type MailMessage } from '../actors/index.js';
import {
  describeValue,
  NotFoundError,
  TimeoutError,
  UnavailableError,
  ValidationError,
} from '../errors.js';
import { type Lattice, reveal } from '../storage/index.js';
import type { Cluster } from './cluster.js';
import { PeerUnreachableError } from './peer_links.js';
import { MAILBOX_PREFIX } from './placement.js';
import { isRecord } from './validate.js';
import { KeyedWaiters } from './waiters.js';

/** The longest message id a sender may give (a DAG call's id, a function name, a count). */
const MESSAGE_ID_CHARS_MAX = 400;

/** How long past the message ttl a fallback mailbox is kept before it is dropped. */
const MAILBOX_GRACE_MS = 60_000;

export interface MessagingOptions {
  nodeId: string;
  messageTtlMs: number;
  requestTimeoutMs: number;
  cluster: () => Cluster;
  /** Whether a function or class of this name is registered (actor names are these). */
  isRegistered(name: string): boolean;
  /** Whether an actor is alive now: a class, or a call still running. Its mail is kept. */
  isLive(actorId: string): boolean;
  /** The node a class's one instance lives on; undefined when `name` is not a class. */
  classHome(name: string): string | undefined;
  /** The largest message `send` takes. */
  messageBytesMax: number;
  /** The nodes a class lived on before its current home, if it moved within `withinMs`. */
  previousHomes(name: string, withinMs: number): string[];
}

interface Envelope {
  id: string;
  from: string;
  message: Uint8Array;
  sentMs: number;
}

/** Says that the message `id` was received: it must not be handed out again. */
interface TakenMarker {
  id: string;
  taken: true;
  sentMs: number;
}

export class ActorMessaging {
  readonly #o: MessagingOptions;
  readonly #mailboxes: Mailboxes;
  readonly #waiters = new KeyedWaiters<true>(100_000);
  /**
   * Per actor, the messages its mailbox got through a fallback mailbox, until they are
   * taken: each id with the mailbox key it came from, where its "taken" marker goes.
   */
  readonly #viaFallback = new Map<string, Map<string, string>>();
  /** Set by a graceful stop once it saves the mail not yet received: nothing more comes in. */
  #leaving = false;

  constructor(options: MessagingOptions) {
    this.#o = options;
    this.#mailboxes = new Mailboxes(
      { messagesMax: 10_000, mailboxesMax: 100_000, ttlMs: options.messageTtlMs },
      () => Date.now(),
      options.isLive,
    );
  }

  /**
   * The address a message for `to` goes to, checked: NODE/CLASS for a class — sent to the
   * node its instance lives on now, whatever node the address names, since a class's home
   * moves when its node goes — or NODE/FUNCTION/CALL for a call of a plain function.
   * Anything else could never be read, and is refused rather than kept.
   */
  #route(to: string): { node: string; to: string } {
    const parts = to.split('/');
    const [node = '', name = '', callId] = parts;
    if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === ''))
      throw new ValidationError(
        `actor address ${describeValue(to, 80)} is not NODE/NAME or NODE/NAME/CALL (an actor's ctx.id)`,
      );
    // The registry is on every node: an address naming no function is refused here.
    if (!this.#o.isRegistered(name))
      throw new NotFoundError(
        `no function or class ${describeValue(name, 80)} for ${describeValue(to, 80)}`,
      );
    const home = this.#o.classHome(name);
    if (home !== undefined) {
      if (callId !== undefined)
        throw new ValidationError(`${name} is a class: its one actor is NODE/${name}`);
      return { node: home, to: `${home}/${name}` };
    }
    if (callId === undefined)
      throw new ValidationError(
        `${name} is a function: each of its calls is an actor NODE/${name}/CALL (that call's ctx.id)`,
      );
    return { node, to };
  }

  /**
   * Delivers `message` to the actor at `to`, wherever it lives. `id`: the sender's id for
   * it (a DAG function's, the same in a re-run: see CallStep.sendKey); a random one if none.
   */
  async send(from: string, address: string, message: Uint8Array, id?: unknown): Promise<void> {
    if (message.length > this.#o.messageBytesMax)
      throw new ValidationError(
        `a message of ${message.length} bytes is over the limit of ${this.#o.messageBytesMax}`,
      );
    // A class's home is known once this node has joined (briefly waited for).
    if (this.#o.cluster().joining) await this.#o.cluster().whenJoined();
    const { node, to } = this.#route(address);
    const cluster = this.#o.cluster();
    const member =
      node === this.#o.nodeId ? undefined : cluster.membership.members().find((m) => m.id === node);
    if (node !== this.#o.nodeId && member === undefined) {
      throw new NotFoundError(
        `no node ${describeValue(node, 40)} for actor address ${describeValue(to, 80)}`,
      );
    }
    if (member?.state === 'left')
      throw new NotFoundError(`node ${node} has left the cluster: its actors are gone`);
    const given = typeof id === 'string' && id.length > 0 && id.length <= MESSAGE_ID_CHARS_MAX;
    const mail: MailMessage = { from, message, id: given ? id : nanoid(16) };
    if (member === undefined && !this.#leaving) {
      this.#deliverChecked(to, mail);
      return;
    }
    if (member !== undefined && (member.state === 'alive' || member.state === 'suspect')) {
      try {
        const answer = await cluster.peers.request(
          member.address,
          'deliver',
          { to, ...mail },
          this.#o.requestTimeoutMs,
        );
        // Refused by a node on its way out (see `deliverFromPeer`): the fallback has it.
        if (!isRecord(answer) || answer.refused !== 'leaving') return;
      } catch (error) {
        if (!(error instanceof PeerUnreachableError) && !(error instanceof TimeoutError))
          throw error;
      }
    }
    await this.#fallback(cluster, to, mail);
  }

  /** A message for an actor of this node (local or from a peer). */
  deliver(to: string, mail: MailMessage): void {
    if (this.#mailboxes.deliver(to, mail)) this.#waiters.notify(to, true);
  }

  /**
   * `deliver`, for an actor that must be alive here: a call that ended (or never ran here)
   * would never read the message, so the sender is told instead of the mail being kept.
   */
  #deliverChecked(to: string, mail: MailMessage): void {
    if (!this.#o.isLive(to))
      throw new NotFoundError(
        `no actor ${describeValue(to, 80)} is running: a function's actor lives while its call runs`,
      );
    this.deliver(to, mail);
  }

  /** Serves a peer's `deliver` request after validating it. */
  deliverFromPeer(args: unknown): null | { refused: 'leaving' } {
    if (!isRecord(args) || typeof args.to !== 'string' || typeof args.from !== 'string') {
      throw new ValidationError('deliver needs {to, from, message, id}');
    }
    if (!(args.message instanceof Uint8Array) || typeof args.id !== 'string') {
      throw new ValidationError('deliver needs {to, from, message, id}');
    }
    if (!args.to.startsWith(`${this.#o.nodeId}/`))
      throw new NotFoundError(`${args.to} is not on this node`);
    // Mail taken in after the graceful stop saved what was waiting would be lost with this
    // process (a chaos run: messages sent in the last moments of a SIGTERM): the sender
    // writes it to the fallback mailbox instead.
    if (this.#leaving) return { refused: 'leaving' };
    this.#deliverChecked(args.to, { from: args.from, message: args.message, id: args.id });
    return null;
  }

  /** What arrived for `actorId`, waiting up to `timeoutMs` for something to arrive. */
  async recv(actorId: string, timeoutMs: number): Promise<MailMessage[]> {
    await this.#collectFromOldHomes(actorId);
    const cluster = this.#o.cluster();
    // A node back from a restart may lack mail its co-owner took while it was down: read
    // through the other owners until it has caught up (Cluster.catchingUp).
    if (cluster.catchingUp) {
      const key = MAILBOX_PREFIX + actorId;
      const stored = await cluster.read(key).catch(() => undefined);
      this.#collectFallback(actorId, stored, key);
    } else this.#collectFallback(actorId);
    let mail = this.#mailboxes.take(actorId);
    if (mail.length === 0 && timeoutMs > 0) {
      await this.#waiters.wait(actorId, timeoutMs);
      this.#collectFallback(actorId);
      mail = this.#mailboxes.take(actorId);
    }
    await this.#markTaken(actorId, mail);
    return mail;
  }

  /**
   * A graceful stop: moves every message not yet received to its actor's fallback mailbox,
   * which outlives this process (handed off, and in the data dir), so a restart or the
   * actor's next home finds it — moves, so that a recv still running here cannot deliver
   * it too (found by QA: messages received at the next home a second time).
   */
  async saveUndelivered(): Promise<number> {
    this.#leaving = true;
    const cluster = this.#o.cluster();
    const nowMs = Date.now();
    let saved = 0;
    await Promise.all(
      this.#mailboxes.takeUndelivered().map(async ([actorId, mail]) => {
        // Spaced by a µs so that they are read back in the order they arrived.
        const values = mail.map((m, i) => envelopeOf(m, nowMs + i / 1000));
        await cluster.write(MAILBOX_PREFIX + actorId, { kind: 'set', values });
        saved += values.length;
      }),
    );
    return saved;
  }

  /**
   * Whether `value` at `key` is a fallback mailbox whose every entry is past the message
   * ttl (and a grace): nothing in it can be received any more. Every node that holds one
   * drops it (`sweepStored`) and takes no such copy from another, so a fallback mailbox
   * does not grow for good across a class's outages.
   */
  isExpiredMailbox(key: string, value: Lattice): boolean {
    if (!key.startsWith(MAILBOX_PREFIX) || value.kind !== 'set') return false;
    const oldestMs = Date.now() - this.#o.messageTtlMs - MAILBOX_GRACE_MS;
    return (reveal(value) as { sentMs?: unknown }[]).every(
      (entry) => typeof entry.sentMs === 'number' && entry.sentMs < oldestMs,
    );
  }

  /** Drops the stored fallback mailboxes that are all past their time. */
  sweepStored(store: {
    keys(prefix: string): Iterable<string>;
    lattice(key: string): Lattice | undefined;
    delete(key: string): void;
  }): void {
    const expired: string[] = [];
    for (const key of store.keys(MAILBOX_PREFIX)) {
      const value = store.lattice(key);
      if (value !== undefined && this.isExpiredMailbox(key, value)) expired.push(key);
    }
    for (const key of expired) store.delete(key);
  }

  sweep(): void {
    this.#mailboxes.sweep(this.#o.isLive);
    for (const actorId of this.#viaFallback.keys())
      if (!this.#mailboxes.has(actorId)) this.#viaFallback.delete(actorId);
  }

  close(): void {
    this.#waiters.clear();
  }

  async #fallback(cluster: Cluster, to: string, mail: MailMessage): Promise<void> {
    const values = [envelopeOf(mail, Date.now())];
    try {
      await cluster.write(MAILBOX_PREFIX + to, { kind: 'set', values });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      // Over the value limit: the mailbox is full, in the words a sender can act on.
      throw new UnavailableError(
        `mailbox of ${to} is full: its node cannot be reached, and the mail kept for it meanwhile is at its size limit`,
      );
    }
  }

  /** Marks the messages of `mail` that came through the fallback as taken, there. */
  async #markTaken(actorId: string, mail: MailMessage[]): Promise<void> {
    const pending = this.#viaFallback.get(actorId);
    if (pending === undefined || mail.length === 0) return;
    const nowMs = Date.now();
    // Marked in the mailbox each came from: one read from a class's earlier home is marked
    // there, or the class's next home (or this node after a restart) collected it again
    // (a chaos soak: messages received two and three times).
    const byKey = new Map<string, TakenMarker[]>();
    for (const m of mail) {
      const key = m.id === undefined ? undefined : pending.get(m.id);
      if (m.id === undefined || key === undefined) continue;
      pending.delete(m.id);
      const values = byKey.get(key) ?? [];
      values.push({ id: m.id, taken: true, sentMs: nowMs });
      byKey.set(key, values);
    }
    if (pending.size === 0) this.#viaFallback.delete(actorId);
    const cluster = this.#o.cluster();
    await Promise.all(
      [...byKey].map(([key, values]) =>
        // At every live owner before `recv` returns: marked at one owner only, a crash of
        // that node within a gossip interval left the marker nowhere, and the mail was
        // received again (a chaos soak: 2 of 145k messages, taken 10 ms before a kill -9).
        // If even this fails, the messages were received; at worst a restart repeats them.
        cluster.write(key, { kind: 'set', values }, 'all').catch(() => undefined),
      ),
    );
  }

  /**
   * A class that moved here: mail sent to it at a node it lived on before, while that node
   * could not be reached, waits in that node's fallback mailbox for the class — read too.
   */
  async #collectFromOldHomes(actorId: string): Promise<void> {
    const [node, name, extra] = actorId.split('/');
    if (node !== this.#o.nodeId || name === undefined || extra !== undefined) return;
    // Only for as long as mail there can still be received: a read per old home per recv.
    for (const old of this.#o.previousHomes(name, this.#o.messageTtlMs + MAILBOX_GRACE_MS)) {
      const key = `${MAILBOX_PREFIX}${old}/${name}`;
      const stored = await this.#o
        .cluster()
        .read(key)
        .catch(() => undefined);
      if (stored !== undefined) this.#collectFallback(actorId, stored, key);
    }
  }

  /** Moves messages that reached this node through the KVS into the actor's mailbox. */
  #collectFallback(
    actorId: string,
    stored = this.#o.cluster().readHere(MAILBOX_PREFIX + actorId)?.value,
    from = MAILBOX_PREFIX + actorId,
  ): void {
    if (stored === undefined) return;
    const oldestMs = Date.now() - this.#o.messageTtlMs;
    const entries = reveal(stored) as (Envelope | TakenMarker)[];
    const taken = new Set(entries.filter((e) => 'taken' in e).map((e) => e.id));
    const envelopes = entries.filter(
      (e): e is Envelope => !('taken' in e) && e.sentMs >= oldestMs && !taken.has(e.id),
    );
    envelopes.sort((a, b) => a.sentMs - b.sentMs);
    for (const e of envelopes) {
      let fresh: boolean;
      try {
        fresh = this.#mailboxes.deliver(actorId, { from: e.from, message: e.message, id: e.id });
      } catch {
        return;
      }
      if (!fresh) continue;
      let ids = this.#viaFallback.get(actorId);
      if (ids === undefined) {
        ids = new Map();
        this.#viaFallback.set(actorId, ids);
      }
      ids.set(e.id, from);
    }
  }
}

function envelopeOf(mail: MailMessage, sentMs: number): Envelope {
  return { id: mail.id ?? nanoid(16), from: mail.from, message: mail.message, sentMs };
}
