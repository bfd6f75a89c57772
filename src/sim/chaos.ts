/**
 * A chaos run: real node processes with data dirs on this machine, clients doing what
 * users do through the SDK, and faults — `kill -9`, SIGTERM, restarts — done to one node
 * at a time while they run. When the time is up the faults stop, every node is up again,
 * the class actors' mailboxes are drained, and the end state is read through every node:
 * they must agree, and nothing acknowledged may be missing (chaos_ledger.ts says what
 * counts as a violation and what only as a finding). `npm run chaos` runs one from the
 * command line (chaos_main.ts); an integration test runs a short one.
 *
 * The schedule (which node, which signal, how long down) and each client's operations come
 * from the seed; the interleaving with real processes does not, so a seed reproduces the
 * run's plan, not its exact timing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cloud, connect } from '../client/index.js';
import { type ChaosFinal, ChaosLedger, type ChaosVerdict } from './chaos_ledger.js';
import { type ChaosFault, ChaosNodes } from './chaos_nodes.js';
import {
  CHAOS_COUNTER_KEYS,
  CHAOS_SET_KEYS,
  ChaosClient,
  chaosCounterKey,
  chaosLwwKey,
  chaosSetKey,
  deployChaos,
  drainInboxes,
} from './chaos_workload.js';
import { Random } from './random.js';

export interface ChaosOptions {
  seconds: number;
  clients: number;
  nodes: number;
  seed: number;
  /** Mean time between one node's restart and the next fault. */
  faultEveryMs: number;
  downMsMin: number;
  downMsMax: number;
  /** Where the nodes' data dirs go; a temporary dir, removed after the run, when absent. */
  root?: string;
  /** Told a line of progress now and then (faults, operation counts). */
  progress?: (line: string) => void;
}

export const DEFAULT_CHAOS_OPTIONS: ChaosOptions = {
  seconds: 120,
  clients: 12,
  nodes: 3,
  seed: 1,
  faultEveryMs: 20_000,
  downMsMin: 1_000,
  downMsMax: 5_000,
};

export interface ChaosReport {
  seed: number;
  seconds: number;
  operations: number;
  errors: Record<string, number>;
  faults: ChaosFault[];
  verdict: ChaosVerdict;
}

const NODE_ARGS = ['--executors', '1', '--replication', '2', '--http-port', 'off'];
const CLIENT_TIMEOUT_MS = 10_000;
const DRAIN_MS = 30_000;
const AGREE_MS = 60_000;
const RATE_EVERY_S = 10;

export async function runChaos(given: Partial<ChaosOptions> = {}): Promise<ChaosReport> {
  const options = { ...DEFAULT_CHAOS_OPTIONS, ...given };
  const root = options.root ?? mkdtempSync(join(tmpdir(), 'squall-chaos-'));
  const random = new Random(options.seed);
  const startedMs = Date.now();
  const nodes = await ChaosNodes.start(options.nodes, root, NODE_ARGS, startedMs);
  const clouds: Cloud[] = [];
  try {
    const admin = await connect(nodes.addresses, { timeoutMs: CLIENT_TIMEOUT_MS });
    clouds.push(admin);
    await waitForRing(admin, options.nodes);
    const inboxes = await deployChaos(admin);
    const ledger = new ChaosLedger(startedMs);
    const names = Array.from({ length: options.clients }, (_, i) => `c${i}`);
    const deadline = startedMs + options.seconds * 1000;
    const stopped = () => Date.now() >= deadline;
    const runs: Promise<void>[] = [];
    for (const [i, name] of names.entries()) {
      const addresses = rotate(nodes.addresses, i);
      const cloud = await connect(addresses, { timeoutMs: CLIENT_TIMEOUT_MS });
      clouds.push(cloud);
      runs.push(new ChaosClient(name, cloud, random.fork(), ledger, inboxes).run(stopped));
    }
    const meter = rateReporter(ledger, options.progress);
    try {
      await injectFaults(nodes, random.fork(), options, stopped, ledger);
      await Promise.all(runs);
    } finally {
      clearInterval(meter);
    }
    await drainInboxes(admin, ledger, DRAIN_MS);
    const { final, disagreements } = await readEverywhere(nodes.addresses, names, AGREE_MS);
    const verdict = ledger.verdict(final);
    verdict.violations.unshift(...disagreements);
    return {
      seed: options.seed,
      seconds: (Date.now() - startedMs) / 1000,
      operations: ledger.operations,
      errors: Object.fromEntries([...ledger.errors].sort()),
      faults: nodes.faults,
      verdict,
    };
  } finally {
    for (const cloud of clouds) cloud.close();
    await nodes.stopAll();
    if (options.root === undefined) rmSync(root, { recursive: true, force: true });
  }
}

/** Faults one node at a time, until the run's time is up; resolves with every node up. */
async function injectFaults(
  nodes: ChaosNodes,
  random: Random,
  options: ChaosOptions,
  stopped: () => boolean,
  ledger: ChaosLedger,
): Promise<void> {
  const report = options.progress ?? (() => {});
  for (;;) {
    const waitMs = Math.round(options.faultEveryMs * random.between(0.5, 1.5));
    const at = Date.now() + waitMs;
    while (!stopped() && Date.now() < at) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, at - Date.now())));
    }
    if (stopped()) return;
    const downMs = Math.round(random.between(options.downMsMin, options.downMsMax));
    const fault = await nodes.fault(random, downMs);
    report(
      `${(fault.atMs / 1000).toFixed(1)} s: ${fault.signal} node ${fault.node}, down ` +
        `${fault.downMs} ms, serving again after ${fault.restartMs} ms; ` +
        `${ledger.operations} operations so far`,
    );
  }
}

/** Every 10 s, tells `progress` how many operations a second the clients managed. */
function rateReporter(
  ledger: ChaosLedger,
  progress: ((line: string) => void) | undefined,
): NodeJS.Timeout | undefined {
  if (progress === undefined) return undefined;
  let last = ledger.operations;
  return setInterval(() => {
    progress(`${Math.round((ledger.operations - last) / RATE_EVERY_S)} operations/s`);
    last = ledger.operations;
  }, RATE_EVERY_S * 1000);
}

/** Waits until the ring holds `size` nodes (a joining node takes a moment). */
export async function waitForRing(cloud: Cloud, size: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await cloud.status()).ring.members.length < size) {
    if (Date.now() > deadline) throw new Error(`the cluster did not reach ${size} nodes in 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function rotate<T>(items: T[], by: number): T[] {
  const at = by % items.length;
  return [...items.slice(at), ...items.slice(0, at)];
}

/**
 * Reads every checked key through each node until all nodes give the same answers (they
 * converge by gossip and anti-entropy after the last restart), or time is up; then lists
 * the keys they still disagree on.
 */
async function readEverywhere(
  addresses: string[],
  clients: string[],
  timeoutMs: number,
): Promise<{ final: ChaosFinal; disagreements: string[] }> {
  const keys = [
    ...Array.from({ length: CHAOS_SET_KEYS }, (_, i) => chaosSetKey(i)),
    ...Array.from({ length: CHAOS_COUNTER_KEYS }, (_, i) => chaosCounterKey(i)),
    ...clients.map(chaosLwwKey),
  ];
  const clouds = await Promise.all(addresses.map((a) => connect([a], { timeoutMs: 5_000 })));
  try {
    const deadline = Date.now() + timeoutMs;
    let answers: Map<string, string[]>;
    for (;;) {
      answers = new Map(keys.map((key) => [key, []]));
      for (const cloud of clouds) {
        const values = await Promise.all(keys.map((key) => cloud.get(key).catch(() => 'error')));
        for (const [i, key] of keys.entries()) answers.get(key)!.push(JSON.stringify(values[i]));
      }
      const agreed = [...answers.values()].every((seen) => seen.every((v) => v === seen[0]));
      if (agreed || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return { final: finalOf(answers), disagreements: disagreementsOf(answers) };
  } finally {
    for (const cloud of clouds) cloud.close();
  }
}

/** The end state as the first node answered it. */
function finalOf(answers: Map<string, string[]>): ChaosFinal {
  const final: ChaosFinal = { sets: new Map(), counters: new Map(), lww: new Map() };
  for (const [key, seen] of answers) {
    const value: unknown = seen[0] === undefined ? undefined : JSON.parse(seen[0]);
    if (key.startsWith('chaos/set/') && Array.isArray(value)) final.sets.set(key, value);
    if (key.startsWith('chaos/count/') && typeof value === 'number') final.counters.set(key, value);
    if (key.startsWith('chaos/lww/') && typeof value === 'number') final.lww.set(key, value);
  }
  return final;
}

function disagreementsOf(answers: Map<string, string[]>): string[] {
  const found: string[] = [];
  for (const [key, seen] of answers) {
    if (seen.some((v) => v !== seen[0]))
      found.push(`nodes disagree on ${key}: ${seen.map((v) => v.slice(0, 60)).join(' / ')}`);
  }
  return found;
}

export function formatChaosReport(report: ChaosReport): string {
  const { verdict } = report;
  const restarts = report.faults.map((f) => f.restartMs);
  const caughtUp = report.faults.flatMap((f) => (f.caughtUpMs === undefined ? [] : [f.caughtUpMs]));
  const errors = Object.entries(report.errors).map(([what, n]) => `${what} ${n}`);
  return [
    `seed ${report.seed}: ${report.operations} operations in ${report.seconds.toFixed(0)} s, ` +
      `${report.faults.length} faults (${report.faults.filter((f) => f.signal === 'SIGKILL').length} kill -9)`,
    `restarts serving after ${range(restarts)} ms; caught up after ${range(caughtUp)} ms`,
    `messages: ${verdict.messagesAcked} acknowledged, ${verdict.messagesReceived} received, ` +
      `${verdict.messagesLost} lost (in a killed node's memory), ` +
      `${verdict.messagesTwiceSameId} received twice under one id (acknowledgement lost in a kill -9)` +
      verdict.lostSamples.map((sample) => `\n  lost: ${sample}`).join(''),
    `own last-writer-wins reads older than the last acknowledged write: ${verdict.lwwStale} of ${verdict.lwwReads}`,
    `errors: ${errors.length === 0 ? 'none' : errors.join(', ')}`,
    verdict.violations.length === 0
      ? 'VIOLATIONS: none'
      : `VIOLATIONS: ${verdict.violations.length}\n  ${verdict.violations.join('\n  ')}`,
  ].join('\n');
}

function range(values: number[]): string {
  if (values.length === 0) return '–';
  return `${Math.min(...values)}–${Math.max(...values)}`;
}
