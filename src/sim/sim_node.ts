/**
 * One simulated node: the real Membership and Replication cores, unchanged, bound to the
 * simulated network and virtual clock the way src/runtime/cluster.ts binds them to TCP and
 * timers: the ring view is rebuilt from `membership.ringMembers()` after every membership
 * message (HashRing of the ring members plus self, `replication` copies capped at the ring
 * size, `placementOf` for placement, addresses from the member table), `setView` is called
 * when the ring's members change, and every change merged into the shard is reported with
 * `replication.changed(key, delta)` before the merge returns.
 *
 * Its "disk" is the StoreShard: it survives a crash, as a shard logged with fsync 'always'
 * would, and so does the incarnation (the runtime persists it and adds one on every start).
 * Everything else (cores, timers, forwarded requests in flight, the view, the HLC) dies with
 * the process; a restart builds fresh cores over the same shard.
 *
 * A client write arrives at one node. If that node owns the key under its own view it
 * stamps and merges it there (`StoreShard.write` with the node's HybridClock on virtual
 * time) and the write is acknowledged at once; otherwise it forwards the write as an `rpc`
 * message to the first owner it can reach (unreachable owners are skipped, as a request
 * that never left moves on in cluster.ts), the owner applies it whatever its own view says
 * (as cluster.ts's `put` handler does), and the write is acknowledged when the reply comes
 * back. A forward that times out is not re-sent, so an increment is applied at most once.
 *
 * Two corrections of the runtime binding, each behind a config flag that restores it as it
 * is (see SimNodeConfig; both were found by this simulator and reported): a leaving node
 * stops refreshing its view (cluster.ts would put it back on its own ring), and a node keeps
 * its own counter totals beside the shard (the write path reads them from a shard that
 * hand-off may have emptied). A membership timer is followed by a view refresh, as in
 * cluster.ts (a member declared dead by this node's own timer leaves its ring even when no
 * message arrives after it).
 *
 * Invariants: timers are named per core and re-arming replaces (a generation number per
 * name; a boot number kills all of a dead process's timers); a message that fails its
 * core's parser is dropped and traced, never delivered; exceptions thrown by a core are not
 * caught here, so a core bug fails the seed loudly.
 */
import {
  type CoreEffect,
  HashRing,
  Membership,
  type MembershipConfig,
  type MembershipMessage,
  ownersIn,
  parseMembershipMessage,
  parseReplicaMessage,
  type ReplicaMessage,
  type ReplicaStore,
  Replication,
  type ReplicationConfig,
  type RingView,
  ringView,
} from '../runtime/index.js';
import {
  counterOf,
  counterOfWriter,
  HybridClock,
  type Lattice,
  type LatticeSpec,
  type StoreShard,
  specFromWire,
} from '../storage/index.js';
import type { SimClock, Trace } from './clock.js';
import type { Channel, Network } from './network.js';
import type { Random } from './random.js';

export type NodeState = 'down' | 'up' | 'leaving' | 'left';

export interface SimNodeConfig {
  /** Copies of each key wanted (capped at the ring's size). */
  replication: number;
  membership: Partial<MembershipConfig>;
  replicationConfig: Partial<ReplicationConfig>;
  /** How long a forwarded write waits for its owner's reply. */
  requestTimeoutMs: number;
  /** How long a leaving node waits for its hand-offs (cluster.ts: 30 s). */
  leaveTimeoutMs: number;
  /** How often a leaving node checks whether its hand-offs are done (cluster.ts: 50 ms). */
  leavePollMs: number;
  /**
   * cluster.ts recomputes the view after every membership message, also while leaving; as
   * `leave` bumped the membership version and `#refreshView` always adds self, the next
   * message puts the leaving node back on its own ring, its hand-offs stop, and it stops
   * holding writes nobody else has (seed 537). False (the default) keeps the leave view,
   * which is what `leave` means; true reproduces cluster.ts as it is.
   */
  refreshViewWhileLeaving: boolean;
  /**
   * A counter increment is materialized as "my total is now t + n", t read from this node's
   * shard (materialize.ts). But replication deletes a key from a node that handed it off,
   * so when that node later applies an increment to the key again (it owns it again, or a
   * forward reached it), t is missing or stale and the increment vanishes in the merge
   * (seed 25). True (the default) keeps each node's own totals on its disk beside the
   * shard and merges them back before an increment; false reproduces the write path as it is.
   */
  rememberOwnCounts: boolean;
}

/** A client write as the node sees it. */
export interface WriteOp {
  id: number;
  key: string;
  spec: LatticeSpec;
}

/** What the simulation learns about each write (its ledger). */
export interface WriteListener {
  /** The write was merged into `nodeId`'s shard. */
  applied(opId: number, nodeId: string): void;
  /** The client got its acknowledgement. */
  acknowledged(opId: number): void;
  /** The client got an error (no owner reachable, timeout, the node it talked to died). */
  failed(opId: number, reason: string): void;
}

/** What every node shares: time, the wire, the trace, the ledger, a source of seeds. */
export interface NodeWorld {
  clock: SimClock;
  network: Network;
  trace: Trace;
  writes: WriteListener;
  /** Each boot of each node forks its core randomness from this. */
  random: Random;
  /** HashRing.of(ids); the simulator may share equal rings between nodes. */
  ringOf(ids: readonly string[]): HashRing;
}

type RpcMessage =
  | { t: 'put'; id: number; op: number; key: string; spec: LatticeSpec }
  | { t: 'put-ok'; id: number };

interface Cores {
  membership: Membership;
  replication: Replication;
  hlc: HybridClock;
  view: RingView;
  membershipVersion: number;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Validates a forwarded-write message; undefined when it is malformed. */
function parseRpc(x: unknown): RpcMessage | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const m = x as Record<string, unknown>;
  if (m.t === 'put-ok' && isCount(m.id)) return { t: 'put-ok', id: m.id };
  if (m.t !== 'put' || !isCount(m.id) || !isCount(m.op) || typeof m.key !== 'string')
    return undefined;
  try {
    return { t: 'put', id: m.id, op: m.op, key: m.key, spec: specFromWire(m.spec) };
  } catch {
    return undefined;
  }
}

export class SimNode {
  readonly id: string;
  readonly address: string;
  /** The disk: survives crashes. */
  readonly shard: StoreShard;
  readonly #world: NodeWorld;
  readonly #config: SimNodeConfig;
  readonly #seeds: string[];
  readonly #timers = new Map<string, number>();
  /** Disk, beside the shard: this node's own counter totals (see `rememberOwnCounts`). */
  readonly #ownCounts = new Map<string, number>();
  /** Forwarded writes waiting for a reply: request id → write id. */
  readonly #forwarded = new Map<number, number>();
  #state: NodeState = 'down';
  #cores: Cores | undefined;
  /** The incarnation of the last start (persisted; 0 before the first). */
  #incarnation = 0;
  #boot = 0;
  #timerGen = 0;
  #requestId = 1;

  constructor(
    identity: { id: string; address: string; seeds: string[]; shard: StoreShard },
    config: SimNodeConfig,
    world: NodeWorld,
  ) {
    this.id = identity.id;
    this.address = identity.address;
    this.#seeds = identity.seeds;
    this.shard = identity.shard;
    this.#config = config;
    this.#world = world;
  }

  get state(): NodeState {
    return this.#state;
  }

  get incarnation(): number {
    return this.#incarnation;
  }

  /** The live cores; throws when the node is down (a simulator bug). */
  get #live(): Cores {
    if (this.#cores === undefined) throw new Error(`node ${this.id} is ${this.#state}`);
    return this.#cores;
  }

  /** Membership's ring members (alive and suspect ids), as this node believes. */
  ringMembers(): string[] {
    return this.#live.membership.ringMembers();
  }

  /** The ids on the ring this node's replication core uses. */
  viewNodes(): readonly string[] {
    return this.#live.view.ring.nodes;
  }

  pendingHandoff(): number {
    return this.#live.replication.pendingHandoff();
  }

  /** Keys and values in this node's shard. */
  entries(): IterableIterator<[string, Lattice]> {
    return this.shard.entries();
  }

  /** Starts (first boot) or restarts (after a crash) with the next incarnation. */
  start(): void {
    if (this.#state === 'up' || this.#state === 'leaving') throw new Error(`${this.id} is running`);
    const now = this.#world.clock.now;
    this.#boot++;
    this.#incarnation++;
    this.#state = 'up';
    const random = this.#world.random.fork();
    const env = { random: () => random.next() };
    const self = { id: this.id, address: this.address };
    const membership = new Membership(self, this.#config.membership, env);
    const store = this.#replicaStore();
    const replication = new Replication(this.id, this.#config.replicationConfig, store, env);
    const hlc = new HybridClock(() => this.#world.clock.now);
    this.#cores = {
      membership,
      replication,
      hlc,
      view: this.#viewOf([this.id], membership),
      membershipVersion: -1,
    };
    this.#world.network.attach(this.address, (from, channel, payload) =>
      this.#receive(from, channel, payload),
    );
    this.#trace(`start (incarnation ${this.#incarnation}, ${this.shard.size} keys on disk)`);
    this.#apply('replica', replication.start());
    this.#apply('membership', membership.start(this.#seeds, this.#incarnation, now));
    this.#refreshView();
  }

  /** The process dies: cores, timers and requests in flight are lost; the shard is kept. */
  crash(): void {
    if (this.#state !== 'up' && this.#state !== 'leaving') return;
    this.#trace('crash');
    this.#halt('down');
  }

  /** Leaves gracefully, as cluster.ts's `leave`: gossip it, hand every key over, stop. */
  leave(): void {
    if (this.#state !== 'up') return;
    const cores = this.#live;
    const now = this.#world.clock.now;
    this.#state = 'leaving';
    this.#trace('leave');
    this.#apply('membership', cores.membership.leave(now));
    const others = cores.membership.ringMembers().filter((id) => id !== this.id);
    if (others.length === 0) {
      this.#trace(`left at once: it sees no other ring member (${this.shard.size} keys)`);
      this.#halt('left');
      return;
    }
    this.#setView(this.#viewOf(others, cores.membership));
    this.#awaitHandoffs(now + this.#config.leaveTimeoutMs, this.#boot);
  }

  /** A client's write arriving at this node (see the header for the routing). */
  clientWrite(op: WriteOp): void {
    const cores = this.#live;
    const owners = ownersIn(cores.view, op.key);
    if (owners.includes(this.id)) {
      this.#applyWrite(op.id, op.key, op.spec);
      this.#world.writes.acknowledged(op.id);
      return;
    }
    for (const owner of owners) {
      const address = cores.view.addressOf(owner);
      if (address === undefined || !this.#world.network.reachable(this.address, address)) continue;
      this.#forward(op, address);
      return;
    }
    this.#trace(`write#${op.id} ${op.key}: no owner of [${owners.join(',')}] reachable`, op.key);
    this.#world.writes.failed(op.id, 'unavailable');
  }

  #halt(state: 'down' | 'left'): void {
    this.#state = state;
    this.#world.network.detach(this.address);
    this.#boot++;
    this.#timers.clear();
    this.#cores = undefined;
    for (const opId of this.#forwarded.values()) this.#world.writes.failed(opId, state);
    this.#forwarded.clear();
  }

  #awaitHandoffs(deadlineMs: number, boot: number): void {
    this.#world.clock.after(this.#config.leavePollMs, () => {
      if (this.#boot !== boot) return;
      const pending = this.pendingHandoff();
      if (pending > 0 && this.#world.clock.now < deadlineMs) {
        this.#awaitHandoffs(deadlineMs, boot);
        return;
      }
      this.#trace(pending > 0 ? `left with ${pending} keys not handed off` : 'left');
      this.#halt('left');
    });
  }

  #applyWrite(opId: number, key: string, spec: LatticeSpec): void {
    const cores = this.#live;
    const remember = spec.kind === 'counter' && this.#config.rememberOwnCounts;
    const own = this.#ownCounts.get(key);
    const ownCount = remember && own !== undefined ? counterOf([[this.id, own]]) : undefined;
    if (ownCount !== undefined && this.shard.merge(key, ownCount).changed) {
      cores.replication.changed(key, ownCount);
    }
    const { value, changed, incoming } = this.shard.write(key, spec, {
      ts: cores.hlc.next(),
      writer: this.id,
    });
    if (changed) cores.replication.changed(key, incoming);
    if (remember && value.kind === 'counter')
      this.#ownCounts.set(key, counterOfWriter(value, this.id));
    this.#world.writes.applied(opId, this.id);
    this.#trace(`write#${opId} ${key} applied`, key);
  }

  #forward(op: WriteOp, address: string): void {
    const id = this.#requestId++;
    this.#forwarded.set(id, op.id);
    this.#trace(`write#${op.id} ${op.key} forwarded to ${address}`, op.key);
    const message: RpcMessage = { t: 'put', id, op: op.id, key: op.key, spec: op.spec };
    this.#world.network.send(this.address, address, 'rpc', message);
    const boot = this.#boot;
    this.#world.clock.after(this.#config.requestTimeoutMs, () => {
      if (this.#boot !== boot || !this.#forwarded.delete(id)) return;
      this.#trace(`write#${op.id} ${op.key} timed out`, op.key);
      this.#world.writes.failed(op.id, 'timeout');
    });
  }

  #receive(from: string, channel: Channel, payload: unknown): void {
    const cores = this.#live;
    const now = this.#world.clock.now;
    if (channel === 'membership') {
      const message = this.#parse(parseMembershipMessage, payload, from);
      if (message === undefined) return;
      this.#apply('membership', cores.membership.receive(from, message, now));
      if (this.#state === 'up' || this.#config.refreshViewWhileLeaving) this.#refreshView();
    } else if (channel === 'replica') {
      const message = this.#parse(parseReplicaMessage, payload, from);
      if (message !== undefined)
        this.#apply('replica', cores.replication.receive(from, message, now));
    } else {
      const message = this.#parse(parseRpc, payload, from);
      if (message !== undefined) this.#onRpc(from, message);
    }
  }

  #parse<M>(parser: (x: unknown) => M | undefined, payload: unknown, from: string): M | undefined {
    try {
      const message = parser(payload);
      if (message === undefined) throw new Error('malformed');
      return message;
    } catch (error) {
      this.#trace(`dropped a malformed message from ${from}: ${(error as Error).message}`);
      return undefined;
    }
  }

  #onRpc(from: string, message: RpcMessage): void {
    if (message.t === 'put') {
      this.#applyWrite(message.op, message.key, message.spec);
      const reply: RpcMessage = { t: 'put-ok', id: message.id };
      this.#world.network.send(this.address, from, 'rpc', reply);
      return;
    }
    const opId = this.#forwarded.get(message.id);
    if (opId === undefined) return;
    this.#forwarded.delete(message.id);
    this.#world.writes.acknowledged(opId);
  }

  #apply<M extends MembershipMessage | ReplicaMessage>(
    core: 'membership' | 'replica',
    effects: CoreEffect<M>[],
  ): void {
    for (const effect of effects) {
      if (effect.t === 'send')
        this.#world.network.send(this.address, effect.to, core, effect.message);
      else this.#arm(core, effect.name, effect.afterMs);
    }
  }

  /** (Re)arms timer `name` of `core`; arming again replaces it, a crash cancels it. */
  #arm(core: 'membership' | 'replica', name: string, afterMs: number): void {
    const key = `${core}:${name}`;
    const gen = ++this.#timerGen;
    const boot = this.#boot;
    this.#timers.set(key, gen);
    this.#world.clock.after(Math.max(0, afterMs), () => {
      if (this.#boot !== boot || this.#timers.get(key) !== gen) return;
      this.#timers.delete(key);
      const cores = this.#live;
      const now = this.#world.clock.now;
      if (core === 'membership') {
        if (this.#world.trace.verbose) this.#world.trace.add(now, `${this.id} timer ${name}`);
        this.#apply('membership', cores.membership.fire(name, now));
        if (this.#state === 'up' || this.#config.refreshViewWhileLeaving) this.#refreshView();
      } else {
        this.#apply('replica', cores.replication.fire(name, now));
      }
    });
  }

  /** cluster.ts `#refreshView`: a new view when the ring's members changed. */
  #refreshView(): void {
    const cores = this.#live;
    const membership = cores.membership;
    if (membership.version === cores.membershipVersion) return;
    cores.membershipVersion = membership.version;
    const members = membership.ringMembers();
    const ids = members.includes(this.id) ? members : [...members, this.id];
    const ring = cores.view.ring;
    const changed = ids.length !== ring.size || ids.some((id) => !ring.nodes.includes(id));
    if (changed) this.#setView(this.#viewOf(ids, membership));
  }

  #setView(view: RingView): void {
    const cores = this.#live;
    cores.view = view;
    this.#trace(`ring [${view.ring.nodes.join(',')}] r=${view.replication}`);
    this.#apply('replica', cores.replication.setView(view, this.#world.clock.now));
  }

  /** The view exactly as cluster.ts builds it. */
  #viewOf(ids: string[], membership: Membership): RingView {
    return ringView(this.#world.ringOf(ids), this.#config.replication, membership.members(), {
      id: this.id,
      address: this.address,
    });
  }

  /** The shard as the replication core sees it; every change is reported before returning. */
  #replicaStore(): ReplicaStore {
    return {
      get: (key) => this.shard.get(key),
      merge: (key, value) => {
        const { changed } = this.shard.merge(key, value);
        if (changed) this.#live.replication.changed(key, value);
        return changed;
      },
      keys: () => this.shard.keys(),
      delete: (key) => {
        this.#trace(`deleted ${key}: handed off to its owners`, key);
        this.shard.delete(key);
      },
    };
  }

  /** A notable event of this node, or one about `key` (routine ones go to `trace.add`). */
  #trace(text: string, key?: string): void {
    this.#world.trace.note(this.#world.clock.now, `${this.id} ${text}`, key);
  }
}

/** HashRing.of, memoised by member set: rings are immutable values of their members. */
export function ringCache(): (ids: readonly string[]) => HashRing {
  const rings = new Map<string, HashRing>();
  return (ids) => {
    const key = [...ids].sort().join('\u0000');
    let ring = rings.get(key);
    if (ring === undefined) {
      ring = HashRing.of(ids);
      rings.set(key, ring);
    }
    return ring;
  };
}
