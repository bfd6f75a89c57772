/**
 * Replays one simulation seed verbosely: `node --import tsx src/sim/replay.ts <seed>`
 * prints the scenario, every event as it happens (deliveries, drops, timers, writes,
 * ring changes, faults), then the verdict, and exits 1 when the seed fails. The run is
 * the very one `npx ava test/sim/cluster_sim.test.ts` makes for that seed. Output goes
 * through process.stdout.write (src/ keeps no console.log).
 */
import { describeScenario, drawScenario, formatFailure, runSeed } from './cluster_sim.js';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function main(argv: readonly string[]): number {
  const seed = Number(argv[0]);
  if (argv.length !== 1 || !Number.isSafeInteger(seed)) {
    process.stderr.write('usage: node --import tsx src/sim/replay.ts <seed>\n');
    return 2;
  }
  for (const line of describeScenario(drawScenario(seed))) out(line);
  const result = runSeed(seed, { verbose: out });
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
    out(formatFailure(result));
    return 1;
  }
  out(
    `seed ${seed} passed: converged ${result.convergedAfterMs}ms after the heal (${result.events} events)`,
  );
  return 0;
}

process.exitCode = main(process.argv.slice(2));
