/**
 * This node's part in the cluster: it binds the membership and replication cores to the
 * peer links and to real timers, turns the membership into the ring, and routes reads and
 * writes to the owners of each key (any node accepts any key).
 *
 * - A write goes to an owner (this node when it is one), is stamped and merged there and
 *   acknowledged; with `ack: 'all'` the owner first waits for every other live owner to
 *   merge it. A request that never left (peer unreachable) moves on to the next owner; one
 *   that timed out is not re-sent, so an increment is never applied twice by us.
 * - A read asks the owners in preference order; when an owner lacks the key it also asks
 *   the other owners and the owners under the previous rings, so a read during a hand-off
 *   finds a key that exists.
 * - A node caching a key it does not own subscribes at the owner, which pushes every new
 *   value to it until the subscription expires (renewed while the key stays cached).
 *
 * Registry keys live on every node (each call reads them), and a call's result lives on
 * the node that ran it, so a Future is answered where it was created.
 */
import type pino from 'pino';
import { TimeoutError, UnavailableError, ValidationError } from '../errors.js';
import {
  fromWire,
  type Lattice,
  type LatticeSpec,
  merge,
  specFromWire,
  toWire,
} from '../storage/index.js';
import type { Connection, ConnectionLimits } from './connection.js';
import { CoreHost } from './core_host.js';
import { HashRing } from './hash_ring.js';
import {
  Membership,
  type MembershipConfig,
  type MembershipMessage,
  parseMembershipMessage,
} from './membership.js';
import { type NodeStore, specHasCounter } from './node_store.js';
import { type PeerIdentity, PeerLinks } from './peer_links.js';
import { DEFAULT_REPLICATION, MAILBOX_PREFIX, onEveryNode, ringView } from './placement.js';
import { PushPacer, pushIntervalMs } from './push_pacer.js';
import { ownersIn, Replication, type ReplicationConfig, type RingView } from './replication.js';
import { parseReplicaMessage, type ReplicaMessage } from './replication_messages.js';
import { Subscriptions } from './subscriptions.js';
import { isRecord, requireKey } from './validate.js';

export interface ClusterOptions {
  self: PeerIdentity;
  seeds: string[];
  /** Copies of each key; undefined: 1 alone, 2 once a second node joins. */
  replication: number | undefined;
  token: string | undefined;
  limits: ConnectionLimits;
  store: NodeStore;
  incarnation: number;
  requestTimeoutMs: number;
  log: pino.Logger;
  membership?: Partial<MembershipConfig>;
  replicationConfig?: Partial<ReplicationConfig>;
  subscriptionTtlMs?: number;
  /** Receives one-way peer messages the cluster itself does not know (load reports). */
  onPeerMessage?: (fromAddress: string, core: string, message: unknown) => void;
  /** Told the other ring members' addresses whenever the ring changes. */
  onRingChange?: (peerAddresses: string[]) => void;
  /** Told the id of a member whose link was lost (PeerLinks.onLinkLost). */
  onPeerLost?: (nodeId: string) => void;
  /** Serves peer requests the cluster itself does not know (messages, DAG steps). */
  onPeerRequest?: (fromAddress: string, op: string, args: unknown) => Promise<unknown> | unknown;
}

export type Ack = 'one' | 'all';

const CLUSTER_OPS = new Set(['get', 'put', 'merge', 'subscribe']);

/** Rings kept after a change, for reads that must find keys still being handed off. */
const PREVIOUS_VIEWS_MAX = 3;

/** A peer that keeps refusing this node is reported at most this often. */
const REFUSAL_REPORT_MS = 30_000;
/** When a node that has not reached any seed first says so, then how often again. */
const SEED_WARNING_FIRST_MS = 3_000;
const SEED_WARNING_REPEAT_MS = 30_000;
/** How long a request on a node still joining waits for it to join (see whenJoined). */
const JOIN_WAIT_MS = 3000;

/**
 * The longest a node back from a restart reads its own keys through their other owners
 * (see `catchingUp`): anti-entropy repairs at most a batch of keys per peer and round, so
 * a node that missed many writes needs several rounds; past this it trusts its own copies.
 */
const CATCH_UP_MS_MAX = 60_000;

/** How often an ack-all write tries an owner that could not be reached again. */
const ACK_ALL_RETRY_MS = 100;

export class Cluster {
  readonly #o: ClusterOptions;
  readonly peers: PeerLinks;
  readonly membership: Membership;
  readonly replication: Replication;
  readonly #membershipHost: CoreHost<MembershipMessage>;
  readonly #replicationHost: CoreHost<ReplicaMessage>;
  readonly #subscriptions: Subscriptions;
  readonly #subscriptionTtlMs: number;
  #view: RingView;
  #previousViews: RingView[] = [];
  #membershipVersion = -1;
  #renewTimer: NodeJS.Timeout | undefined;
  /** Set by `leave`: the view without this node then stands, whatever membership says. */
  #leaving = false;
  #seedTimer: NodeJS.Timeout | undefined;
  #conflictLogged: string | undefined;
  /** When each refusing peer was last reported. */
  readonly #refusalsReportedMs = new Map<string, number>();
  /** The last refusal of this node's hello by each peer address (bounded like the above). */
  readonly #refusals = new Map<string, string>();
  /** Until when, at the latest, this node is catching up (`catchingUp`); 0: it is not. */
  #catchUpUntilMs = 0;

  constructor(options: ClusterOptions) {
    this.#o = options;
    const now = () => performance.timeOrigin + performance.now();
    const env = { random: Math.random };
    this.peers = new PeerLinks(
      options.self,
      options.token,
      options.limits,
      (address, error) => this.#onRefused(address, error),
      replicationWanted(options.replication),
    );
    this.peers.onLinkLost = (address) => {
      for (const member of this.membership.members())
        if (member.address === address && member.id !== this.selfId)
          this.#o.onPeerLost?.(member.id);
    };
    this.membership = new Membership(options.self, options.membership ?? {}, env);
    this.replication = new Replication(
      options.self.id,
      options.replicationConfig ?? {},
      this.#replicaStore(),
      env,
    );
    // A node alone with its dead peers hears no message after their deaths: the ring is
    // looked at again after the membership's own timers too (found by QA: the last
    // survivor kept dead owners on its ring, and writes to their keys failed for good).
    this.#membershipHost = new CoreHost(
      this.membership,
      (to, m) => this.peers.sendCore(to, 'membership', m),
      now,
      () => this.#refreshView(),
    );
    this.#replicationHost = new CoreHost(
      this.replication,
      (to, m) => this.peers.sendCore(to, 'replica', m),
      now,
    );
    this.#subscriptionTtlMs = options.subscriptionTtlMs ?? 30_000;
    this.#subscriptions = new Subscriptions({
      ttlMs: this.#subscriptionTtlMs,
      entriesMax: 1_000_000,
    });
    this.#view = this.#makeView([options.self.id]);
    this.peers.handle(
      (from, core, message) => this.#onCore(from, core, message),
      (from, op, args) => this.#onRpc(from, op, args),
    );
  }

  get selfId(): string {
    return this.#o.self.id;
  }

  get view(): RingView {
    return this.#view;
  }

  start(): void {
    this.#replicationHost.apply(this.replication.start());
    this.#membershipHost.apply(
      this.membership.start(this.#o.seeds, this.#o.incarnation, this.#membershipHost.now),
    );
    this.#refreshView();
    // Data recovered from disk and peers to rejoin: the peers took writes meanwhile.
    if (this.#o.store.size > 0 && this.#o.seeds.length > 0)
      this.#catchUpUntilMs = Date.now() + CATCH_UP_MS_MAX;
    this.#renewTimer = setInterval(() => this.#renewSubscriptions(), this.#subscriptionTtlMs / 3);
    this.#renewTimer.unref();
    if (this.#o.seeds.length > 0) this.#warnWhileAlone(SEED_WARNING_FIRST_MS);
  }

  /** Logs, until a seed answers, that none has: a mistyped seed would split the cluster. */
  #warnWhileAlone(afterMs: number): void {
    this.#seedTimer = setTimeout(() => {
      if (this.membership.joined || this.#leaving) return;
      const refused = this.seedsRefused();
      this.#o.log.warn(
        { seeds: this.#o.seeds, ...(refused.length > 0 && { refused }) },
        refused.length > 0
          ? 'seeds refused this node (see why in status): serving as a cluster of one, still trying to join'
          : 'no seed has answered yet: serving as a cluster of one, still trying to join',
      );
      this.#warnWhileAlone(SEED_WARNING_REPEAT_MS);
    }, afterMs);
    this.#seedTimer.unref();
  }

  /** The seeds that refused this node's hello (a wrong token, say), with why. */
  seedsRefused(): { address: string; error: string }[] {
    return this.#o.seeds.flatMap((address) => {
      const error = this.#refusals.get(address);
      return error === undefined ? [] : [{ address, error }];
    });
  }

  adoptPeer(connection: Connection, peer: PeerIdentity): void {
    this.peers.adopt(connection, peer);
  }

  owners(key: string): string[] {
    return ownersIn(this.#view, key);
  }

  /** Whether a node is a live member (this node always is). */
  isAlive(nodeId: string): boolean {
    if (nodeId === this.selfId) return true;
    const member = this.membership.members().find((m) => m.id === nodeId);
    return member !== undefined && (member.state === 'alive' || member.state === 'suspect');
  }

  /**
   * Whether `nodeId` is known to be gone: declared dead or left, or, once this node has
   * joined, not a member at all. A node still joining knows few members yet, and must not
   * take "unknown" for "gone" (it would re-home classes that live on nodes it has not met).
   */
  isGone(nodeId: string): boolean {
    if (nodeId === this.selfId) return false;
    const member = this.membership.members().find((m) => m.id === nodeId);
    if (member === undefined) return this.membership.joined;
    return member.state !== 'alive' && member.state !== 'suspect';
  }

  /** Whether this node is still joining through its seeds (none answered yet). */
  get joining(): boolean {
    return this.#o.seeds.length > 0 && !this.membership.joined;
  }

  /**
   * Resolves once this node has joined its cluster, or JOIN_WAIT_MS after it started (then
   * it goes on with what it knows: seeds that never answer must not slow every request).
   * Until it joins, its ring is itself alone: it would answer reads of keys it holds no
   * copy of with "absent" and take writes as their only owner (found by QA: a node that
   * had just joined, or rejoined, read existing keys as undefined, and an ack-all write
   * taken then was lost with it).
   */
  whenJoined(): Promise<void> {
    if (!this.joining) return Promise.resolve();
    // One wait for every request that arrives meanwhile, not a polling loop each.
    this.#joinWait ??= (async () => {
      const deadlineMs = this.#startedMs + JOIN_WAIT_MS;
      while (this.joining && Date.now() < deadlineMs)
        await new Promise((resolve) => setTimeout(resolve, 20));
    })().finally(() => {
      this.#joinWait = undefined;
    });
    return this.#joinWait;
  }

  readonly #startedMs = Date.now();
  #joinWait: Promise<void> | undefined;

  /** Live members' ids (this node included), sorted. */
  liveNodes(): string[] {
    return this.membership
      .members()
      .filter((m) => m.id === this.selfId || m.state === 'alive' || m.state === 'suspect')
      .map((m) => m.id);
  }

  /** A request to another node by id. */
  requestNode(nodeId: string, op: string, args: unknown, timeoutMs = this.#o.requestTimeoutMs) {
    const address = this.membership.addressOf(nodeId);
    if (address === undefined || !this.isAlive(nodeId)) {
      return Promise.reject(new UnavailableError(`node ${nodeId} is not a live member`));
    }
    return this.peers.request(address, op, args, timeoutMs);
  }

  /** A one-way, best-effort message to another node; false when it is not a live member or the message was dropped (PeerLinks.sendCore). */
  sendNode(nodeId: string, core: string, message: unknown, evenIfDead = false): boolean {
    const address = this.membership.addressOf(nodeId);
    if (address === undefined || (!evenIfDead && !this.isAlive(nodeId))) return false;
    return this.peers.sendCore(address, core, message);
  }

  /** A one-way message to every other live member. */
  broadcast(core: string, message: unknown): void {
    for (const member of this.membership.members()) {
      if (member.id !== this.selfId && (member.state === 'alive' || member.state === 'suspect')) {
        this.peers.sendCore(member.address, core, message);
      }
    }
  }

  /**
   * Whether this node came back from a restart with the data it recovered and has not yet
   * matched an anti-entropy digest with every other ring member: until it has, writes its
   * co-owners took while it was down may be missing here, so a read of a key it owns
   * merges the other owners' copies into its own (found by a chaos soak: a restarted node
   * answered reads of keys rewritten while it was down with their old values for seconds).
   */
  get catchingUp(): boolean {
    if (this.#catchUpUntilMs === 0) return false;
    const nodes = this.#view.ring.nodes;
    const caughtUp =
      !this.joining &&
      nodes.length > 1 &&
      nodes.every((id) => id === this.selfId || this.replication.matched(id));
    if (!caughtUp && Date.now() < this.#catchUpUntilMs) return true;
    this.#catchUpUntilMs = 0;
    this.#o.log.info(
      { ring: nodes },
      caughtUp ? 'caught up with every peer since the restart' : 'stopped waiting to catch up',
    );
    return false;
  }

  /**
   * The answer to a read when this node can give it alone (it owns the key and holds it,
   * or it is the only owner), without a promise; undefined when other nodes must be asked.
   */
  readHere(key: string): { value: Lattice | undefined } | undefined {
    if (this.joining || this.catchingUp) return undefined;
    const owners = this.owners(key);
    if (!owners.includes(this.selfId)) return undefined;
    const value = this.#o.store.lattice(key);
    if (value !== undefined || (owners.length === 1 && this.#previousViews.length === 0))
      return { value };
    return undefined;
  }

  /**
   * A write this node can complete synchronously: it owns the key, keeps no log to wait
   * for, and only one acknowledgement is asked. Undefined otherwise (use `write`).
   */
  writeHere(key: string, spec: LatticeSpec, ack: Ack): Lattice | undefined {
    if (
      ack !== 'one' ||
      this.joining ||
      this.#o.store.durable ||
      !this.owners(key).includes(this.selfId)
    ) {
      return undefined;
    }
    return this.#o.store.write(key, spec);
  }

  /** Reads a key from wherever it lives. `subscribe`: we will cache it; keep us posted. */
  async read(key: string, subscribe = false): Promise<Lattice | undefined> {
    if (this.joining) await this.whenJoined();
    const owners = this.owners(key);
    const owned = owners.includes(this.selfId);
    if (owned && this.catchingUp) return this.readAll(key).catch(() => this.#o.store.lattice(key));
    const local = owned ? this.#o.store.lattice(key) : undefined;
    if (local !== undefined) return local;
    const asked = new Set([this.selfId]);
    const candidates = [owners, ...this.#previousViews.map((view) => ownersIn(view, key))];
    for (const group of candidates) {
      for (const owner of group) {
        if (asked.has(owner)) continue;
        asked.add(owner);
        const value = await this.#remoteGet(owner, key, subscribe).catch(() => undefined);
        if (value !== undefined) return value;
      }
    }
    return undefined;
  }

  /**
   * The merge of every live owner's copy of a key (and of its owners in the views kept from
   * before the last ring changes, which may still hold it during a hand-off). A write
   * acknowledged by every live owner (`ack: 'all'`) is in it as long as one of them lives:
   * causal mode reads this way. UnavailableError when no owner answered.
   */
  async readAll(key: string): Promise<Lattice | undefined> {
    if (this.joining) await this.whenJoined();
    const current = this.owners(key);
    const earlier = this.#previousViews.flatMap((view) => ownersIn(view, key));
    const owners = [...new Set([...current, ...earlier])].filter(
      (id) => id === this.selfId || this.isAlive(id),
    );
    const read = async (owner: string): Promise<{ value: Lattice | undefined } | undefined> => {
      try {
        const value =
          owner === this.selfId
            ? this.#o.store.lattice(key)
            : await this.#remoteGet(owner, key, false, true);
        return { value };
      } catch {
        return undefined;
      }
    };
    const answers = await Promise.all(owners.map(read));
    // Only an owner in the current ring vouches for the key: a node that handed it off may
    // hold nothing (or an old copy) and is merged in only as an extra.
    if (!owners.some((owner, i) => current.includes(owner) && answers[i] !== undefined))
      throw new UnavailableError(`no owner of ${JSON.stringify(key)} could be reached`);
    let merged: Lattice | undefined;
    for (const answer of answers) {
      const value = answer?.value;
      if (value !== undefined) merged = merged === undefined ? value : merge(merged, value);
    }
    return merged;
  }

  /**
   * Writes at an owner and resolves once acknowledged. An owner that
   * cannot be reached is passed over for the next; so is one whose connection closed before
   * it answered (the outcome unknown: TimeoutError) when merging the write twice changes
   * nothing — anything but a counter increment, which counts again at every owner it reaches.
   */
  async write(key: string, spec: LatticeSpec, ack: Ack = 'one'): Promise<void> {
    if (this.joining) await this.whenJoined();
    const owners = this.owners(key);
    if (owners.includes(this.selfId)) {
      await this.#writeHere(key, spec, ack);
      return;
    }
    // A node that caches the key takes the merged value back, to refresh its copy (a
    // function here reads its own write); others are spared a large value's transfer.
    const cached = this.#o.store.caches(key);
    let lastTimeout: TimeoutError | undefined;
    for (const owner of owners) {
      const address = this.#view.addressOf(owner);
      if (address === undefined) continue;
      try {
        // An ack-all write may wait at the owner for another owner to be known dead.
        const timeoutMs = this.#o.requestTimeoutMs + (ack === 'all' ? this.#ackAllWaitMs : 0);
        const request = { key, spec, ack, value: cached };
        const wire = await this.peers.request(address, 'put', request, timeoutMs);
        if (wire !== null && wire !== undefined) this.#o.store.refreshCached(key, fromWire(wire));
        return;
      } catch (error) {
        const retry =
          error instanceof UnavailableError ||
          (error instanceof TimeoutError && !specHasCounter(spec));
        if (!retry) throw error;
        lastTimeout = error instanceof TimeoutError ? error : lastTimeout;
      }
    }
    // Where the outcome at some owner is unknown, say so rather than "not applied".
    throw (
      lastTimeout ?? new UnavailableError(`no owner of ${JSON.stringify(key)} could be reached`)
    );
  }

  /** Called for every change merged into the local shard; `delta` is what was merged in. */
  onLocalChange(key: string, delta: Lattice): void {
    this.replication.changed(key, delta);
    if (this.#subscriptions.subscribers(key, Date.now()).length > 0) this.#pushes.changed(key);
  }

  /** Subscribers' pushes, paced by the value's size (push_pacer.ts). */
  readonly #pushes = new PushPacer(
    (key) => this.#push(key),
    (key) => pushIntervalMs(this.#o.store.sizeHint(key)),
    {
      nowMs: Date.now,
      setTimer: (fire, afterMs) => setTimeout(fire, afterMs),
      clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
    },
  );

  /** Sends a key's value as it is now to the nodes that cache it. */
  #push(key: string): void {
    const value = this.#o.store.lattice(key);
    const subscribers = this.#subscriptions.subscribers(key, Date.now());
    if (value === undefined || subscribers.length === 0) return;
    const message = { t: 'update', key, wire: toWire(value) };
    for (const address of subscribers) this.peers.sendCore(address, 'cache', message);
  }

  /**
   * Gossips that we leave, hands every key over, and stops. The wait is bounded: it ends
   * when nothing is left to hand off, after `timeoutMs`, or when the hand-off made no
   * progress for `stallMs` (its receivers are gone too; anti-entropy among the survivors
   * and their own replicas are then what remains).
   */
  async leave(timeoutMs = 30_000, stallMs = 3000): Promise<void> {
    this.#leaving = true;
    this.#membershipHost.apply(this.membership.leave(this.#membershipHost.now));
    const others = () => this.membership.ringMembers().filter((id) => id !== this.selfId);
    let targets = others();
    if (targets.length > 0) {
      this.#setView(this.#makeView(targets));
      const deadline = Date.now() + timeoutMs;
      let pending = this.replication.pendingHandoff();
      let progressAt = Date.now();
      while (pending > 0 && Date.now() < deadline && Date.now() - progressAt < stallMs) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        // Members that leave too (a whole cluster stopping) are no place for the keys:
        // they go to those that stay, and when none does, there is no one to wait for.
        const now = others();
        if (now.length === 0) break;
        if (now.length !== targets.length || now.some((id) => !targets.includes(id))) {
          targets = now;
          this.#setView(this.#makeView(targets));
        }
        const left = this.replication.pendingHandoff();
        if (left < pending) progressAt = Date.now();
        pending = left;
      }
      if (pending > 0)
        this.#o.log.warn(
          { keys: pending, staying: targets.length },
          others().length === 0
            ? 'every other member is leaving too: keys stay on this node (and its disk, if any)'
            : 'left with keys not handed off',
        );
    }
    this.stop();
  }

  stop(): void {
    this.#pushes.stop();
    clearInterval(this.#renewTimer);
    clearTimeout(this.#seedTimer);
    this.#membershipHost.stop();
    this.#replicationHost.stop();
    this.peers.close();
  }

  async #writeHere(key: string, spec: LatticeSpec, ack: Ack): Promise<Lattice> {
    const { value, incoming } = await this.#o.store.writeDurable(key, spec);
    if (ack === 'all') {
      try {
        // The write alone: merged into what the other owners hold, it gives what this one
        // holds, and it costs its own size, not the key's (a large set's).
        await this.#mergeAtOtherOwners(key, toWire(incoming));
      } catch (error) {
        // Merged here already: an UnavailableError would send the writer on to the next
        // owner, applying the write twice (a counter increment counted twice).
        throw new TimeoutError(
          `write of ${JSON.stringify(key)} merged at one owner, not yet acknowledged by all: ${(error as Error).message}`,
        );
      }
    }
    return value;
  }

  /**
   * `ack: 'all'`: merges a written value at every other live owner. An owner that cannot be
   * reached or does not answer (it just died, say, and is not yet known dead) is tried again until it answers
   * or is no longer a live owner — failure detection takes it off the ring, and the key's
   * new owner gets the value instead — within ackAllWaitMs. Failing at once instead made a
   * causal DAG, whose writes all ack 'all', fail for a node's death (found by QA).
   */
  async #mergeAtOtherOwners(key: string, wire: unknown): Promise<void> {
    const deadlineMs = Date.now() + this.#ackAllWaitMs;
    const acked = new Set([this.selfId]);
    for (;;) {
      const pending = this.owners(key).filter((id) => !acked.has(id) && this.isAlive(id));
      if (pending.length === 0) return;
      const outcomes = await Promise.allSettled(
        pending.map(async (id) => {
          const address = this.#view.addressOf(id);
          const timeoutMs = Math.max(
            1,
            Math.min(this.#o.requestTimeoutMs, deadlineMs - Date.now()),
          );
          if (address !== undefined)
            await this.peers.request(address, 'merge', { key, wire }, timeoutMs);
          acked.add(id);
        }),
      );
      const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
      // All answered: the owners are looked at once more, in case the ring moved meanwhile.
      if (failures.length === 0) continue;
      // A merge is idempotent: sent again after a closed connection or a timeout, it adds
      // nothing twice (a refusal, such as another lattice kind, is final).
      const transient = failures.every(
        (error) => error instanceof UnavailableError || error instanceof TimeoutError,
      );
      if (!transient || Date.now() >= deadlineMs) throw failures[0];
      await new Promise((resolve) => setTimeout(resolve, ACK_ALL_RETRY_MS));
    }
  }

  /** How long an ack-all write waits for an owner that cannot be reached to be known dead. */
  get #ackAllWaitMs(): number {
    return 2 * this.#o.requestTimeoutMs;
  }

  /** An owner's answer to a read; `own`: its own copy, even while it is catching up. */
  async #remoteGet(
    owner: string,
    key: string,
    subscribe: boolean,
    own = false,
  ): Promise<Lattice | undefined> {
    const address = this.#view.addressOf(owner) ?? this.#addressInPrevious(owner);
    if (address === undefined) return undefined;
    const request = own ? { key, subscribe, own } : { key, subscribe };
    const wire = await this.peers.request(address, 'get', request, this.#o.requestTimeoutMs);
    return wire === null || wire === undefined ? undefined : fromWire(wire);
  }

  #addressInPrevious(id: string): string | undefined {
    for (const view of this.#previousViews) {
      const address = view.addressOf(id);
      if (address !== undefined) return address;
    }
    return undefined;
  }

  /**
   * A peer refused this node's hello (most likely a token that differs from the cluster's):
   * the operator must hear of it, or the node just runs alone without saying why.
   */
  #onRefused(address: string, error: Error): void {
    const code = (error as { code?: unknown }).code;
    const hint = code === 'UNAUTHORIZED' ? ' (is --token the same on every node?)' : '';
    if (this.#refusals.size >= 1024) this.#refusals.clear();
    this.#refusals.set(address, error.message + hint);
    const nowMs = performance.now();
    const lastMs = this.#refusalsReportedMs.get(address);
    if (lastMs !== undefined && nowMs - lastMs < REFUSAL_REPORT_MS) return;
    if (this.#refusalsReportedMs.size >= 1024) this.#refusalsReportedMs.clear();
    this.#refusalsReportedMs.set(address, nowMs);
    this.#o.log.error(
      { peer: address, code },
      `node at ${address} refused this node: ${error.message}${hint}`,
    );
  }

  /**
   * Refuses a peer that keeps a different number of copies per key: with owners computed
   * from different factors, writes would land on fewer nodes than either expects and a
   * node's loss could lose acknowledged writes (found by QA). The cluster must agree.
   */
  checkPeerReplication(theirs: number | undefined): void {
    const ours = replicationWanted(this.#o.replication);
    if (theirs === undefined || theirs === ours) return;
    throw new ValidationError(
      `this cluster keeps ${ours} copies of each key (--replication ${ours}); the joining node was started with ${theirs}: restart it with --replication ${ours}`,
    );
  }

  #onCore(from: string, core: string, message: unknown): void {
    try {
      if (core === 'membership') {
        this.#membershipHost.receive(from, parseMembershipMessage(message));
        this.#refreshView();
      } else if (core === 'replica') {
        this.#replicationHost.receive(from, parseReplicaMessage(message));
        // Ends (and logs) a catch-up as soon as the last peer matched, not at the next read.
        if (this.#catchUpUntilMs !== 0) void this.catchingUp;
      } else if (core === 'cache' && isRecord(message) && message.t === 'update') {
        this.#o.store.refreshCached(requireKey(message.key), fromWire(message.wire));
      } else {
        this.#o.onPeerMessage?.(from, core, message);
      }
    } catch (error) {
      this.#o.log.warn(
        { peer: from, core },
        `dropped a malformed peer message: ${(error as Error).message}`,
      );
    }
  }

  async #onRpc(from: string, op: string, args: unknown): Promise<unknown> {
    if (!CLUSTER_OPS.has(op)) {
      if (this.#o.onPeerRequest === undefined)
        throw new UnavailableError(`unknown peer operation ${op}`);
      return this.#o.onPeerRequest(from, op, args);
    }
    if (!isRecord(args)) throw new UnavailableError('malformed peer request');
    const key = requireKey(args.key);
    switch (op) {
      case 'get': {
        // A node catching up answers with the other owners' copies merged in, unless the
        // asker is merging every owner's copy itself (`own`): no ping-pong between two
        // nodes that both restarted.
        const value =
          args.own !== true && this.catchingUp && this.owners(key).includes(this.selfId)
            ? await this.readAll(key).catch(() => this.#o.store.lattice(key))
            : this.#o.store.lattice(key);
        if (args.subscribe === true) this.#subscriptions.add(key, from, Date.now());
        return value === undefined ? null : toWire(value);
      }
      case 'put': {
        const ack: Ack = args.ack === 'all' ? 'all' : 'one';
        const value = await this.#writeHere(key, specFromWire(args.spec), ack);
        // The merged value only for a writer that caches the key (it may be large).
        return args.value === true ? toWire(value) : null;
      }
      case 'merge':
        this.#o.store.mergeReplica(key, fromWire(args.wire));
        return null;
      case 'subscribe':
        this.#subscriptions.add(key, from, Date.now());
        return null;
      default:
        throw new UnavailableError(`unknown peer operation ${op}`);
    }
  }

  /** Recomputes the ring when the membership changed. */
  /** The members' addresses alive or suspect at the last membership change. */
  #aliveAddresses = new Set<string>();

  #refreshView(): void {
    const conflict = this.membership.idClaimedFrom;
    if (conflict !== undefined && conflict !== this.#conflictLogged) {
      this.#conflictLogged = conflict;
      this.#o.log.error(
        { address: conflict },
        "another process uses this node's id (started from a copy of its data dir?): give each node its own data dir",
      );
    }
    if (this.#leaving || this.membership.version === this.#membershipVersion) return;
    this.#membershipVersion = this.membership.version;
    const members = this.membership.ringMembers();
    const alive = new Set(
      this.membership
        .members()
        .filter((m) => m.state === 'alive' || m.state === 'suspect')
        .map((m) => m.address),
    );
    for (const member of this.membership.members()) {
      if (!alive.has(member.address)) this.#subscriptions.dropSubscriber(member.address);
    }
    for (const address of alive)
      if (!this.#aliveAddresses.has(address)) this.peers.retryNow(address);
    this.#aliveAddresses = alive;
    const ids = members.includes(this.selfId) ? members : [...members, this.selfId];
    const changed =
      ids.length !== this.#view.ring.size || ids.some((id) => !this.#view.ring.nodes.includes(id));
    if (changed) this.#setView(this.#makeView(ids));
  }

  #setView(view: RingView): void {
    this.#previousViews = [this.#view, ...this.#previousViews].slice(0, PREVIOUS_VIEWS_MAX);
    this.#view = view;
    this.#o.log.info({ ring: view.ring.nodes, replication: view.replication }, 'ring changed');
    const peers = view.ring.nodes
      .filter((id) => id !== this.selfId)
      .map((id) => view.addressOf(id));
    this.#o.onRingChange?.(peers.filter((address) => address !== undefined));
    this.#replicationHost.apply(this.replication.setView(view, this.#replicationHost.now));
  }

  #makeView(ids: string[]): RingView {
    return ringView(HashRing.of(ids), this.#o.replication, this.membership.members(), this.#o.self);
  }

  /** Renews the subscriptions of keys we still cache but do not own. */
  #renewSubscriptions(): void {
    this.#subscriptions.sweep(Date.now());
    this.#pushes.sweep();
    for (const key of this.#o.store.cachedKeys()) {
      const owners = this.owners(key);
      if (owners.includes(this.selfId)) continue;
      const address = owners[0] === undefined ? undefined : this.#view.addressOf(owners[0]);
      if (address !== undefined) {
        this.peers
          .request(address, 'subscribe', { key }, this.#o.requestTimeoutMs)
          .catch(() => undefined);
      }
    }
  }

  #replicaStore() {
    const store = () => this.#o.store;
    return {
      get: (key: string) => store().lattice(key),
      merge: (key: string, value: Lattice) => store().mergeReplica(key, value),
      keys: () => store().keys(''),
      // A leaving node has handed these on, but keeps its own copy: the calls it still
      // answers while it leaves must find their functions and DAGs, and a restart on the
      // same data dir finds its actors' mailboxes at once.
      delete: (key: string) => {
        if (!(this.#leaving && (onEveryNode(key) || key.startsWith(MAILBOX_PREFIX))))
          store().delete(key);
      },
    };
  }
}

/** The replication factor a node was started with, as peers compare it. */
export function replicationWanted(replication: number | undefined): number {
  return replication ?? DEFAULT_REPLICATION;
}
