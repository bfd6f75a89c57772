/**
 * Cluster membership: a SWIM-style protocol core (Das, Gupta, Motivala 2002) by which the
 * supervisors find each other, detect failures and agree on who owns data on the ring.
 *
 * How it works. A node joins by sending `join` to its seed addresses until one answers
 * `welcome` with its whole table. Every `probeIntervalMs` it pings the next member of a
 * shuffled round-robin order; without an ack after `probeTimeoutMs` it asks
 * `indirectProbes` others to ping the target for it (`ping-req` → `indirect-ack`); without
 * any ack by the next probe the target becomes `suspect`, and a suspect that does not
 * refute within `suspicionTimeoutMs` becomes `dead`. Claims about members travel
 * piggybacked on every message (a bounded dissemination queue), and every message also
 * carries its sender's own record, so hearing from a node is learning about it.
 *
 * Invariants. Claims merge by `supersedes` (higher incarnation wins; at equal incarnation
 * alive < suspect < dead < left). Only a node raises its own incarnation: when it hears a
 * claim that it is suspect, dead or left (or alive at a higher incarnation) it answers
 * with `alive` at that incarnation + 1. A message to a member that this node does not
 * believe alive carries that belief first, so the member can refute it. `left` is final for
 * the node that left. Everything is bounded: the table (`membersMax`), the queue (one claim
 * per member), relayed probes (`relaysMax`), one outstanding probe, the seeds (SEEDS_MAX).
 *
 * Re-forming after a partition (plain SWIM never probes the dead again): every
 * `reconnectIntervalMs` a joined node sends one message to a random pick among dead
 * members' addresses (a `ping` carrying the claim that the receiver is dead) and seed
 * addresses no live member holds (a `join`). If the other side is up, both learn they were
 * declared dead, refute with a higher incarnation, and the refutations spread.
 *
 * Why pure: the runtime binds the effects to TCP and timers, `src/sim` to a simulated
 * network and virtual clock (DESIGN.md principle 1); randomness comes from `env.random()`.
 */
import { ValidationError } from '../errors.js';
import type { CoreEffect, CoreEnv, ProtocolCore } from './core_effects.js';
import { GossipQueue } from './membership_gossip.js';
import {
  type AckMessage,
  ADDRESS_LENGTH_MAX,
  ID_LENGTH_MAX,
  isLive,
  type Member,
  type MembershipMessage,
  type PingMessage,
  type PingReqMessage,
  type SenderRecord,
  UPDATES_PER_MESSAGE_MAX,
  WELCOME_MEMBERS_MAX,
} from './membership_messages.js';
import { ProbeOrder, pick, shuffle } from './membership_probe_order.js';
import { MemberTable } from './membership_table.js';

export {
  type Member,
  type MemberState,
  type MembershipMessage,
  parseMembershipMessage,
  supersedes,
} from './membership_messages.js';

export interface MembershipConfig {
  /** One probe per period. */
  probeIntervalMs: number;
  /** No ack by then: ask `indirectProbes` others to probe. Less than probeIntervalMs. */
  probeTimeoutMs: number;
  /** How many members relay an indirect probe (SWIM's k). */
  indirectProbes: number;
  /** A suspect not refuted for this long is declared dead. */
  suspicionTimeoutMs: number;
  /** How often `join` is resent to the seeds until one answers. */
  joinRetryMs: number;
  /** How often a joined node tries one dead member or unreached seed (partition healing). */
  reconnectIntervalMs: number;
  /** Claims piggybacked on one message. */
  updatesPerMessageMax: number;
  /** Each claim is piggybacked retransmitMult·⌈log2(N+1)⌉ times, N the live members. */
  retransmitMult: number;
  /** Bound on the member table, self included. */
  membersMax: number;
  /** Dead and departed members are forgotten this long after they went down. */
  forgetAfterMs: number;
  /** Bound on probes relayed for others at once; more ping-reqs are refused. */
  relaysMax: number;
  /** How many members a leaving node tells directly. */
  leaveFanout: number;
}

export const DEFAULT_MEMBERSHIP_CONFIG: Readonly<MembershipConfig> = {
  probeIntervalMs: 500,
  probeTimeoutMs: 250,
  indirectProbes: 2,
  suspicionTimeoutMs: 2500,
  joinRetryMs: 1000,
  reconnectIntervalMs: 2000,
  updatesPerMessageMax: 16,
  retransmitMult: 4,
  membersMax: 4096,
  forgetAfterMs: 60_000,
  relaysMax: 64,
  leaveFanout: 3,
};

/** The timers the core arms; the host fires them back by these names. */
export const MEMBERSHIP_TIMERS = {
  probe: 'probe',
  probeTimeout: 'probe-timeout',
  suspicion: 'suspicion',
  join: 'join',
} as const;

export const SEEDS_MAX = 64;

const CONFIG_RANGES: Readonly<Record<keyof MembershipConfig, readonly [number, number]>> = {
  probeIntervalMs: [2, 3_600_000],
  probeTimeoutMs: [1, 3_600_000],
  indirectProbes: [0, 64],
  suspicionTimeoutMs: [1, 86_400_000],
  joinRetryMs: [1, 3_600_000],
  reconnectIntervalMs: [1, 3_600_000],
  updatesPerMessageMax: [1, UPDATES_PER_MESSAGE_MAX],
  retransmitMult: [1, 64],
  membersMax: [1, WELCOME_MEMBERS_MAX],
  forgetAfterMs: [1, 86_400_000 * 30],
  relaysMax: [0, 65_536],
  leaveFanout: [0, 1024],
};

/** The defaults overridden by `partial`, each checked against its range. */
export function membershipConfig(partial: Partial<MembershipConfig>): MembershipConfig {
  const config: MembershipConfig = { ...DEFAULT_MEMBERSHIP_CONFIG };
  for (const key of Object.keys(CONFIG_RANGES) as (keyof MembershipConfig)[]) {
    const value = partial[key] ?? config[key];
    const [min, max] = CONFIG_RANGES[key];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new ValidationError(`membership ${key} must be an integer from ${min} to ${max}`);
    }
    config[key] = value;
  }
  if (config.probeTimeoutMs >= config.probeIntervalMs) {
    throw new ValidationError('membership probeTimeoutMs must be less than probeIntervalMs');
  }
  return config;
}

function checkText(value: string, lengthMax: number, what: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > lengthMax) {
    throw new ValidationError(`${what} must be a string of 1 to ${lengthMax} characters`);
  }
}

/** The probe of this period. */
interface Probe {
  seq: number;
  targetId: string;
  address: string;
  acked: boolean;
  indirectSent: boolean;
}

/** A probe this node makes for another (`ping-req`), keyed by this node's own seq. */
interface Relay {
  requester: string;
  requesterId: string;
  seq: number;
  targetId: string;
  atMs: number;
}

type Phase = 'idle' | 'joining' | 'joined' | 'left';
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A piggybacking message before its sender record and claims are filled in. */
type Body = DistributiveOmit<Exclude<MembershipMessage, { t: 'welcome' }>, 'sender' | 'updates'>;

/** Observability: things refused because a bound was reached, and refutations made. */
export interface MembershipStats {
  refutations: number;
  relaysRefused: number;
  claimsDropped: number;
  gossipQueued: number;
}

export class Membership implements ProtocolCore<MembershipMessage> {
  readonly config: MembershipConfig;
  private readonly table: MemberTable;
  private readonly gossip: GossipQueue;
  private readonly order: ProbeOrder;
  private readonly random: () => number;
  private self: Member;
  private phase: Phase = 'idle';
  private seeds: string[] = [];
  private nextSeq = 0;
  private probe: Probe | undefined;
  private readonly relays = new Map<number, Relay>();
  private suspicionArmedAtMs: number | undefined;
  private effects: CoreEffect<MembershipMessage>[] = [];
  private refutations = 0;
  private idConflict: string | undefined;
  private relaysRefused = 0;

  constructor(
    self: { id: string; address: string },
    config: Partial<MembershipConfig>,
    env: CoreEnv,
  ) {
    checkText(self.id, ID_LENGTH_MAX, 'membership id');
    checkText(self.address, ADDRESS_LENGTH_MAX, 'membership address');
    this.config = membershipConfig(config);
    this.random = () => env.random();
    this.table = new MemberTable(self.id, this.config);
    this.gossip = new GossipQueue(this.config.membersMax);
    this.order = new ProbeOrder(this.random);
    this.self = { id: self.id, address: self.address, state: 'alive', incarnation: 0 };
  }

  /**
   * Starts probing and joins through the seed addresses (none, or only this node's own: a
   * cluster of one). A restarted node must pass a higher incarnation than it last had
   * (persist `incarnation` and add one); if it does not, it still recovers by refuting
   * whatever the cluster remembers about it, only later.
   */
  start(seeds: string[], incarnation: number, nowMs: number): CoreEffect<MembershipMessage>[] {
    if (this.phase !== 'idle') throw new Error('Membership.start called twice');
    if (!Number.isSafeInteger(incarnation) || incarnation < 0) {
      throw new ValidationError('membership incarnation must be a non-negative safe integer');
    }
    const unique = [...new Set(seeds)].filter((address) => address !== this.self.address);
    if (unique.length > SEEDS_MAX) {
      throw new ValidationError(`at most ${SEEDS_MAX} membership seeds, not ${unique.length}`);
    }
    for (const seed of unique) checkText(seed, ADDRESS_LENGTH_MAX, 'membership seed');
    this.seeds = unique;
    this.self = { ...this.self, incarnation };
    this.table.setSelf(this.self, nowMs);
    this.nextSeq = pick(this.random, 2 ** 31);
    if (unique.length > 0) {
      this.phase = 'joining';
      this.sendJoins();
      this.arm(MEMBERSHIP_TIMERS.join, this.config.joinRetryMs);
    } else {
      this.phase = 'joined';
      this.arm(MEMBERSHIP_TIMERS.join, this.config.reconnectIntervalMs);
    }
    // A random first delay keeps nodes started together from probing in lockstep.
    this.arm(MEMBERSHIP_TIMERS.probe, 1 + pick(this.random, this.config.probeIntervalMs));
    return this.drain(nowMs);
  }

  /**
   * Leaves gracefully: this node's record becomes `left` and goes to `leaveFanout` live
   * members at once. The host should keep delivering messages for a probe period or two
   * before closing (the core still answers pings, with its `left` record), then stop.
   */
  leave(nowMs: number): CoreEffect<MembershipMessage>[] {
    if (this.phase === 'idle' || this.phase === 'left') return [];
    this.phase = 'left';
    this.self = { ...this.self, state: 'left' };
    this.table.setSelf(this.self, nowMs);
    this.gossip.push(this.self);
    this.probe = undefined;
    this.relays.clear();
    const others = this.randomMembers(this.config.leaveFanout, (m) => isLive(m.state));
    for (const member of others) {
      this.send(member.address, member.id, { t: 'ping', seq: this.nextSeq++ });
    }
    return this.drain(nowMs);
  }

  /**
   * Handles a parsed message. `_from` (the transport's peer address) is not used: replies
   * go to the address in the sender's own record, which is its listening address even when
   * the connection came from an ephemeral port.
   */
  receive(
    _from: string,
    message: MembershipMessage,
    nowMs: number,
  ): CoreEffect<MembershipMessage>[] {
    const sender = message.sender;
    if (this.phase === 'idle' || sender.id === this.self.id) return [];
    if (this.phase === 'left') {
      // Still noting who else leaves (a whole cluster stopping at once): a leaving node
      // hands its keys only to members that stay. Nothing is spread, nothing refuted.
      const claims = message.t === 'welcome' ? message.members : message.updates;
      for (const claim of [sender, ...claims])
        if (claim.id !== this.self.id) this.learn(claim, nowMs, false);
      if (message.t === 'ping') this.replyAck(message);
      return this.drain(nowMs);
    }
    this.learn(sender, nowMs, true);
    if (message.t === 'welcome') {
      // A first welcome tells the joiner what the cluster already knows: not news to spread.
      const spread = this.phase === 'joined';
      for (const claim of message.members) this.learn(claim, nowMs, spread);
    } else {
      for (const claim of message.updates) this.learn(claim, nowMs, true);
    }
    this.dispatch(message, nowMs);
    return this.drain(nowMs);
  }

  fire(timerName: string, nowMs: number): CoreEffect<MembershipMessage>[] {
    if (this.phase === 'idle' || this.phase === 'left') return [];
    switch (timerName) {
      case MEMBERSHIP_TIMERS.probe:
        this.onProbeTick(nowMs);
        break;
      case MEMBERSHIP_TIMERS.probeTimeout:
        this.onProbeTimeout();
        break;
      case MEMBERSHIP_TIMERS.suspicion:
        this.onSuspicionTimer(nowMs);
        break;
      case MEMBERSHIP_TIMERS.join:
        this.onJoinTimer();
        break;
      default:
        throw new Error(`unknown membership timer ${JSON.stringify(timerName)}`);
    }
    return this.drain(nowMs);
  }

  /** The whole table including self, sorted by id. */
  members(): Member[] {
    return this.table.members();
  }

  /** Ids of the nodes that own data on the ring (alive and suspect), sorted. */
  ringMembers(): string[] {
    return this.table.ringMembers();
  }

  /** Changes whenever anything `members()` (and so `ringMembers()`) returns changes. */
  get version(): number {
    return this.table.version;
  }

  addressOf(id: string): string | undefined {
    return this.table.get(id)?.address;
  }

  /** This node's current incarnation: persist it, and restart with it + 1. */
  get incarnation(): number {
    return this.self.incarnation;
  }

  /** The address of another process seen claiming this node's id, if any (see learnAboutSelf). */
  get idClaimedFrom(): string | undefined {
    return this.idConflict;
  }

  /** Whether a seed has answered (always true for a cluster of one). */
  get joined(): boolean {
    return this.phase === 'joined';
  }

  stats(): MembershipStats {
    return {
      refutations: this.refutations,
      relaysRefused: this.relaysRefused,
      claimsDropped: this.table.droppedCount,
      gossipQueued: this.gossip.size,
    };
  }

  // -------------------------------------------------------------------------------------
  // Claims

  /** Merges a claim; news is queued for gossip (when `spread`), a stale claim is answered. */
  private learn(claim: Member, nowMs: number, spread: boolean): void {
    if (claim.id === this.self.id) {
      this.learnAboutSelf(claim, nowMs);
      return;
    }
    const before = this.table.get(claim.id);
    const outcome = this.table.apply(claim, nowMs);
    if (outcome === 'added' || outcome === 'changed') {
      if (spread) this.gossip.push(claim);
      const revived = before === undefined || !isLive(before.state);
      if (isLive(claim.state) && revived) this.order.add(claim.id);
    } else if (outcome === 'stale' && spread && !this.gossip.has(claim.id) && before) {
      // Someone holds an older claim: spread ours again so stragglers catch up.
      this.gossip.push(before);
    }
  }

  /**
   * Refutes any claim that this node is not alive, or is alive at a higher incarnation. An
   * alive claim to this id, newer than this node's own, from another address means a second
   * process runs with this id (started from a copy of this data dir, say): it is noted in
   * `idClaimedFrom`, for the operator, since the two will keep overriding each other.
   */
  private learnAboutSelf(claim: Member, nowMs: number): void {
    const mine = this.self.incarnation;
    if (claim.state === 'alive' && claim.incarnation > mine && claim.address !== this.self.address)
      this.idConflict = claim.address;
    const refute =
      claim.incarnation > mine || (claim.incarnation === mine && claim.state !== 'alive');
    if (!refute || claim.incarnation >= Number.MAX_SAFE_INTEGER) return;
    this.self = { ...this.self, state: 'alive', incarnation: claim.incarnation + 1 };
    this.table.setSelf(this.self, nowMs);
    this.gossip.push(this.self);
    this.refutations++;
  }

  private suspect(id: string, nowMs: number): void {
    const member = this.table.get(id);
    if (member?.state === 'alive') this.learn({ ...member, state: 'suspect' }, nowMs, true);
  }

  // -------------------------------------------------------------------------------------
  // Messages

  private dispatch(message: MembershipMessage, nowMs: number): void {
    const sender = message.sender;
    switch (message.t) {
      case 'join':
        this.effects.push({
          t: 'send',
          to: sender.address,
          message: { t: 'welcome', sender: this.senderRecord(), members: this.table.members() },
        });
        break;
      case 'welcome':
        if (this.phase === 'joining') {
          this.phase = 'joined';
          this.arm(MEMBERSHIP_TIMERS.join, this.config.reconnectIntervalMs);
        }
        break;
      case 'ping':
        this.replyAck(message);
        break;
      case 'ack':
        this.onAck(message);
        break;
      case 'ping-req':
        this.onPingReq(message, nowMs);
        break;
      case 'indirect-ack':
        if (this.isCurrentProbe(message.seq, message.target)) this.markAcked();
        break;
    }
  }

  private replyAck(ping: PingMessage): void {
    this.send(ping.sender.address, ping.sender.id, { t: 'ack', seq: ping.seq });
  }

  private onAck(ack: AckMessage): void {
    if (this.isCurrentProbe(ack.seq, ack.sender.id)) {
      this.markAcked();
      return;
    }
    const relay = this.relays.get(ack.seq);
    if (relay === undefined || relay.targetId !== ack.sender.id) return; // late or foreign
    this.relays.delete(ack.seq);
    this.send(relay.requester, relay.requesterId, {
      t: 'indirect-ack',
      seq: relay.seq,
      target: relay.targetId,
    });
  }

  private onPingReq(request: PingReqMessage, nowMs: number): void {
    const { sender, target } = request;
    if (target.id === this.self.id) {
      this.send(sender.address, sender.id, {
        t: 'indirect-ack',
        seq: request.seq,
        target: target.id,
      });
      return;
    }
    if (this.relays.size >= this.config.relaysMax) {
      this.relaysRefused++;
      return;
    }
    const seq = this.nextSeq++;
    this.relays.set(seq, {
      requester: sender.address,
      requesterId: sender.id,
      seq: request.seq,
      targetId: target.id,
      atMs: nowMs,
    });
    this.send(target.address, target.id, { t: 'ping', seq });
  }

  private isCurrentProbe(seq: number, targetId: string): boolean {
    return this.probe !== undefined && this.probe.seq === seq && this.probe.targetId === targetId;
  }

  private markAcked(): void {
    if (this.probe !== undefined) this.probe.acked = true;
  }

  private sendJoins(): void {
    for (const seed of this.seeds) this.send(seed, undefined, { t: 'join' });
  }

  /** Sends a message with this node's record and piggybacked claims. */
  private send(to: string, targetId: string | undefined, body: Body): void {
    const message = {
      ...body,
      sender: this.senderRecord(),
      updates: this.piggyback(targetId, to),
    } as MembershipMessage;
    this.effects.push({ t: 'send', to, message });
  }

  private senderRecord(): SenderRecord {
    const { id, address, incarnation } = this.self;
    return { id, address, incarnation, state: this.phase === 'left' ? 'left' : 'alive' };
  }

  /**
   * The claims for one message: first, what this node believes about the receiver if that
   * is not `alive` (so a wrongly suspected node hears it at once and refutes) or places it
   * at another address (so a second process with the receiver's id is found out), then the
   * least-sent claims of the queue.
   */
  private piggyback(targetId: string | undefined, to: string): Member[] {
    const claims: Member[] = [];
    const target = targetId === undefined ? undefined : this.table.get(targetId);
    if (target !== undefined && (target.state !== 'alive' || target.address !== to))
      claims.push(target);
    const live = this.table.liveCount();
    const transmitLimit = this.config.retransmitMult * Math.max(1, Math.ceil(Math.log2(live + 1)));
    const room = this.config.updatesPerMessageMax - claims.length;
    claims.push(...this.gossip.take(room, transmitLimit, targetId));
    return claims;
  }

  // -------------------------------------------------------------------------------------
  // Timers

  private onProbeTick(nowMs: number): void {
    const previous = this.probe;
    if (previous !== undefined && !previous.acked) this.suspect(previous.targetId, nowMs);
    this.probe = undefined;
    for (const [seq, relay] of this.relays) {
      if (relay.atMs + this.config.probeIntervalMs <= nowMs) this.relays.delete(seq);
    }
    for (const id of this.table.forget(nowMs)) this.gossip.delete(id);
    const targetId = this.order.next(
      (id) => this.isProbeable(id),
      () => this.liveOthers(),
    );
    const target = targetId === undefined ? undefined : this.table.get(targetId);
    if (target !== undefined) {
      const seq = this.nextSeq++;
      this.probe = {
        seq,
        targetId: target.id,
        address: target.address,
        acked: false,
        indirectSent: false,
      };
      this.send(target.address, target.id, { t: 'ping', seq });
      this.arm(MEMBERSHIP_TIMERS.probeTimeout, this.config.probeTimeoutMs);
    }
    this.arm(MEMBERSHIP_TIMERS.probe, this.config.probeIntervalMs);
  }

  private onProbeTimeout(): void {
    const probe = this.probe;
    if (probe === undefined || probe.acked || probe.indirectSent) return;
    probe.indirectSent = true;
    const relays = this.randomMembers(
      this.config.indirectProbes,
      (m) => m.state === 'alive' && m.id !== probe.targetId,
    );
    const target = { id: probe.targetId, address: probe.address };
    for (const relay of relays) {
      this.send(relay.address, relay.id, { t: 'ping-req', seq: probe.seq, target });
    }
  }

  private onSuspicionTimer(nowMs: number): void {
    this.suspicionArmedAtMs = undefined;
    for (const member of this.table.expiredSuspects(nowMs)) {
      this.learn({ ...member, state: 'dead' }, nowMs, true);
    }
  }

  private onJoinTimer(): void {
    if (this.phase === 'joining') {
      this.sendJoins();
      this.arm(MEMBERSHIP_TIMERS.join, this.config.joinRetryMs);
    } else {
      this.reconnect();
      this.arm(MEMBERSHIP_TIMERS.join, this.config.reconnectIntervalMs);
    }
  }

  /** One message to a random dead member or unreached seed, so split clusters re-merge. */
  private reconnect(): void {
    const liveAddresses = new Set<string>();
    for (const member of this.table.values()) {
      if (isLive(member.state)) liveAddresses.add(member.address);
    }
    const dead: Member[] = [];
    for (const member of this.table.values()) {
      if (member.state === 'dead' && !liveAddresses.has(member.address)) dead.push(member);
    }
    const seeds = this.seeds.filter((address) => !liveAddresses.has(address));
    const total = dead.length + seeds.length;
    if (total === 0) return;
    const i = pick(this.random, total);
    const member = dead[i];
    if (member !== undefined) {
      this.send(member.address, member.id, { t: 'ping', seq: this.nextSeq++ });
    } else {
      const seed = seeds[i - dead.length];
      if (seed !== undefined) this.send(seed, undefined, { t: 'join' });
    }
  }

  // -------------------------------------------------------------------------------------
  // Helpers

  private isProbeable(id: string): boolean {
    const member = this.table.get(id);
    return id !== this.self.id && member !== undefined && isLive(member.state);
  }

  private liveOthers(): string[] {
    const ids: string[] = [];
    for (const member of this.table.values()) {
      if (member.id !== this.self.id && isLive(member.state)) ids.push(member.id);
    }
    return ids;
  }

  /** Up to `count` members other than self that satisfy `accept`, chosen at random. */
  private randomMembers(count: number, accept: (member: Member) => boolean): Member[] {
    if (count <= 0) return [];
    const found: Member[] = [];
    for (const member of this.table.values()) {
      if (member.id !== this.self.id && accept(member)) found.push(member);
    }
    shuffle(found, this.random);
    return found.slice(0, count);
  }

  private arm(name: string, afterMs: number): void {
    this.effects.push({ t: 'timer', name, afterMs });
  }

  /** The effects gathered by this call, after (re)arming the suspicion timer if needed. */
  private drain(nowMs: number): CoreEffect<MembershipMessage>[] {
    const next = this.table.nextSuspicionDeadline();
    const armed = this.suspicionArmedAtMs;
    if (this.phase !== 'left' && next !== undefined && (armed === undefined || next < armed)) {
      this.arm(MEMBERSHIP_TIMERS.suspicion, Math.max(0, next - nowMs));
      this.suspicionArmedAtMs = next;
    }
    const effects = this.effects;
    this.effects = [];
    return effects;
  }
}
