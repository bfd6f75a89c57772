/**
 * The membership core (SWIM with piggybacked gossip) on a tiny in-test network: a virtual
 * clock, an event heap, a seeded PRNG, and delivery with configurable delay, loss,
 * duplication and partitions, routing `send` effects between Membership instances (every
 * message goes through JSON and parseMembershipMessage, as it would off a socket) and
 * firing `timer` effects at their virtual time (re-arming replaces). The full simulator
 * comes later in src/sim; this harness stays small on purpose.
 *
 * Covered: joining through one seed; crash detection (suspect, then dead) within a stated
 * bound; refuting a false suspicion; graceful leave; restart with a higher (or the same)
 * incarnation; convergence under 20% loss over ≥ 100 seeds; a partition healing, with and
 * without the dead entries still remembered; precedence and order-independent merging;
 * bounds (table, piggyback, relays); late acks; and the parser against garbage.
 *
 * Seeds: the scenario and property tests derive theirs from SQUALL_SEED (random when
 * unset) and print it; SQUALL_SEED=<the failing seed> replays a failure first.
 */
import test from 'ava';
import fc from 'fast-check';
import { ValidationError } from '../../src/errors.js';
import type { CoreEffect } from '../../src/runtime/core_effects.js';
import {
  DEFAULT_MEMBERSHIP_CONFIG,
  type Member,
  type MemberState,
  Membership,
  type MembershipConfig,
  type MembershipMessage,
  membershipConfig,
  parseMembershipMessage,
  supersedes,
} from '../../src/runtime/membership.js';
import { GossipQueue } from '../../src/runtime/membership_gossip.js';
import { ProbeOrder } from '../../src/runtime/membership_probe_order.js';
import { MemberTable } from '../../src/runtime/membership_table.js';

const BASE_SEED =
  Number(process.env.SQUALL_SEED) || (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;

/** mulberry32: a small seeded PRNG returning [0, 1). */
function prng(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------
// The harness

interface Event {
  at: number;
  order: number;
  run: () => void;
}

/** A binary min-heap of events by (time, insertion order): ties run first-in first-out. */
class EventHeap {
  private readonly items: Event[] = [];
  private counter = 0;

  get size(): number {
    return this.items.length;
  }

  push(at: number, run: () => void): void {
    const items = this.items;
    items.push({ at, order: this.counter++, run });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  peekAt(): number | undefined {
    return this.items[0]?.at;
  }

  pop(): Event | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && this.less(l, m)) m = l;
      if (r < items.length && this.less(r, m)) m = r;
      if (m === i) return top;
      this.swap(i, m);
      i = m;
    }
  }

  private less(i: number, j: number): boolean {
    const a = this.items[i]!;
    const b = this.items[j]!;
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }

  private swap(i: number, j: number): void {
    const a = this.items[i]!;
    this.items[i] = this.items[j]!;
    this.items[j] = a;
  }
}

interface SimNode {
  id: string;
  address: string;
  core: Membership;
  up: boolean;
  /** Bumped on crash: timers armed by an earlier life never fire. */
  life: number;
  timers: Map<string, number>;
}

interface NetOptions {
  lossRate?: number;
  duplicateRate?: number;
  delayMinMs?: number;
  delayMaxMs?: number;
}

type Drop = (from: SimNode, to: SimNode, message: MembershipMessage) => boolean;

class Sim {
  now = 0;
  readonly nodes: SimNode[] = [];
  readonly rng: () => number;
  lossRate: number;
  duplicateRate: number;
  delayMinMs: number;
  delayMaxMs: number;
  /** Node id → side; messages between different sides are dropped. */
  partition: Map<string, number> | undefined;
  drop: Drop | undefined;
  messages = 0;
  /** The largest number of piggybacked claims seen on one message. */
  updatesMaxSeen = 0;
  private readonly events = new EventHeap();
  private tokens = 0;

  constructor(
    readonly seed: number,
    readonly config: Partial<MembershipConfig> = {},
    options: NetOptions = {},
  ) {
    this.rng = prng(seed);
    this.lossRate = options.lossRate ?? 0;
    this.duplicateRate = options.duplicateRate ?? 0;
    this.delayMinMs = options.delayMinMs ?? 1;
    this.delayMaxMs = options.delayMaxMs ?? 5;
  }

  node(id: string): SimNode {
    const node = this.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** Adds and starts a node (or restarts a crashed one with a fresh core). */
  start(id: string, seeds: string[], incarnation = 0): SimNode {
    let node = this.nodes.find((n) => n.id === id);
    const address = node?.address ?? `10.0.0.${this.nodes.length + 1}:7100`;
    const random = prng((this.seed ^ (this.nodes.length * 0x9e3779b9)) + this.now);
    const core = new Membership({ id, address }, this.config, { random });
    if (node === undefined) {
      node = { id, address, core, up: true, life: 0, timers: new Map() };
      this.nodes.push(node);
    } else {
      Object.assign(node, { core, up: true, life: node.life + 1, timers: new Map() });
    }
    this.apply(node, node.core.start(seeds, incarnation, this.now));
    return node;
  }

  crash(id: string): void {
    const node = this.node(id);
    node.up = false;
    node.life++;
    node.timers.clear();
  }

  leave(id: string): void {
    const node = this.node(id);
    this.apply(node, node.core.leave(this.now));
  }

  up(): SimNode[] {
    return this.nodes.filter((n) => n.up);
  }

  apply(node: SimNode, effects: CoreEffect<MembershipMessage>[]): void {
    for (const effect of effects) {
      if (effect.t === 'send') this.transmit(node, effect.to, effect.message);
      else this.arm(node, effect.name, effect.afterMs);
    }
  }

  private arm(node: SimNode, name: string, afterMs: number): void {
    const token = ++this.tokens;
    const life = node.life;
    node.timers.set(name, token);
    this.events.push(this.now + afterMs, () => {
      if (!node.up || node.life !== life || node.timers.get(name) !== token) return;
      node.timers.delete(name);
      this.apply(node, node.core.fire(name, this.now));
    });
  }

  private blocked(from: SimNode, to: SimNode, message: MembershipMessage): boolean {
    const sides = this.partition;
    if (sides !== undefined && sides.get(from.id) !== sides.get(to.id)) return true;
    return this.drop?.(from, to, message) ?? false;
  }

  private transmit(from: SimNode, to: string, message: MembershipMessage): void {
    this.messages++;
    if ('updates' in message) {
      this.updatesMaxSeen = Math.max(this.updatesMaxSeen, message.updates.length);
    }
    const target = this.nodes.find((n) => n.address === to);
    if (target === undefined || this.rng() < this.lossRate) return;
    if (this.blocked(from, target, message)) return;
    const wire = JSON.stringify(message);
    const copies = this.rng() < this.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.delayMinMs + this.rng() * (this.delayMaxMs - this.delayMinMs);
      this.events.push(this.now + delay, () => {
        if (!target.up || this.blocked(from, target, message)) return;
        const parsed = parseMembershipMessage(JSON.parse(wire));
        this.apply(target, target.core.receive(from.address, parsed, this.now));
      });
    }
  }

  /** Runs every event up to `untilMs`. */
  runUntil(untilMs: number): void {
    for (;;) {
      const at = this.events.peekAt();
      if (at === undefined || at > untilMs) break;
      const event = this.events.pop()!;
      this.now = event.at;
      event.run();
    }
    this.now = untilMs;
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** Runs until `done()` holds (checked every `stepMs`); the time it took, or undefined. */
  waitFor(done: () => boolean, limitMs: number, stepMs = 50): number | undefined {
    const start = this.now;
    while (this.now - start <= limitMs) {
      if (done()) return this.now - start;
      this.runFor(stepMs);
    }
    return undefined;
  }
}

function stateOf(observer: SimNode, id: string): MemberState | undefined {
  return observer.core.members().find((m) => m.id === id)?.state;
}

function memberOf(observer: SimNode, id: string): Member | undefined {
  return observer.core.members().find((m) => m.id === id);
}

/** Whether every observer sees `id` in `state`. */
function allSee(observers: SimNode[], id: string, state: MemberState): boolean {
  return observers.every((o) => stateOf(o, id) === state);
}

/** Whether every node has exactly `ids` as its ring members. */
function ringIs(nodes: SimNode[], ids: string[]): boolean {
  const want = [...ids].sort().join(',');
  return nodes.every((n) => n.core.ringMembers().join(',') === want);
}

/** Whether every node sees every id in `ids` alive. */
function allAlive(nodes: SimNode[], ids: string[]): boolean {
  return nodes.every((n) => ids.every((id) => stateOf(n, id) === 'alive'));
}

const ids = (count: number) => Array.from({ length: count }, (_, i) => `n${i + 1}`);

/** n1 starts alone; the others join through n1's address. */
function cluster(sim: Sim, count: number): SimNode[] {
  const seed = sim.start('n1', []);
  for (const id of ids(count).slice(1)) sim.start(id, [seed.address]);
  return sim.nodes;
}

/** A cluster that has formed (every node sees every other alive). */
function formed(seed: number, count: number, config: Partial<MembershipConfig> = {}): Sim {
  const sim = new Sim(seed, config);
  const nodes = cluster(sim, count);
  const took = sim.waitFor(() => allAlive(nodes, ids(count)), 10_000);
  if (took === undefined) throw new Error(`seed ${seed}: cluster of ${count} did not form`);
  return sim;
}

/** Seeds for a scenario run several times: derived from BASE_SEED, printed on failure. */
function seeds(count: number, salt: number): number[] {
  return Array.from({ length: count }, (_, i) => (BASE_SEED + salt * 1_000_003 + i) | 0);
}

const P = DEFAULT_MEMBERSHIP_CONFIG.probeIntervalMs;
const S = DEFAULT_MEMBERSHIP_CONFIG.suspicionTimeoutMs;

// ---------------------------------------------------------------------------------------
// Scenarios

test('5 nodes join through one seed and all see 5 alive members', (t) => {
  t.log('seed', BASE_SEED, '(replay with SQUALL_SEED)');
  const boundMs = 3_000;
  let worst = 0;
  for (const seed of seeds(20, 1)) {
    const sim = new Sim(seed);
    const nodes = cluster(sim, 5);
    const took = sim.waitFor(() => allAlive(nodes, ids(5)), boundMs);
    t.not(took, undefined, `seed ${seed}: not formed within ${boundMs} ms`);
    t.true(ringIs(nodes, ids(5)), `seed ${seed}`);
    t.true(
      nodes.every((n) => n.core.members().length === 5 && n.core.joined),
      `seed ${seed}`,
    );
    worst = Math.max(worst, took ?? boundMs);
  }
  t.log(`formed within ${worst} ms (worst of 20 seeds; bound ${boundMs} ms)`);
});

/**
 * Detection bound for a crash, N nodes, period P, suspicion S: every node probes each
 * member once per shuffled round, so some node probes the crashed one within 2(N−1)
 * periods; it suspects at the end of that period; the suspicion spreads in a period or
 * two and every node declares dead S after it heard: (2N + 1)·P + S = 8 s for N = 5.
 */
test('a crashed node is suspected, then declared dead by all within (2N+1)·P + S', (t) => {
  const boundMs = (2 * 5 + 1) * P + S;
  const times: number[] = [];
  for (const seed of seeds(20, 2)) {
    const sim = formed(seed, 5);
    sim.runFor(1_000 + Math.floor(sim.rng() * P));
    sim.crash('n3');
    const others = sim.up();
    let suspected = false;
    const took = sim.waitFor(
      () => {
        suspected ||= others.some((o) => stateOf(o, 'n3') === 'suspect');
        return allSee(others, 'n3', 'dead');
      },
      boundMs,
      25,
    );
    t.not(took, undefined, `seed ${seed}: n3 not dead everywhere within ${boundMs} ms`);
    t.true(suspected, `seed ${seed}: n3 was never suspected first`);
    times.push(took ?? boundMs);
    sim.runFor(5_000);
    const rest = ['n1', 'n2', 'n4', 'n5'];
    t.true(ringIs(others, rest), `seed ${seed}: the others disagree`);
    t.true(allAlive(others, rest), `seed ${seed}: a survivor is not alive`);
  }
  times.sort((a, b) => a - b);
  t.log(
    `crash → dead everywhere: median ${times[times.length >> 1]} ms, worst ${times.at(-1)} ms (bound ${boundMs} ms)`,
  );
});

test('a false suspicion is refuted by an incarnation bump and the node stays alive', (t) => {
  let refutedAll = true;
  for (const seed of seeds(10, 3)) {
    const sim = formed(seed, 5);
    const n2 = sim.node('n2');
    const before = n2.core.incarnation;
    const until = sim.now + 2 * S; // longer than one suspicion timeout: refuting is needed
    sim.drop = (from, _to, message) => from.id === 'n2' && message.t === 'ack' && sim.now < until;
    let suspected = false;
    let declaredDead = false;
    sim.waitFor(
      () => {
        suspected ||= sim.nodes.some((o) => stateOf(o, 'n2') === 'suspect');
        declaredDead ||= sim.nodes.some(
          (o) => stateOf(o, 'n2') !== 'suspect' && stateOf(o, 'n2') !== 'alive',
        );
        return false;
      },
      2 * S + 3_000,
      25,
    );
    t.true(suspected, `seed ${seed}: n2 was never suspected`);
    t.false(declaredDead, `seed ${seed}: n2 was declared dead`);
    t.true(n2.core.incarnation > before, `seed ${seed}: n2 never refuted`);
    refutedAll &&= n2.core.stats().refutations > 0;
    const inc = n2.core.incarnation;
    t.true(
      sim.nodes.every(
        (o) => memberOf(o, 'n2')?.state === 'alive' && memberOf(o, 'n2')?.incarnation === inc,
      ),
      `seed ${seed}: n2 not alive at incarnation ${inc} everywhere`,
    );
    t.true(ringIs(sim.nodes, ids(5)), `seed ${seed}`);
  }
  t.true(refutedAll);
});

test('a graceful leave is seen as left by all', (t) => {
  const boundMs = 2 * P;
  for (const seed of seeds(10, 4)) {
    const sim = formed(seed, 5);
    sim.leave('n4');
    const others = sim.nodes.filter((n) => n.id !== 'n4');
    const took = sim.waitFor(() => allSee(others, 'n4', 'left'), boundMs, 10);
    t.not(took, undefined, `seed ${seed}: left not seen by all within ${boundMs} ms`);
    sim.runFor(P);
    sim.crash('n4'); // the host stops the process after lingering
    sim.runFor(10_000);
    t.true(allSee(others, 'n4', 'left'), `seed ${seed}: left was overridden`);
    t.true(ringIs(others, ['n1', 'n2', 'n3', 'n5']), `seed ${seed}`);
    t.false(sim.node('n4').core.ringMembers().includes('n4'));
  }
});

test('a crashed node restarted with a higher incarnation is alive again everywhere', (t) => {
  const boundMs = 3_000;
  let worst = 0;
  for (const seed of seeds(10, 5)) {
    const sim = formed(seed, 5);
    const old = sim.node('n3').core.incarnation;
    sim.crash('n3');
    const others = sim.up();
    t.not(
      sim.waitFor(() => allSee(others, 'n3', 'dead'), 10_000),
      undefined,
      `seed ${seed}`,
    );
    sim.runFor(1_000);
    const n3 = sim.start('n3', [sim.node('n1').address], old + 1);
    const took = sim.waitFor(() => allAlive(sim.nodes, ids(5)), boundMs);
    t.not(took, undefined, `seed ${seed}: n3 not alive everywhere within ${boundMs} ms`);
    t.is(n3.core.incarnation, old + 1, `seed ${seed}: no refutation was needed`);
    t.true(
      sim.nodes.every((o) => memberOf(o, 'n3')?.incarnation === old + 1),
      `seed ${seed}`,
    );
    worst = Math.max(worst, took ?? boundMs);
  }
  t.log(`restart → alive everywhere within ${worst} ms (worst of 10 seeds)`);
});

test('a node restarted with its old incarnation recovers by refuting its death', (t) => {
  for (const seed of seeds(5, 6)) {
    const sim = formed(seed, 5);
    sim.crash('n3');
    t.not(
      sim.waitFor(() => allSee(sim.up(), 'n3', 'dead'), 10_000),
      undefined,
    );
    const n3 = sim.start('n3', [sim.node('n1').address], 0); // the host forgot
    t.not(
      sim.waitFor(() => allAlive(sim.nodes, ids(5)), 5_000),
      undefined,
      `seed ${seed}`,
    );
    t.true(n3.core.incarnation > 0);
  }
});

interface LossRun {
  message?: string;
  /** Time to the first moment every node had all ten in its ring. */
  formedMs?: number;
  /** Share of samples during 10 more seconds of loss at which all rings agreed. */
  agreedShare?: number;
  refutations?: number;
}

/** Ten nodes under 20% loss, random delays and some duplication; then the loss stops. */
function convergesUnderLoss(seed: number): LossRun {
  const net = { lossRate: 0.2, duplicateRate: 0.02, delayMinMs: 1, delayMaxMs: 60 };
  const sim = new Sim(seed, {}, net);
  const nodes = cluster(sim, 10);
  const formedMs = sim.waitFor(() => ringIs(nodes, ids(10)), 30_000, 100);
  if (formedMs === undefined) return { message: 'never agreed under loss' };
  let agreed = 0;
  for (let i = 0; i < 100; i++) {
    sim.runFor(100);
    if (ringIs(nodes, ids(10))) agreed++;
  }
  sim.lossRate = 0; // faults heal: agreement must follow and hold
  const all = () => ringIs(nodes, ids(10)) && allAlive(nodes, ids(10));
  if (sim.waitFor(all, 10_000, 100) === undefined) return { message: 'no agreement after loss' };
  sim.runFor(5_000);
  if (!all()) return { message: 'agreement did not hold' };
  if (sim.updatesMaxSeen > DEFAULT_MEMBERSHIP_CONFIG.updatesPerMessageMax) {
    return { message: `a message carried ${sim.updatesMaxSeen} claims` };
  }
  const refutations = nodes.reduce((sum, n) => sum + n.core.stats().refutations, 0);
  return { formedMs, agreedShare: agreed / 100, refutations };
}

test('with 20% loss and random delays, 10 nodes converge to the same ring (100 seeds)', (t) => {
  t.log('seed', BASE_SEED, '(replay with SQUALL_SEED=<the failing seed>)');
  const times: number[] = [];
  let agreedShare = 0;
  let refutations = 0;
  for (let i = 0; i < 100; i++) {
    const seed = (BASE_SEED + i) | 0;
    const run = convergesUnderLoss(seed);
    if (run.message !== undefined) {
      t.fail(`seed ${seed}: ${run.message} (replay with SQUALL_SEED=${seed})`);
      return;
    }
    times.push(run.formedMs ?? 0);
    agreedShare += (run.agreedShare ?? 0) / 100;
    refutations += run.refutations ?? 0;
  }
  times.sort((a, b) => a - b);
  t.true(refutations > 0, 'the loss never caused a false suspicion: the test does not bite');
  t.log(
    `10 nodes, 20% loss: agreed after median ${times[50]} ms, worst ${times.at(-1)} ms; ` +
      `then agreed at ${(agreedShare * 100).toFixed(1)}% of samples; ${refutations} refutations`,
  );
});

function partitionHeals(
  seed: number,
  config: Partial<MembershipConfig>,
  partitionMs: number,
): { splitMs?: number; healMs?: number; message?: string } {
  const sim = formed(seed, 5, config);
  const left = ['n1', 'n2'];
  const right = ['n3', 'n4', 'n5'];
  sim.partition = new Map([
    ...left.map((id) => [id, 0] as const),
    ...right.map((id) => [id, 1] as const),
  ]);
  const sideL = left.map((id) => sim.node(id));
  const sideR = right.map((id) => sim.node(id));
  const gone = (observers: SimNode[], others: string[]) =>
    observers.every((o) =>
      others.every((id) => stateOf(o, id) !== 'alive' && stateOf(o, id) !== 'suspect'),
    );
  const splitMs = sim.waitFor(() => gone(sideL, right) && gone(sideR, left), 15_000);
  if (splitMs === undefined) return { message: 'the sides did not declare each other dead' };
  if (!ringIs(sideL, left) || !ringIs(sideR, right)) return { message: 'a side disagrees' };
  sim.runUntil(sim.now + partitionMs - splitMs);
  sim.partition = undefined;
  const healMs = sim.waitFor(
    () => ringIs(sim.nodes, ids(5)) && allAlive(sim.nodes, ids(5)),
    15_000,
  );
  if (healMs === undefined) return { message: 'the cluster did not re-form' };
  sim.runFor(10_000);
  if (!ringIs(sim.nodes, ids(5))) return { message: 'the re-formed cluster split again' };
  return { splitMs, healMs };
}

test('a partition {n1,n2} | {n3,n4,n5}: each side declares the other dead, and the cluster re-forms after healing', (t) => {
  const healBoundMs = 2 * DEFAULT_MEMBERSHIP_CONFIG.reconnectIntervalMs + 4 * P;
  const splits: number[] = [];
  const heals: number[] = [];
  for (const seed of seeds(20, 7)) {
    const result = partitionHeals(seed, {}, 12_000);
    t.is(result.message, undefined, `seed ${seed}`);
    t.true((result.healMs ?? 0) <= healBoundMs, `seed ${seed}: healed in ${result.healMs} ms`);
    splits.push(result.splitMs ?? 0);
    heals.push(result.healMs ?? 0);
  }
  t.log(
    `split declared in ≤ ${Math.max(...splits)} ms; re-formed in ≤ ${Math.max(...heals)} ms (bound ${healBoundMs} ms)`,
  );
});

test('a partition longer than forgetAfterMs heals through the seeds', (t) => {
  for (const seed of seeds(10, 8)) {
    const result = partitionHeals(seed, { forgetAfterMs: 3_000 }, 20_000);
    t.is(result.message, undefined, `seed ${seed}`);
  }
});

// ---------------------------------------------------------------------------------------
// Rules and bounds, without a network

const STATES: MemberState[] = ['alive', 'suspect', 'dead', 'left'];
const claim = (
  id: string,
  state: MemberState,
  incarnation: number,
  address = `${id}:1`,
): Member => ({
  id,
  address,
  state,
  incarnation,
});

test('precedence: a higher incarnation wins; at equal incarnation alive < suspect < dead < left', (t) => {
  for (const [i, a] of STATES.entries()) {
    for (const [j, b] of STATES.entries()) {
      t.is(supersedes(claim('x', a, 3), claim('x', b, 3)), i > j, `${a} vs ${b}`);
      t.true(supersedes(claim('x', a, 4), claim('x', b, 3)), `${a}@4 vs ${b}@3`);
      t.false(supersedes(claim('x', a, 3), claim('x', b, 4)), `${a}@3 vs ${b}@4`);
    }
  }
});

test('the table merges claims to the same result in any order, any number of times', (t) => {
  const claimArb = fc.record({
    id: fc.constantFrom('a', 'b', 'c'),
    state: fc.constantFrom(...STATES),
    incarnation: fc.nat({ max: 3 }),
  });
  fc.assert(
    fc.property(fc.array(claimArb, { maxLength: 30 }), fc.integer(), (claims, shuffleSeed) => {
      const limits = { membersMax: 10, suspicionTimeoutMs: 1_000, forgetAfterMs: 1e9 };
      const one = new MemberTable('self', limits);
      const two = new MemberTable('self', limits);
      const all = claims.map((c) => claim(c.id, c.state, c.incarnation));
      for (const c of all) one.apply(c, 0);
      const random = prng(shuffleSeed);
      const twice = [...all, ...all].sort(() => random() - 0.5);
      for (const c of twice) two.apply(c, 0);
      t.deepEqual(one.members(), two.members());
      t.is(one.liveCount(), one.ringMembers().length);
    }),
    { seed: BASE_SEED },
  );
});

test('the table is bounded: a full table evicts the longest-dead member, else drops the claim', (t) => {
  const table = new MemberTable('self', {
    membersMax: 3,
    suspicionTimeoutMs: 1_000,
    forgetAfterMs: 60_000,
  });
  table.setSelf(claim('self', 'alive', 0), 0);
  t.is(table.apply(claim('a', 'dead', 0), 1), 'added');
  t.is(table.apply(claim('b', 'dead', 0), 2), 'added');
  t.is(table.apply(claim('c', 'alive', 0), 3), 'added'); // evicts a, down longest
  t.is(table.get('a'), undefined);
  t.is(table.apply(claim('d', 'alive', 0), 4), 'added'); // evicts b
  t.is(table.apply(claim('e', 'alive', 0), 5), 'dropped');
  t.is(table.size, 3);
  t.is(table.droppedCount, 1);
  t.deepEqual(table.forget(100_000), []);
});

test('dead and departed members are forgotten after forgetAfterMs', (t) => {
  const table = new MemberTable('self', {
    membersMax: 10,
    suspicionTimeoutMs: 1_000,
    forgetAfterMs: 5_000,
  });
  table.setSelf(claim('self', 'alive', 0), 0);
  table.apply(claim('a', 'dead', 0), 0);
  table.apply(claim('b', 'left', 0), 1_000);
  table.apply(claim('c', 'alive', 0), 0);
  t.deepEqual(table.forget(4_999), []);
  t.deepEqual(table.forget(5_000), ['a']);
  t.deepEqual(table.forget(6_000), ['b']);
  t.deepEqual(table.ringMembers(), ['c', 'self']);
});

test('the gossip queue is bounded, least-sent first, and retires a claim after transmitLimit sends', (t) => {
  const queue = new GossipQueue(3);
  const idsOf = (claims: Member[]) => claims.map((c) => c.id);
  for (const id of ['a', 'b', 'c', 'd']) queue.push(claim(id, 'alive', 0));
  t.is(queue.size, 3);
  t.false(queue.has('a'), 'full: the most-sent (here, the oldest) was evicted');
  t.deepEqual(idsOf(queue.take(2, 2)), ['d', 'c'], 'newest first among the unsent');
  t.deepEqual(idsOf(queue.take(2, 2)), ['b', 'd'], 'the unsent one first');
  t.false(queue.has('d'), 'sent twice: retired');
  queue.push(claim('e', 'alive', 0));
  queue.push(claim('f', 'alive', 0)); // full again: b and c were sent once, b is older
  t.deepEqual(
    [queue.has('b'), queue.has('c'), queue.has('e'), queue.has('f')],
    [false, true, true, true],
  );
  t.deepEqual(idsOf(queue.take(5, 2, 'e')), ['f', 'c'], 'nothing about the skipped member');
  queue.push(claim('f', 'dead', 0));
  t.deepEqual(idsOf(queue.take(5, 2)), ['f', 'e'], 'a newer claim replaces and starts afresh');
});

test('the probe order visits every candidate once per round, in a reshuffled order', (t) => {
  const order = new ProbeOrder(prng(BASE_SEED));
  const candidates = ['a', 'b', 'c', 'd', 'e'];
  const rounds: string[][] = [];
  for (let r = 0; r < 6; r++) {
    const round: string[] = [];
    for (let i = 0; i < candidates.length; i++) {
      const next = order.next(
        () => true,
        () => [...candidates],
      );
      if (next !== undefined) round.push(next);
    }
    t.deepEqual([...round].sort(), candidates);
    rounds.push(round);
  }
  t.true(new Set(rounds.map((r) => r.join())).size > 1, 'the order never changed');
  t.is(
    new ProbeOrder(prng(1)).next(
      () => false,
      () => ['a'],
    ),
    undefined,
  );
});

/** One core driven by hand: returns it, the sends it made, and a way to feed it. */
function manual(config: Partial<MembershipConfig> = {}) {
  const core = new Membership({ id: 'a', address: 'a:1' }, config, { random: prng(7) });
  const sent: { to: string; message: MembershipMessage }[] = [];
  const timers: string[] = [];
  const take = (effects: CoreEffect<MembershipMessage>[]) => {
    for (const e of effects) {
      if (e.t === 'send') sent.push({ to: e.to, message: e.message });
      else timers.push(e.name);
    }
  };
  return { core, sent, timers, take };
}

const sender = (id: string, incarnation = 0) => ({
  id,
  address: `${id}:1`,
  state: 'alive' as const,
  incarnation,
});

test('a late ack (wrong seq) is ignored and the target is suspected', (t) => {
  const { core, sent, take } = manual();
  take(core.start([], 0, 0));
  take(core.receive('b:1', { t: 'ping', seq: 1, sender: sender('b'), updates: [] }, 1));
  t.deepEqual(core.ringMembers(), ['a', 'b']);
  sent.length = 0;
  take(core.fire('probe', 500));
  const ping = sent.find((s) => s.message.t === 'ping');
  t.truthy(ping);
  const seq = ping?.message.t === 'ping' ? ping.message.seq : -1;
  take(core.receive('b:1', { t: 'ack', seq: seq + 1, sender: sender('b'), updates: [] }, 600));
  take(core.fire('probe-timeout', 750));
  take(core.fire('probe', 1_000));
  t.is(core.members().find((m) => m.id === 'b')?.state, 'suspect');
  t.deepEqual(core.ringMembers(), ['a', 'b'], 'a suspect still owns data');
  take(core.fire('suspicion', 1_000 + S));
  t.is(core.members().find((m) => m.id === 'b')?.state, 'dead');
  t.deepEqual(core.ringMembers(), ['a']);
});

test('an ack with the right seq keeps the target alive; version bumps only on change', (t) => {
  const { core, sent, take } = manual();
  take(core.start([], 0, 0));
  take(core.receive('b:1', { t: 'ping', seq: 1, sender: sender('b'), updates: [] }, 1));
  const version = core.version;
  take(core.receive('b:1', { t: 'ping', seq: 2, sender: sender('b'), updates: [] }, 2));
  t.is(core.version, version, 'nothing changed');
  sent.length = 0;
  take(core.fire('probe', 500));
  const ping = sent.find((s) => s.message.t === 'ping');
  const seq = ping?.message.t === 'ping' ? ping.message.seq : -1;
  take(core.receive('b:1', { t: 'ack', seq, sender: sender('b'), updates: [] }, 600));
  take(core.fire('probe', 1_000));
  t.is(core.members().find((m) => m.id === 'b')?.state, 'alive');
  t.is(core.addressOf('b'), 'b:1');
  t.is(core.addressOf('zz'), undefined);
});

test('a node told it is suspect or dead refutes with a higher incarnation; claims about others never raise theirs', (t) => {
  const { core, sent, take } = manual();
  take(core.start([], 5, 0));
  take(
    core.receive(
      'b:1',
      { t: 'ping', seq: 1, sender: sender('b'), updates: [claim('a', 'suspect', 5, 'a:1')] },
      1,
    ),
  );
  t.is(core.incarnation, 6);
  const ack = sent.find((s) => s.message.t === 'ack');
  t.is(ack?.message.sender.incarnation, 6, 'the reply already carries the refutation');
  take(
    core.receive(
      'b:1',
      { t: 'ping', seq: 2, sender: sender('b'), updates: [claim('a', 'dead', 9, 'a:1')] },
      2,
    ),
  );
  t.is(core.incarnation, 10);
  take(
    core.receive(
      'b:1',
      { t: 'ping', seq: 3, sender: sender('b'), updates: [claim('a', 'alive', 4, 'a:1')] },
      3,
    ),
  );
  t.is(core.incarnation, 10, 'an old alive claim changes nothing');
  take(
    core.receive(
      'b:1',
      { t: 'ping', seq: 4, sender: sender('b'), updates: [claim('c', 'suspect', 2)] },
      4,
    ),
  );
  t.is(core.members().find((m) => m.id === 'c')?.incarnation, 2);
  t.is(core.stats().refutations, 2);
});

test('a newer alive claim to this id from another address is noted as a second process with the id', (t) => {
  const { core, take } = manual();
  take(core.start([], 5, 0));
  const ping = (seq: number, updates: Member[]) =>
    take(core.receive('b:1', { t: 'ping', seq, sender: sender('b'), updates }, seq));
  ping(1, [claim('a', 'alive', 3, 'a:2')]);
  t.is(core.idClaimedFrom, undefined, 'an older claim (a restart at a new address) is no conflict');
  ping(2, [claim('a', 'alive', 9, 'a:1')]);
  t.is(core.idClaimedFrom, undefined, 'a newer claim at this very address is no conflict');
  ping(3, [claim('a', 'alive', 20, 'a:2')]);
  t.is(core.idClaimedFrom, 'a:2');
  t.true(core.incarnation > 20, 'and the node still refutes it');
});

test('a ping from a member known at another address is answered with that claim', (t) => {
  const { core, sent, take } = manual();
  take(core.start([], 0, 0));
  take(core.receive('b:1', { t: 'ping', seq: 1, sender: sender('b', 7), updates: [] }, 1));
  sent.length = 0;
  const elsewhere = { ...sender('b', 2), address: 'b:9' };
  take(core.receive('b:9', { t: 'ping', seq: 2, sender: elsewhere, updates: [] }, 2));
  const ack = sent.find((s) => s.message.t === 'ack');
  t.is(ack?.to, 'b:9');
  const updates = ack?.message.t === 'ack' ? ack.message.updates : [];
  t.deepEqual(
    updates.find((m) => m.id === 'b'),
    { id: 'b', address: 'b:1', state: 'alive', incarnation: 7 },
    'the second process hears that its id is alive elsewhere with a newer incarnation',
  );
});

test('a message to a member believed not alive carries that belief first', (t) => {
  const { core, sent, take } = manual({ updatesPerMessageMax: 1 });
  take(core.start([], 0, 0));
  take(
    core.receive(
      'b:1',
      { t: 'ping', seq: 1, sender: sender('b'), updates: [claim('c', 'alive', 0)] },
      1,
    ),
  );
  take(
    core.receive(
      'c:1',
      { t: 'ping', seq: 1, sender: sender('c'), updates: [claim('b', 'dead', 0)] },
      2,
    ),
  );
  sent.length = 0;
  take(core.receive('b:1', { t: 'ping', seq: 2, sender: sender('b'), updates: [] }, 3));
  const ack = sent.find((s) => s.message.t === 'ack' && s.to === 'b:1');
  t.true(
    ack?.message.t === 'ack' &&
      ack.message.updates[0]?.id === 'b' &&
      ack.message.updates[0].state === 'dead',
  );
});

test('the table, piggyback and relays stay within their bounds under a flood', (t) => {
  const { core, sent, take } = manual({ membersMax: 8, updatesPerMessageMax: 4, relaysMax: 3 });
  take(core.start([], 0, 0));
  for (let i = 0; i < 100; i++) {
    const updates = Array.from({ length: 10 }, (_, j) => claim(`m${i}-${j}`, 'alive', 0));
    take(core.receive('x:1', { t: 'ping', seq: i, sender: sender(`s${i}`), updates }, i));
  }
  t.true(core.members().length <= 8);
  t.true(core.stats().claimsDropped > 0);
  t.true(core.stats().gossipQueued <= 8);
  for (const s of sent) if ('updates' in s.message) t.true(s.message.updates.length <= 4);
  sent.length = 0;
  for (let i = 0; i < 10; i++) {
    const target = { id: `t${i}`, address: `t${i}:1` };
    take(
      core.receive(
        'x:1',
        { t: 'ping-req', seq: i, target, sender: sender('s0'), updates: [] },
        200,
      ),
    );
  }
  t.is(sent.filter((s) => s.message.t === 'ping').length, 3);
  t.is(core.stats().relaysRefused, 7);
});

test('a leaving node tells a few members, stops probing and answers pings as left', (t) => {
  const { core, sent, timers, take } = manual({ leaveFanout: 2 });
  take(core.start([], 0, 0));
  for (const id of ['b', 'c', 'd'])
    take(core.receive(`${id}:1`, { t: 'ping', seq: 1, sender: sender(id), updates: [] }, 1));
  sent.length = 0;
  take(core.leave(10));
  t.is(sent.length, 2);
  t.true(sent.every((s) => s.message.sender.state === 'left'));
  t.deepEqual(core.ringMembers(), ['b', 'c', 'd']);
  t.deepEqual(core.fire('probe', 500), []);
  timers.length = 0;
  take(
    core.receive(
      'b:1',
      { t: 'ping', seq: 9, sender: sender('b'), updates: [claim('a', 'dead', 0, 'a:1')] },
      600,
    ),
  );
  t.is(core.incarnation, 0, 'left is not refuted');
  t.is(sent.at(-1)?.message.t, 'ack');
  t.is(sent.at(-1)?.message.sender.state, 'left');
  t.deepEqual(core.leave(700), []);
});

test('join is retried until welcomed; a lone node is joined at once', (t) => {
  const { core, sent, take } = manual();
  take(core.start(['seed:1', 'a:1'], 0, 0));
  t.false(core.joined);
  t.deepEqual(
    sent.map((s) => [s.to, s.message.t]),
    [['seed:1', 'join']],
  );
  take(core.fire('join', 1_000));
  t.is(sent.filter((s) => s.message.t === 'join').length, 2);
  take(
    core.receive(
      'seed:1',
      {
        t: 'welcome',
        sender: sender('s'),
        members: [claim('s', 'alive', 0, 's:1'), claim('q', 'alive', 3)],
      },
      1_100,
    ),
  );
  t.true(core.joined);
  t.deepEqual(core.ringMembers(), ['a', 'q', 's']);
  t.is(core.stats().gossipQueued, 1, 'a first welcome is not news to spread (only its sender is)');
  const lone = manual();
  lone.take(lone.core.start([], 0, 0));
  t.true(lone.core.joined);
  t.throws(() => lone.core.start([], 0, 1), { message: /twice/ });
  t.throws(() => lone.core.fire('nonsense', 2), { message: /unknown membership timer/ });
});

test('the configuration is checked', (t) => {
  t.deepEqual(membershipConfig({}), DEFAULT_MEMBERSHIP_CONFIG);
  t.is(membershipConfig({ probeIntervalMs: 1_000 }).probeIntervalMs, 1_000);
  t.throws(() => membershipConfig({ probeTimeoutMs: 500 }), { instanceOf: ValidationError });
  t.throws(() => membershipConfig({ membersMax: 0 }), { instanceOf: ValidationError });
  t.throws(() => membershipConfig({ suspicionTimeoutMs: 1.5 }), { instanceOf: ValidationError });
  t.throws(() => membershipConfig({ updatesPerMessageMax: 1_000 }), {
    instanceOf: ValidationError,
  });
  const env = { random: () => 0.5 };
  t.throws(() => new Membership({ id: '', address: 'a:1' }, {}, env), {
    instanceOf: ValidationError,
  });
  const core = new Membership({ id: 'a', address: 'a:1' }, {}, env);
  t.throws(() => core.start([], -1, 0), { instanceOf: ValidationError });
  const many = Array.from({ length: 65 }, (_, i) => `s${i}:1`);
  t.throws(() => core.start(many, 0, 0), { instanceOf: ValidationError });
});

// ---------------------------------------------------------------------------------------
// The parser

const memberArb = fc.record({
  id: fc.string({ minLength: 1, maxLength: 20 }),
  address: fc.string({ minLength: 1, maxLength: 30 }),
  state: fc.constantFrom(...STATES),
  incarnation: fc.nat(),
});
const senderArb = fc.record({
  id: fc.string({ minLength: 1, maxLength: 20 }),
  address: fc.string({ minLength: 1, maxLength: 30 }),
  state: fc.constantFrom('alive' as const, 'left' as const),
  incarnation: fc.nat(),
});
const updatesArb = fc.array(memberArb, { maxLength: 5 });
const messageArb: fc.Arbitrary<MembershipMessage> = fc.oneof(
  fc.record({ t: fc.constant('join' as const), sender: senderArb, updates: updatesArb }),
  fc.record({ t: fc.constant('welcome' as const), sender: senderArb, members: updatesArb }),
  fc.record({
    t: fc.constant('ping' as const),
    seq: fc.nat(),
    sender: senderArb,
    updates: updatesArb,
  }),
  fc.record({
    t: fc.constant('ack' as const),
    seq: fc.nat(),
    sender: senderArb,
    updates: updatesArb,
  }),
  fc.record({
    t: fc.constant('ping-req' as const),
    seq: fc.nat(),
    target: fc.record({ id: fc.string({ minLength: 1 }), address: fc.string({ minLength: 1 }) }),
    sender: senderArb,
    updates: updatesArb,
  }),
  fc.record({
    t: fc.constant('indirect-ack' as const),
    seq: fc.nat(),
    target: fc.string({ minLength: 1 }),
    sender: senderArb,
    updates: updatesArb,
  }),
);

/** Parses, or throws ValidationError; anything else thrown fails the property. */
function parseOrInvalid(value: unknown): MembershipMessage | undefined {
  try {
    return parseMembershipMessage(value);
  } catch (error) {
    if (error instanceof ValidationError) return undefined;
    throw error;
  }
}

test('parseMembershipMessage accepts every well-formed message and returns a clean copy', (t) => {
  fc.assert(
    fc.property(messageArb, (message) => {
      const parsed = parseMembershipMessage(JSON.parse(JSON.stringify({ ...message, extra: 1 })));
      t.deepEqual(parsed, message);
      t.deepEqual(parseMembershipMessage(parsed), parsed);
    }),
    { seed: BASE_SEED, numRuns: 300 },
  );
});

test('parseMembershipMessage rejects garbage with ValidationError only', (t) => {
  const hostile = fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
  });
  const mutated = fc
    .tuple(messageArb, fc.string({ maxLength: 12 }), hostile)
    .map(([message, key, value]) => {
      const record: Record<string, unknown> = { ...message };
      const keys = Object.keys(record);
      record[keys[key.length % keys.length] ?? key] = value;
      return record;
    });
  const deep = fc.tuple(messageArb, hostile).map(([message, value]) => {
    if (!('updates' in message) || message.updates.length === 0)
      return { ...message, sender: value };
    const updates: unknown[] = [...message.updates];
    updates[0] = { ...message.updates[0], incarnation: value };
    return { ...message, updates };
  });
  fc.assert(
    fc.property(fc.oneof(hostile, mutated, deep), (value) => {
      parseOrInvalid(value);
      t.pass();
    }),
    { seed: BASE_SEED, numRuns: 2_000 },
  );
  const ok = { t: 'ping', seq: 1, sender: sender('b'), updates: [] };
  const bad: unknown[] = [
    null,
    [],
    'ping',
    { ...ok, t: 'pong' },
    { ...ok, seq: -1 },
    { ...ok, seq: 1.5 },
    { ...ok, seq: 2 ** 53 },
    { ...ok, sender: { ...sender('b'), state: 'suspect' } },
    { ...ok, sender: { ...sender('b'), id: '' } },
    { ...ok, sender: { ...sender('b'), id: 'x'.repeat(129) } },
    { ...ok, updates: Array.from({ length: 257 }, () => claim('c', 'alive', 0)) },
    { ...ok, updates: [claim('c', 'gone' as MemberState, 0)] },
    { t: 'welcome', sender: sender('b') },
    { t: 'ping-req', seq: 1, sender: sender('b'), updates: [], target: 'c' },
  ];
  for (const value of bad)
    t.throws(() => parseMembershipMessage(value), { instanceOf: ValidationError });
});
