/**
 * `npm run chaos -- [--seconds N] [--clients N] [--nodes N] [--seed N] [--fault-every-ms N]
 * [--down-ms MIN-MAX] [--keep DIR]`: one chaos run (chaos.ts) from the command line. Prints
 * the seed first, a line per fault, then the report; exits 1 when a violation was found.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { type ChaosOptions, DEFAULT_CHAOS_OPTIONS, formatChaosReport, runChaos } from './chaos.js';

function whole(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('a whole number');
  return n;
}

function span(value: string): [number, number] {
  const [low, high] = value.split('-').map(whole);
  if (low === undefined || high === undefined || low > high)
    throw new InvalidArgumentError('MIN-MAX in ms, MIN ≤ MAX');
  return [low, high];
}

const d = DEFAULT_CHAOS_OPTIONS;
const flags = new Command('chaos')
  .description('kill and restart nodes of a local cluster while clients run; check what survived')
  .option('--seconds <n>', 'how long clients run', whole, d.seconds)
  .option('--clients <n>', 'concurrent SDK clients', whole, d.clients)
  .option('--nodes <n>', 'node processes (replication 2)', whole, d.nodes)
  .addOption(
    new Option('--seed <n>', 'seed of the fault schedule and the operations')
      .argParser(whole)
      .default(Date.now() % 1e6, 'from the clock'),
  )
  .option('--fault-every-ms <n>', 'mean time between faults', whole, d.faultEveryMs)
  .addOption(
    new Option('--down-ms <min-max>', 'how long a node stays down, in ms')
      .argParser(span)
      .default([d.downMsMin, d.downMsMax], `${d.downMsMin}-${d.downMsMax}`),
  )
  .option('--keep <dir>', 'put the data dirs here and keep them')
  .parse()
  .opts<{
    seconds: number;
    clients: number;
    nodes: number;
    seed: number;
    faultEveryMs: number;
    downMs: [number, number];
    keep?: string;
  }>();

const options: Partial<ChaosOptions> = {
  seconds: flags.seconds,
  clients: Math.max(1, flags.clients),
  nodes: Math.max(2, flags.nodes),
  seed: flags.seed,
  faultEveryMs: flags.faultEveryMs,
  downMsMin: flags.downMs[0],
  downMsMax: flags.downMs[1],
  progress: (line) => process.stdout.write(`${line}\n`),
};
if (flags.keep !== undefined) options.root = flags.keep;
const plan =
  `--seed ${flags.seed} --seconds ${flags.seconds} --clients ${options.clients} ` +
  `--nodes ${options.nodes} --fault-every-ms ${flags.faultEveryMs} --down-ms ${flags.downMs.join('-')}`;
process.stdout.write(`chaos seed ${flags.seed} (replay its plan: npm run chaos -- ${plan})\n`);
const report = await runChaos(options);
process.stdout.write(`${formatChaosReport(report)}\n`);
process.exitCode = report.verdict.violations.length === 0 ? 0 : 1;
