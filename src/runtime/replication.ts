/**
 * The replication core: how the owners of a key keep their copies the same, and how keys
 * move when the ring changes. A protocol core (DESIGN.md, principle 1): it sees the time
 * it is handed, the ring view, and the node's shard through `ReplicaStore`, and answers
 * with messages to send and timers to arm.
 *
 * - Gossip: a merged change marks the key dirty for its co-owners, with the change itself
 *   (a delta: the write, or what a peer sent); every `gossipIntervalMs` each co-owner gets
 *   the join of a key's deltas since its last round, not the key's whole value (bounded
 *   batches). Sending whole values made every add to a set of n elements cost n on the
 *   wire, in the co-owner's decode and merge and in its log, ten times a second.
 * - Anti-entropy: every `antiEntropyIntervalMs` the node sends one peer the bucket sums of
 *   the keys both own. The peer says back whether they are equal; where buckets differ it
 *   sends its fingerprint of each key in them, and the keys that differ (or that one side
 *   lacks) are exchanged both ways, a batch per round. Sending whole buckets' entries
 *   instead re-sent the same first batch every round once more keys differed than one
 *   batch holds, and the rest never converged. This repairs whatever gossip lost, a
 *   restart missed or a partition kept apart; `matched(peer)` tells a restarted node that
 *   it has caught up.
 * - Hand-off: when the ring changes, each key goes to its new owners in acknowledged
 *   batches, one batch in flight per peer; a node that no longer owns a key deletes it
 *   only once every owner acknowledged it. Reads during a hand-off are the host's concern
 *   (it also asks the previous owners).
 *
 * Invariants: nothing is deleted before its owners acknowledged it; every queue is bounded
 * (dirty keys per peer by `dirtyKeysMax`, past which anti-entropy takes over; one batch in
 * flight per peer); merges are idempotent, so duplicates and re-sends are harmless.
 */
import type { Lattice } from '../storage/index.js';
import { merge, toWire } from '../storage/index.js';
import type { CoreEffect, CoreEnv, ProtocolCore } from './core_effects.js';
import { HashRing } from './hash_ring.js';
import { bucketSums, FingerprintCache } from './replication_digest.js';
import { entryLattice, type ReplicaMessage, type WireEntry } from './replication_messages.js';

export interface ReplicaStore {
  get(key: string): Lattice | undefined;
  /**
   * Merges; true when the stored value changed, in which case the host calls
   * `Replication.changed(key)` before returning. May throw (a kind mismatch): then skipped.
   */
  merge(key: string, value: Lattice): boolean;
  keys(): Iterable<string>;
  delete(key: string): void;
}

export interface RingView {
  ring: HashRing;
  /** Copies of each key (already capped at the ring's size). */
  replication: number;
  addressOf(id: string): string | undefined;
  /** Where a key lives; default `ring.owners(key, replication)`. */
  placement?: (key: string) => string[];
}

/** The owners of `key` under `view`, in preference order. */
export function ownersIn(view: RingView, key: string): string[] {
  return view.placement === undefined
    ? view.ring.owners(key, view.replication)
    : view.placement(key);
}

export interface ReplicationConfig {
  gossipIntervalMs: number;
  antiEntropyIntervalMs: number;
  batchKeysMax: number;
  buckets: number;
  /** Key fingerprints in one anti-entropy message (FINGERPRINTS_PER_MESSAGE_MAX at most). */
  fingerprintsMax: number;
  dirtyKeysMax: number;
  handoffAckTimeoutMs: number;
}

export const DEFAULT_REPLICATION_CONFIG: ReplicationConfig = {
  gossipIntervalMs: 100,
  antiEntropyIntervalMs: 1000,
  batchKeysMax: 512,
  buckets: 64,
  fingerprintsMax: 65_536,
  dirtyKeysMax: 100_000,
  handoffAckTimeoutMs: 2000,
};

type Effects = CoreEffect<ReplicaMessage>[];

/** What a co-owner is sent for a dirty key: the join of its deltas, or its whole value. */
const WHOLE = Symbol('whole value');
type Pending = Lattice | typeof WHOLE;

/** `pending` joined with one more change (`undefined`: the whole value must go). */
function joinPending(pending: Pending, delta: Lattice | undefined): Pending {
  if (pending === WHOLE || delta === undefined) return WHOLE;
  try {
    return merge(pending, delta);
  } catch {
    // Deltas of two kinds (owners that crossed first writes of different kinds): whichever
    // kind the key kept here, its whole value says it.
    return WHOLE;
  }
}

interface Handoff {
  queue: Set<string>;
  /** The batch awaiting its ack, with the value each key had when it was sent. */
  inFlight:
    | { seq: number; keys: string[]; sent: (Lattice | undefined)[]; sentMs: number }
    | undefined;
}

export class Replication implements ProtocolCore<ReplicaMessage> {
  readonly #self: string;
  readonly #config: ReplicationConfig;
  readonly #store: ReplicaStore;
  readonly #env: CoreEnv;
  readonly #fingerprints = new FingerprintCache();
  /** Per co-owner: the keys changed since its last round, each with its joined delta. */
  readonly #dirty = new Map<string, Map<string, Pending>>();
  readonly #handoffs = new Map<string, Handoff>();
  /** Keys this node no longer owns, with the owners that have yet to acknowledge them. */
  readonly #leaving = new Map<string, Set<string>>();
  #view: RingView | undefined;
  #idByAddress = new Map<string, string>();
  #seq = 1;
  #aeCursor = 0;
  /** The peer whose entries are being merged right now (so `changed` skips it). */
  #mergingFrom: string | undefined;
  /** Keys changed (and queued for gossip) in this gossip round and the one before (`#busy`). */
  #changedNow = new Set<string>();
  #changedBefore = new Set<string>();
  /** Anti-entropy rounds so far: every BUSY_SKIPPED_ROUNDS_MAX-th compares busy keys too. */
  #aeRounds = 0;
  /** Peers this node has caught up with since it started (see `matched`). */
  readonly #matched = new Set<string>();
  /** Peers it will have caught up with once the answer to its last want arrives. */
  readonly #matchOnAnswer = new Set<string>();

  constructor(
    selfId: string,
    config: Partial<ReplicationConfig>,
    store: ReplicaStore,
    env: CoreEnv,
  ) {
    this.#self = selfId;
    this.#config = { ...DEFAULT_REPLICATION_CONFIG, ...config };
    this.#store = store;
    this.#env = env;
  }

  start(): Effects {
    return [
      { t: 'timer', name: 'gossip', afterMs: this.#config.gossipIntervalMs },
      { t: 'timer', name: 'anti-entropy', afterMs: this.#config.antiEntropyIntervalMs },
    ];
  }

  /** Keys waiting to be handed off (for status and tests). */
  pendingHandoff(): number {
    let count = 0;
    for (const h of this.#handoffs.values()) count += h.queue.size + (h.inFlight?.keys.length ?? 0);
    return count;
  }

  /**
   * Whether this node has caught up with `peer` since it started: an anti-entropy round
   * found their copies of the keys they share equal, or found every key that differed
   * (all of the differing buckets, one batch each way) and exchanged them. A node back
   * from a restart then has the writes that peer took while it was down. Equal digests
   * alone were too strict: under a steady stream of writes some bucket is nearly always
   * in flight (a chaos soak: restarted nodes took 15–30 s to say they had caught up).
   */
  matched(peer: string): boolean {
    return this.#matched.has(peer);
  }

  owners(key: string): string[] {
    const view = this.#view;
    return view === undefined ? [this.#self] : ownersIn(view, key);
  }

  /** A new ring: re-place every key; queue hand-offs to owners that did not have it. */
  setView(view: RingView, nowMs: number): Effects {
    const previous = this.#view;
    this.#view = view;
    this.#idByAddress = new Map();
    for (const id of view.ring.nodes) {
      const address = view.addressOf(id);
      if (address !== undefined) this.#idByAddress.set(address, id);
    }
    for (const [peer, handoff] of this.#handoffs) {
      for (const key of handoff.queue)
        if (!this.owners(key).includes(peer)) handoff.queue.delete(key);
    }
    for (const key of this.#store.keys()) {
      const before = previous === undefined ? [this.#self] : ownersIn(previous, key);
      this.#place(key, before);
    }
    return this.#sendHandoffs(nowMs);
  }

  /**
   * A key's value changed here (a client write or a merge from a peer; the host calls this
   * for every change to its shard). A change merged from a peer is not gossiped back to it.
   * `delta` is the change (what was merged in), which the co-owners are sent instead of the
   * key's whole value; without it they get the whole value.
   */
  changed(key: string, delta?: Lattice): void {
    const fromPeer = this.#mergingFrom;
    this.#fingerprints.forget(key);
    const owners = this.owners(key);
    if (!owners.includes(this.#self)) {
      this.#place(key, owners);
      return;
    }
    // Busy (`#busy`) when every co-owner has the change or has it queued for gossip; with
    // no co-owner nothing compares it, so it is not kept at all.
    let coOwners = 0;
    let queued = true;
    for (const owner of owners) {
      if (owner === this.#self) continue;
      coOwners += 1;
      if (owner === fromPeer) continue;
      let dirty = this.#dirty.get(owner);
      if (dirty === undefined) {
        dirty = new Map();
        this.#dirty.set(owner, dirty);
      }
      const pending = dirty.get(key);
      if (pending !== undefined) dirty.set(key, joinPending(pending, delta));
      else if (dirty.size < this.#config.dirtyKeysMax) dirty.set(key, delta ?? WHOLE);
      else queued = false;
    }
    // Left to anti-entropy only when gossip cannot take it (its queue was full).
    if (!queued) {
      this.#changedNow.delete(key);
      this.#changedBefore.delete(key);
    } else if (coOwners > 0) this.#changedNow.add(key);
  }

  /**
   * Whether `key` changed here within the last two gossip rounds, the change on its way to
   * the co-owners by gossip. Anti-entropy leaves such keys out — their copies differ only
   * by what is in flight — and takes them up once they are quiet: comparing them shipped a
   * whole value for every key written all the time (a chaos run: sets of 20k elements,
   * each sent both ways every round, took the cluster from 7k to 1.5k operations a second).
   * Every BUSY_SKIPPED_ROUNDS_MAX-th round compares them all the same.
   */
  #busy(key: string): boolean {
    if (this.#comparesBusy) return false;
    return this.#changedNow.has(key) || this.#changedBefore.has(key);
  }

  /** Whether this anti-entropy round compares busy keys too (every BUSY_SKIPPED_ROUNDS_MAX-th). */
  get #comparesBusy(): boolean {
    return this.#aeRounds % BUSY_SKIPPED_ROUNDS_MAX === 0;
  }

  /** A key left the shard: drop what this core keeps about it. */
  deleted(key: string): void {
    this.#fingerprints.forget(key);
    for (const dirty of this.#dirty.values()) dirty.delete(key);
  }

  receive(from: string, message: ReplicaMessage, nowMs: number): Effects {
    const peer = this.#idByAddress.get(from);
    switch (message.t) {
      case 'push': {
        this.#mergeEntries(message.entries, peer);
        return message.seq > 0 ? [send(from, { t: 'push-ack', seq: message.seq })] : [];
      }
      case 'push-ack':
        return peer === undefined ? [] : this.#acknowledged(peer, message.seq, nowMs);
      case 'digest':
        return peer === undefined ? [] : this.#answerDigest(from, peer, message.sums);
      case 'in-sync':
        if (peer !== undefined) this.#matched.add(peer);
        return [];
      case 'fingerprints':
        return peer === undefined ? [] : this.#compare(from, peer, message);
      case 'repair': {
        this.#mergeEntries(message.entries, peer);
        if (peer === undefined) return [];
        if (message.answer && this.#matchOnAnswer.delete(peer)) this.#matched.add(peer);
        if (message.want.length === 0) return [];
        const entries = this.#entries(message.want);
        return [send(from, { t: 'repair', entries, want: [], answer: true })];
      }
    }
  }

  fire(name: string, nowMs: number): Effects {
    if (name === 'gossip') {
      this.#changedBefore = this.#changedNow;
      this.#changedNow = new Set();
      return [
        ...this.#gossip(),
        ...this.#sendHandoffs(nowMs),
        { t: 'timer', name, afterMs: this.#config.gossipIntervalMs },
      ];
    }
    if (name === 'anti-entropy') {
      this.#aeRounds += 1;
      return [
        ...this.#antiEntropy(),
        { t: 'timer', name, afterMs: this.#config.antiEntropyIntervalMs },
      ];
    }
    return [];
  }

  /** Queues `key` for its owners that were not among `before`; all of them if we left. */
  #place(key: string, before: string[]): void {
    const owners = this.owners(key);
    const owning = owners.includes(this.#self);
    const targets = owners.filter((o) => o !== this.#self && (!owning || !before.includes(o)));
    for (const target of targets) this.#handoff(target).queue.add(key);
    if (owning) this.#leaving.delete(key);
    else this.#leaving.set(key, new Set(targets));
  }

  #handoff(peer: string): Handoff {
    let handoff = this.#handoffs.get(peer);
    if (handoff === undefined) {
      handoff = { queue: new Set(), inFlight: undefined };
      this.#handoffs.set(peer, handoff);
    }
    return handoff;
  }

  /** Merges entries into the shard; the host reports each change back through `changed`. */
  #mergeEntries(entries: WireEntry[], peer: string | undefined): void {
    this.#mergingFrom = peer;
    try {
      for (const entry of entries) {
        const value = entryLattice(entry);
        if (value === undefined) continue;
        try {
          this.#store.merge(entry[0], value);
        } catch {
          // a kind mismatch: this entry is skipped, the others still merge
        }
      }
    } finally {
      this.#mergingFrom = undefined;
    }
  }

  #entry(key: string): WireEntry | undefined {
    const value = this.#store.get(key);
    return value === undefined ? undefined : [key, toWire(value)];
  }

  /** The entries of those of `keys` held here. */
  #entries(keys: string[]): WireEntry[] {
    const entries: WireEntry[] = [];
    for (const key of keys) {
      const entry = this.#entry(key);
      if (entry !== undefined) entries.push(entry);
    }
    return entries;
  }

  #gossip(): Effects {
    const effects: Effects = [];
    for (const [peer, dirty] of this.#dirty) {
      const address = this.#view?.addressOf(peer);
      if (address === undefined) {
        this.#dirty.delete(peer);
        continue;
      }
      const entries: WireEntry[] = [];
      for (const [key, pending] of dirty) {
        dirty.delete(key);
        const entry: WireEntry | undefined =
          pending === WHOLE ? this.#entry(key) : [key, toWire(pending)];
        if (entry !== undefined) entries.push(entry);
        if (entries.length >= this.#config.batchKeysMax) break;
      }
      if (dirty.size === 0) this.#dirty.delete(peer);
      if (entries.length > 0) effects.push(send(address, { t: 'push', seq: 0, entries }));
    }
    return effects;
  }

  /** Sends the next batch to every peer with no batch in flight, and re-sends stale ones. */
  #sendHandoffs(nowMs: number): Effects {
    const effects: Effects = [];
    for (const [peer, handoff] of this.#handoffs) {
      const address = this.#view?.addressOf(peer);
      if (address === undefined || !this.#view?.ring.nodes.includes(peer)) {
        this.#handoffs.delete(peer);
        continue;
      }
      const stale =
        handoff.inFlight !== undefined &&
        nowMs - handoff.inFlight.sentMs >= this.#config.handoffAckTimeoutMs;
      if (handoff.inFlight !== undefined && !stale) continue;
      const keys = handoff.inFlight?.keys ?? this.#takeBatch(handoff.queue);
      if (keys.length === 0) continue;
      const seq = this.#seq++;
      const sent = keys.map((k) => this.#store.get(k));
      handoff.inFlight = { seq, keys, sent, sentMs: nowMs };
      const entries = keys.map((k) => this.#entry(k)).filter((e) => e !== undefined);
      effects.push(send(address, { t: 'push', seq, entries }));
    }
    return effects;
  }

  #takeBatch(queue: Set<string>): string[] {
    const keys: string[] = [];
    for (const key of queue) {
      queue.delete(key);
      keys.push(key);
      if (keys.length >= this.#config.batchKeysMax) break;
    }
    return keys;
  }

  #acknowledged(peer: string, seq: number, nowMs: number): Effects {
    const handoff = this.#handoffs.get(peer);
    if (handoff?.inFlight?.seq !== seq) return [];
    const { keys, sent } = handoff.inFlight;
    for (const [i, key] of keys.entries()) {
      const waiting = this.#leaving.get(key);
      if (waiting === undefined) continue;
      // A value that changed after the batch left is not acknowledged by it: it is queued
      // again (changed() did that) and must not be deleted on the strength of the old copy.
      // The shard keeps the very same object while a value is unchanged.
      if (this.#store.get(key) !== sent[i]) continue;
      waiting.delete(peer);
      if (waiting.size === 0 && !this.owners(key).includes(this.#self)) {
        this.#leaving.delete(key);
        this.#fingerprints.forget(key);
        this.#store.delete(key);
      }
    }
    handoff.inFlight = undefined;
    return this.#sendHandoffs(nowMs);
  }

  /** `#coOwned` without the keys gossip is carrying right now (`#busy`). */
  *#quietCoOwned(peer: string): Generator<[string, Lattice]> {
    for (const entry of this.#coOwned(peer)) if (!this.#busy(entry[0])) yield entry;
  }

  /** Entries of the keys co-owned with `peer`, as [key, value] pairs. */
  *#coOwned(peer: string): Generator<[string, Lattice]> {
    for (const key of this.#store.keys()) {
      const owners = this.owners(key);
      if (!owners.includes(this.#self) || !owners.includes(peer)) continue;
      const value = this.#store.get(key);
      if (value !== undefined) yield [key, value];
    }
  }

  #bucketOf = (key: string): number => HashRing.bucketOf(key, this.#config.buckets);

  /**
   * One round: a digest to every peer this node has not yet caught up with (`matched`) —
   * a node back from a restart so catches up with all of them in its first round instead
   * of one a round — or, once it has with all, to one peer in turn.
   */
  #antiEntropy(): Effects {
    const view = this.#view;
    if (view === undefined) return [];
    const peers = view.ring.nodes.filter((id) => id !== this.#self);
    if (peers.length === 0) return [];
    const unmatched = peers.filter((id) => !this.#matched.has(id));
    if (unmatched.length > 0) return this.#digestsTo(unmatched);
    if (this.#aeCursor === 0) this.#aeCursor = Math.floor(this.#env.random() * peers.length);
    return this.#digestsTo([peers[this.#aeCursor++ % peers.length]!]);
  }

  #digestsTo(peers: string[]): Effects {
    const effects: Effects = [];
    for (const peer of peers) {
      const address = this.#view?.addressOf(peer);
      if (address === undefined) continue;
      const sums = bucketSums(
        this.#quietCoOwned(peer),
        this.#config.buckets,
        this.#bucketOf,
        this.#fingerprints,
      );
      effects.push(send(address, { t: 'digest', sums }));
    }
    return effects;
  }

  #answerDigest(from: string, peer: string, theirs: number[]): Effects {
    const ours = bucketSums(
      this.#quietCoOwned(peer),
      this.#config.buckets,
      this.#bucketOf,
      this.#fingerprints,
    );
    if (theirs.length !== ours.length) return [];
    const differing = ours.flatMap((sum, b) => (sum === theirs[b] ? [] : [b]));
    if (differing.length === 0) {
      // Said back too, so the sender learns it as soon as we do.
      this.#matched.add(peer);
      return [send(from, { t: 'in-sync' })];
    }
    return [send(from, this.#fingerprintsIn(peer, differing))];
  }

  /**
   * Our fingerprints of the keys shared with `peer` in the differing buckets: as many whole
   * buckets as one message holds, from a random one on (so later rounds cover the others),
   * or a random run of one bucket too large for a message.
   */
  #fingerprintsIn(peer: string, differing: number[]): ReplicaMessage {
    const byBucket = new Map<number, [string, number][]>(differing.map((b) => [b, []]));
    for (const [key, value] of this.#coOwned(peer)) {
      const fp = this.#busy(key) ? BUSY_FINGERPRINT : this.#fingerprints.of(key, value);
      byBucket.get(this.#bucketOf(key))?.push([key, fp]);
    }
    const max = this.#config.fingerprintsMax;
    const buckets: number[] = [];
    let fps: [string, number][] = [];
    const start = Math.floor(this.#env.random() * differing.length);
    for (let i = 0; i < differing.length; i++) {
      const bucket = differing[(start + i) % differing.length]!;
      const list = byBucket.get(bucket) ?? [];
      if (fps.length + list.length > max) {
        if (buckets.length === 0) fps = this.#sample(list, max);
        break;
      }
      buckets.push(bucket);
      for (const fp of list) fps.push(fp);
    }
    return { t: 'fingerprints', buckets, fps, complete: buckets.length === differing.length };
  }

  /**
   * Compares a peer's fingerprints with ours: sends our entries for keys that differ or
   * that it lacks (in the buckets it listed whole), and asks for its entries of keys that
   * differ or that we lack. A batch of each per round; whatever is left differs next round.
   */
  #compare(
    from: string,
    peer: string,
    { buckets, fps, complete }: Extract<ReplicaMessage, { t: 'fingerprints' }>,
  ): Effects {
    const give: string[] = [];
    const want: string[] = [];
    const listed = new Set<string>();
    for (const [key, fp] of fps) {
      listed.add(key);
      if (fp === BUSY_FINGERPRINT) {
        // Busy there: skipped, but for the rounds that compare busy keys too (`#busy`).
        if (this.#comparesBusy) {
          give.push(key);
          want.push(key);
        }
        continue;
      }
      if (this.#busy(key)) continue;
      const value = this.#store.get(key);
      if (value === undefined) want.push(key);
      else if (this.#fingerprints.of(key, value) !== fp) {
        give.push(key);
        want.push(key);
      }
    }
    const whole = new Set(buckets);
    if (whole.size > 0) {
      for (const [key] of this.#quietCoOwned(peer))
        if (!listed.has(key) && whole.has(this.#bucketOf(key))) give.push(key);
    }
    const batch = this.#config.batchKeysMax;
    const entries = this.#entries(this.#sample(give, batch));
    const wanted = this.#sample(want, batch);
    // Every differing key is in this one exchange: once the peer's answer is merged, this
    // node has all the peer had when it listed them.
    this.#matchOnAnswer.delete(peer);
    if (complete && give.length <= batch && want.length <= batch) {
      if (wanted.length === 0) this.#matched.add(peer);
      else this.#matchOnAnswer.add(peer);
    }
    if (entries.length === 0 && wanted.length === 0) return [];
    return [send(from, { t: 'repair', entries, want: wanted, answer: false })];
  }

  /** At most `count` items of `items`, a run from a random start (wrapping around). */
  #sample<T>(items: T[], count: number): T[] {
    if (items.length <= count) return items;
    const start = Math.floor(this.#env.random() * items.length);
    return Array.from({ length: count }, (_, i) => items[(start + i) % items.length]!);
  }
}

/**
 * Sent for a key that gossip is carrying right now (`#busy`): "skip it". Real fingerprints
 * are 32-bit, so this one is never a key's.
 */
const BUSY_FINGERPRINT = 2 ** 32;

/**
 * Every this many anti-entropy rounds, busy keys are compared too: a node that missed
 * writes to a key written all the time (down, or a lost gossip round) gets them within
 * this many rounds rather than only once the key goes quiet.
 */
const BUSY_SKIPPED_ROUNDS_MAX = 5;

function send(to: string, message: ReplicaMessage): CoreEffect<ReplicaMessage> {
  return { t: 'send', to, message };
}
