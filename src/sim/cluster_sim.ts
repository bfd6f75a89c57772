/**
 * One seeded cluster simulation: 3 to 6 nodes join through seed addresses (a seventh may
 * join late), clients write set and counter keys at random running nodes, and a fault
 * schedule drawn from the seed runs alongside: message loss, duplication and reordering
 * throughout, one partition for a while, one or two crashes with later restarts, and maybe
 * a late join and a graceful leave. Then every fault heals (no more loss or duplication,
 * the partition ends, every crashed node is up again) and the checkers of checkers.ts run
 * every POLL_MS until they pass; they must pass within `boundMs` of the heal and still pass
 * STABLE_MS later.
 *
 * Invariants: everything is a function of the seed: the scenario, the network's draws, each
 * node's core randomness and the workload come from separate forks of one Random, and
 * events run in (virtual time, scheduling order), so `runSeed(seed)` gives the same result,
 * trace and all, every time. Nothing here reads the wall clock or Math.random.
 *
 * Why these numbers: the cores run with their production defaults (probes every 500 ms,
 * suspicion 2.5 s, gossip every 100 ms, anti-entropy every 1 s, hand-off re-sent after 2 s),
 * so a scenario covers ~15 s of faults, and the bound after the heal is stated in rounds of
 * those intervals (see DEFAULT_BOUND_MS).
 */
import { DEFAULT_REPLICATION_CONFIG, type HashRing } from '../runtime/index.js';
import type { LatticeSpec } from '../storage/index.js';
import { StoreShard } from '../storage/index.js';
import { checkData, checkRing, Ledger, type LedgerSummary, referenceView } from './checkers.js';
import { SimClock, Trace } from './clock.js';
import { type FaultModel, Network, type NetworkStats } from './network.js';
import { Random } from './random.js';
import { ringCache, SimNode, type SimNodeConfig } from './sim_node.js';

export interface Scenario {
  seed: number;
  /** Nodes started at the beginning (n0 …). */
  nodes: number;
  startsMs: number[];
  faults: FaultModel;
  partition: { fromMs: number; untilMs: number; sides: string[][] };
  crashes: { node: string; atMs: number; restartMs: number }[];
  lateJoin: { node: string; atMs: number } | undefined;
  leave: { node: string; atMs: number } | undefined;
  writes: number;
  setKeys: number;
  counterKeys: number;
  writesUntilMs: number;
  healMs: number;
}

export interface SimOptions {
  /** Every trace line goes here as it happens (the replay CLI). */
  verbose?: ((line: string) => void) | undefined;
  /** Trace lines kept for a failure report. */
  traceKeep?: number | undefined;
  /** How long after the heal the cluster has to converge. */
  boundMs?: number | undefined;
  node?: Partial<SimNodeConfig> | undefined;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  failures: string[];
  scenario: Scenario;
  /** Virtual ms from the heal to the first poll at which every check passed. */
  convergedAfterMs: number | undefined;
  endMs: number;
  events: number;
  ledger: LedgerSummary;
  network: NetworkStats;
  /** The last trace lines of every kind. */
  trace: string[];
  /** The last notable trace lines (faults, ring changes, starts and crashes). */
  notes: string[];
  /** The last trace lines about each key a failure names (writes, forwards, deletions). */
  keyHistory: Record<string, string[]>;
}

export const DEFAULT_NODE_CONFIG: SimNodeConfig = {
  replication: 2,
  membership: {},
  replicationConfig: {},
  requestTimeoutMs: 1000,
  leaveTimeoutMs: 30_000,
  leavePollMs: 50,
  refreshViewWhileLeaving: false,
  rememberOwnCounts: true,
};

/** Checks run every POLL_MS after the heal (2.5 gossip rounds). */
export const POLL_MS = 250;
/** Once passed, the checks must still pass this much later (3 anti-entropy rounds). */
export const STABLE_MS = 3 * DEFAULT_REPLICATION_CONFIG.antiEntropyIntervalMs;
/**
 * The bound after the heal: 15 anti-entropy rounds (15 s = 150 gossip rounds). Budget:
 * the membership re-forms within a few reconnect intervals (2 s each, each one message to
 * a random dead member or unreached seed) plus a suspicion timeout (2.5 s) for stale
 * claims; then every pair of co-owners runs anti-entropy at least once every N-1 ≤ 6
 * rounds, and an unacknowledged hand-off batch is re-sent after 2 s. Measured over seeds
 * 1 to 6000: convergence took at most 5.25 s (99.9th percentile 4.75 s), so the bound
 * leaves a margin of almost 3x without hiding a cluster that never converges.
 */
export const DEFAULT_BOUND_MS = 15 * DEFAULT_REPLICATION_CONFIG.antiEntropyIntervalMs;

const PORT = 7946;

export function nodeId(i: number): string {
  return `n${i}`;
}

export function addressOf(id: string): string {
  return `${id}:${PORT}`;
}

/** The independent random streams of one seed. */
function streams(seed: number): Record<'scenario' | 'network' | 'nodes' | 'workload', Random> {
  const root = new Random(seed);
  return { scenario: root.fork(), network: root.fork(), nodes: root.fork(), workload: root.fork() };
}

/** The fault schedule and workload of a seed. */
export function drawScenario(seed: number): Scenario {
  const r = streams(seed).scenario;
  const nodes = r.between(3, 6);
  const ids = Array.from({ length: nodes }, (_, i) => nodeId(i));
  const startsMs = ids.map((_, i) => (i === 0 ? 0 : r.between(0, 500)));
  const faults: FaultModel = {
    delayMs: r.between(1, 20),
    jitterMs: r.between(0, 40),
    lossRate: r.int(11) / 100,
    duplicateRate: r.int(6) / 100,
  };
  const lateJoin = r.chance(0.4)
    ? { node: nodeId(nodes), atMs: r.between(2000, 11_000) }
    : undefined;
  const leaver = r.chance(0.4) ? r.pick(ids.slice(1)) : undefined;
  const crashable = r.shuffle(ids.filter((id) => id !== leaver));
  const crashes = crashable.slice(0, r.between(1, 2)).map((node) => {
    const atMs = r.between(1500, 11_000);
    return { node, atMs, restartMs: atMs + r.between(500, 5000) };
  });
  const everyone = lateJoin === undefined ? ids : [...ids, lateJoin.node];
  const partition = drawPartition(r, everyone);
  const leave = leaver === undefined ? undefined : drawLeave(r, leaver, nodes, partition, crashes);
  const lastFault = Math.max(partition.untilMs, ...crashes.map((c) => c.restartMs));
  const healMs = Math.max(14_000, lastFault + 500);
  return {
    seed,
    nodes,
    startsMs,
    faults,
    partition,
    crashes,
    lateJoin,
    leave,
    writes: r.between(120, 250),
    setKeys: r.between(6, 16),
    counterKeys: r.between(3, 8),
    writesUntilMs: healMs - 500,
    healMs,
  };
}

function drawPartition(r: Random, ids: readonly string[]): Scenario['partition'] {
  const fromMs = r.between(1500, 9000);
  const shuffled = r.shuffle([...ids]);
  const cut = r.between(1, shuffled.length - 1);
  const sides = [shuffled.slice(0, cut).sort(), shuffled.slice(cut).sort()];
  return { fromMs, untilMs: fromMs + r.between(1500, 6000), sides };
}

/** Membership needs a few reconnect rounds to re-form after a partition or a restart. */
const SETTLE_MS = 5000;

/**
 * When `node` leaves: never while the partition (or its settling) lasts, nor while every
 * other node is down. A node that believes it is alone stops at once (cluster.ts `leave`
 * hands off only to the ring members it sees), taking the writes only it holds with it:
 * that is an operator's mistake the runtime does not prevent, not a fault to inject.
 */
function drawLeave(
  r: Random,
  node: string,
  nodes: number,
  partition: Scenario['partition'],
  crashes: Scenario['crashes'],
): Scenario['leave'] {
  for (let attempt = 0; attempt < 20; attempt++) {
    const atMs = r.between(2000, 11_000);
    const split = atMs >= partition.fromMs && atMs <= partition.untilMs + SETTLE_MS;
    const down = crashes.filter((c) => atMs >= c.atMs && atMs <= c.restartMs + SETTLE_MS);
    if (!split && down.length < nodes - 1) return { node, atMs };
  }
  return undefined;
}

/** One line per fault, for the replay and failure reports. */
export function describeScenario(s: Scenario): string[] {
  const f = s.faults;
  const lines = [
    `seed ${s.seed}: ${s.nodes} nodes, ${s.writes} writes over ${s.setKeys} set and ` +
      `${s.counterKeys} counter keys until ${s.writesUntilMs}ms, heal at ${s.healMs}ms`,
    `network: delay ${f.delayMs}ms + jitter <${f.jitterMs}ms, loss ${f.lossRate}, ` +
      `duplication ${f.duplicateRate}`,
    `partition ${s.partition.sides.map((side) => `[${side}]`).join(' | ')} ` +
      `from ${s.partition.fromMs}ms to ${s.partition.untilMs}ms`,
  ];
  for (const c of s.crashes)
    lines.push(`crash ${c.node} at ${c.atMs}ms, restart at ${c.restartMs}ms`);
  if (s.lateJoin) lines.push(`late join ${s.lateJoin.node} at ${s.lateJoin.atMs}ms`);
  if (s.leave) lines.push(`graceful leave of ${s.leave.node} at ${s.leave.atMs}ms`);
  return lines;
}

export class ClusterSim {
  readonly scenario: Scenario;
  readonly clock = new SimClock();
  readonly trace: Trace;
  readonly network: Network;
  readonly ledger = new Ledger();
  readonly nodes: SimNode[] = [];
  readonly #workload: Random;
  readonly #ringOf: (ids: readonly string[]) => HashRing = ringCache();
  readonly #boundMs: number;
  readonly #config: SimNodeConfig;

  constructor(scenario: Scenario, options: SimOptions = {}) {
    this.scenario = scenario;
    const random = streams(scenario.seed);
    this.#workload = random.workload;
    this.#boundMs = options.boundMs ?? DEFAULT_BOUND_MS;
    this.#config = { ...DEFAULT_NODE_CONFIG, ...options.node };
    this.trace = new Trace(options.traceKeep ?? 40, options.verbose);
    this.network = new Network(this.clock, random.network, scenario.faults, this.trace);
    const count = scenario.nodes + (scenario.lateJoin === undefined ? 0 : 1);
    const seeds = Array.from({ length: Math.min(3, scenario.nodes) }, (_, i) =>
      addressOf(nodeId(i)),
    );
    const world = {
      clock: this.clock,
      network: this.network,
      trace: this.trace,
      writes: this.ledger,
      random: random.nodes,
      ringOf: this.#ringOf,
    };
    for (let i = 0; i < count; i++) {
      const id = nodeId(i);
      const identity = { id, address: addressOf(id), seeds, shard: new StoreShard() };
      this.nodes.push(new SimNode(identity, this.#config, world));
    }
  }

  /** Runs the scenario to the end and checks it. */
  run(): SimResult {
    let convergedAfterMs: number | undefined;
    let failures: string[];
    try {
      this.#schedule();
      this.clock.runUntil(this.scenario.healMs);
      ({ convergedAfterMs, failures } = this.#converge());
    } catch (error) {
      const e = error as Error;
      failures = [`exception at ${this.clock.now}ms: ${e.stack ?? e.message}`];
    }
    return {
      seed: this.scenario.seed,
      ok: failures.length === 0,
      failures,
      scenario: this.scenario,
      convergedAfterMs,
      endMs: this.clock.now,
      events: this.clock.eventsRun,
      ledger: this.ledger.summary(),
      network: this.network.stats,
      trace: this.trace.lines(),
      notes: this.trace.notes(),
      keyHistory: this.#historyOf(failures),
    };
  }

  /** The trace lines of the keys that failure messages name (`<key>: …`). */
  #historyOf(failures: readonly string[]): Record<string, string[]> {
    const history: Record<string, string[]> = {};
    for (const key of this.trace.keys().sort()) {
      if (failures.some((f) => f.startsWith(`${key}: `))) history[key] = this.trace.keyLines(key);
    }
    return history;
  }

  /** Every check of checkers.ts on the current state; empty when all pass. */
  check(): string[] {
    const ring = checkRing(this.nodes);
    const live = this.nodes.filter((node) => node.state === 'up').map((node) => node.id);
    const view = referenceView(live, this.#config.replication, this.#ringOf(live));
    return [...ring, ...checkData(this.nodes, this.ledger, view)];
  }

  node(id: string): SimNode {
    const node = this.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  #event(atMs: number, what: string, action: () => void): void {
    this.clock.at(atMs, () => {
      this.trace.note(this.clock.now, `** ${what}`);
      action();
    });
  }

  #schedule(): void {
    const s = this.scenario;
    s.startsMs.forEach((atMs, i) => {
      this.clock.at(atMs, () => this.nodes[i]?.start());
    });
    const { lateJoin, leave, partition } = s;
    if (lateJoin)
      this.#event(lateJoin.atMs, `late join ${lateJoin.node}`, () =>
        this.node(lateJoin.node).start(),
      );
    if (leave) this.#event(leave.atMs, `leave ${leave.node}`, () => this.node(leave.node).leave());
    for (const c of s.crashes) {
      this.#event(c.atMs, `crash ${c.node}`, () => this.node(c.node).crash());
      this.#event(c.restartMs, `restart ${c.node}`, () => this.node(c.node).start());
    }
    const sides = partition.sides.map((side) => side.map(addressOf));
    this.#event(
      partition.fromMs,
      `partition ${partition.sides.map((x) => `[${x}]`).join(' | ')}`,
      () => this.network.partition(sides),
    );
    this.#event(partition.untilMs, 'partition ends', () => this.network.heal());
    this.#event(s.healMs, 'heal: no more loss or duplication', () => {
      this.network.setFaults({ ...s.faults, lossRate: 0, duplicateRate: 0 });
      this.network.heal();
    });
    for (let i = 0; i < s.writes; i++) {
      this.clock.at(this.#workload.between(200, s.writesUntilMs), () => this.#write());
    }
  }

  /** One client write: a random running node, a random key, a unique token or +1. */
  #write(): void {
    const r = this.#workload;
    const running = this.nodes.filter((node) => node.state === 'up');
    const isSet = r.chance(0.6);
    const key = isSet
      ? `set-${r.int(this.scenario.setKeys)}`
      : `ctr-${r.int(this.scenario.counterKeys)}`;
    if (running.length === 0) return;
    const contact = r.pick(running);
    const record = this.ledger.issue(key, isSet ? 'set' : 'counter', contact.id, this.clock.now);
    const spec: LatticeSpec = isSet
      ? { kind: 'set', values: [record.token] }
      : { kind: 'counter', by: 1 };
    this.trace.note(
      this.clock.now,
      `client write#${record.id} ${key} ${isSet ? `+${record.token}` : '+1'} at ${contact.id}`,
      key,
    );
    contact.clientWrite({ id: record.id, key, spec });
  }

  /** Polls the checks after the heal until they pass (then once more) or the bound runs out. */
  #converge(): { convergedAfterMs: number | undefined; failures: string[] } {
    const heal = this.scenario.healMs;
    let failures: string[] = [];
    for (let t = heal; t <= heal + this.#boundMs; t += POLL_MS) {
      this.clock.runUntil(t);
      failures = this.check();
      if (failures.length > 0) continue;
      const convergedAfterMs = t - heal;
      this.clock.runUntil(t + STABLE_MS);
      const again = this.check();
      if (again.length === 0) return { convergedAfterMs, failures: [] };
      const note = `passed ${convergedAfterMs}ms after the heal, failed again ${STABLE_MS}ms later:`;
      return { convergedAfterMs, failures: [note, ...again] };
    }
    return {
      convergedAfterMs: undefined,
      failures: [`not converged ${this.#boundMs}ms after the heal:`, ...failures],
    };
  }
}

/** Runs one seed. */
export function runSeed(seed: number, options: SimOptions = {}): SimResult {
  return new ClusterSim(drawScenario(seed), options).run();
}

export function replayCommand(seed: number): string {
  return `SQUALL_SEED=${seed} npx ava test/sim/cluster_sim.test.ts`;
}

/**
 * A failing seed's report: what failed, how to replay it, the scenario, the last events.
 * `flags`: replay.ts options the run had, which only replay.ts takes, so that is the
 * command given then.
 */
export function formatFailure(result: SimResult, flags: readonly string[] = []): string {
  const replayTs = `node --import tsx src/sim/replay.ts ${[result.seed, ...flags].join(' ')}`;
  return [
    `cluster simulation seed ${result.seed} failed:`,
    ...result.failures.map((f) => `  - ${f}`),
    ...(flags.length > 0
      ? [`replay: ${replayTs}`]
      : [`replay: ${replayCommand(result.seed)}`, `   (or, every event: ${replayTs})`]),
    ...describeScenario(result.scenario).map((line) => `  ${line}`),
    ...Object.entries(result.keyHistory).flatMap(([key, lines]) => [
      `last ${lines.length} events of ${key}:`,
      ...lines.map((line) => `  ${line}`),
    ]),
    `last ${result.notes.length} notable events (faults, rings, starts, crashes):`,
    ...result.notes.map((line) => `  ${line}`),
    `last ${Math.min(15, result.trace.length)} events of every kind:`,
    ...result.trace.slice(-15).map((line) => `  ${line}`),
  ].join('\n');
}
