/**
 * Replays one simulation seed verbosely: `node --import tsx src/sim/replay.ts <seed>`
 * prints the scenario, every event as it happens (deliveries, drops, timers, writes,
 * ring changes, faults), then the verdict, and exits 1 when the seed fails. The run is
 * the very one `npx ava test/sim/cluster_sim.test.ts` makes for that seed. Output goes
 * through process.stdout.write (src/ keeps no console.log).
 *
 * Two flags bring back runtime-binding bugs the simulator found (both fixed in cluster.ts
 * and node_store.ts, which the sim node mirrors), to show what they did:
 * `--leave-as-cluster-ts` (a leaving node kept refreshing its view and so put itself back
 * on its ring: seed 262) and `--counters-as-node-store` (increments read the writer's total
 * from a shard that hand-off may have emptied: seed 25).
 */
import { describeScenario, drawScenario, formatFailure, runSeed } from './cluster_sim.js';
import type { SimNodeConfig } from './sim_node.js';

const USAGE =
  'usage: node --import tsx src/sim/replay.ts <seed> [--leave-as-cluster-ts] [--counters-as-node-store]\n';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function parseArgs(
  argv: readonly string[],
): { seed: number; node: Partial<SimNodeConfig> } | undefined {
  const [first, ...flags] = argv;
  // Decimal digits only: Number() would read "" as 0, and 0x2a, 1e3 or " 7" as others.
  const seed = first !== undefined && /^\d+$/.test(first) ? Number(first) : Number.NaN;
  if (!Number.isSafeInteger(seed)) return undefined;
  const node: Partial<SimNodeConfig> = {};
  for (const flag of flags) {
    if (flag === '--leave-as-cluster-ts') node.refreshViewWhileLeaving = true;
    else if (flag === '--counters-as-node-store') node.rememberOwnCounts = false;
    else return undefined;
  }
  return { seed, node };
}

function main(argv: readonly string[]): number {
  const args = parseArgs(argv);
  if (args === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  const { seed, node } = args;
  for (const line of describeScenario(drawScenario(seed))) out(line);
  const result = runSeed(seed, { verbose: out, node });
  const l = result.ledger;
  out(
    `writes: ${l.issued} issued, ${l.acknowledged} acknowledged, ${l.failed} failed, ` +
      `${l.pending} pending, ${l.applied} applied`,
  );
  const n = result.network;
  const d = n.dropped;
  out(
    `messages: ${n.sent} sent, ${n.delivered} delivered, ${n.duplicated} duplicated; dropped ` +
      `${d.loss} lost, ${d.partition} partition, ${d.down} down, ${d.restarted} restarted`,
  );
  if (!result.ok) {
    out(formatFailure(result, argv.slice(1)));
    return 1;
  }
  out(
    `seed ${seed} passed: converged ${result.convergedAfterMs}ms after the heal ` +
      `(${result.events} events)`,
  );
  return 0;
}

process.exitCode = main(process.argv.slice(2));
