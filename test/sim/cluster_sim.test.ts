/**
 * The seeded cluster simulation (src/sim): for every seed of the run, nodes join, clients
 * write set and counter keys, the network loses, duplicates and reorders messages, a
 * partition comes and goes, nodes crash and restart, maybe one joins late and one leaves;
 * then everything heals and the checkers must pass within the stated bound (no acknowledged
 * write lost, all owners equal, one ring everywhere and data only at its owners).
 *
 * Seeds: 1 to 500 by default, so a run is exactly reproducible; `SQUALL_SEEDS=<first>:<count>`
 * runs another range (to explore), `SQUALL_SEED=<seed>` runs one seed (to replay a failure).
 * A failing seed prints its replay command, the scenario and the last events; for every
 * event, run `node --import tsx src/sim/replay.ts <seed>`.
 *
 * Seeds that showed core bugs the simulator found (minimal reproductions in
 * core_bugs.test.ts; all fixed) run as regression tests.
 */
import test from 'ava';
import {
  ClusterSim,
  DEFAULT_BOUND_MS,
  drawScenario,
  formatFailure,
  runSeed,
  type SimResult,
} from '../../src/sim/index.js';
import { counterOf } from '../../src/storage/index.js';

const FIRST_SEED = 1;
const SEED_COUNT = 500;

/** Core bugs the simulator found (now fixed), and the seeds outside the default range that showed them. */
const FIXED_BUGS: readonly { bug: string; seeds: readonly number[] }[] = [
  {
    bug: 'replication_digest.ts: fingerprint sums cancelled out, anti-entropy never repaired',
    seeds: [664, 2038],
  },
  {
    bug: 'replication.ts #acknowledged: an older hand-off ack deleted a newer value',
    seeds: [3254, 3459, 4178, 5068, 5313],
  },
];

function parseInteger(text: string, what: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value)) {
    throw new Error(`${what} must be an integer, not ${JSON.stringify(text)}`);
  }
  return value;
}

/** The seeds of this run, from SQUALL_SEED, SQUALL_SEEDS or the default range. */
function seedRange(): { first: number; count: number; single: boolean } {
  const one = process.env.SQUALL_SEED;
  if (one !== undefined && one !== '') {
    return { first: parseInteger(one, 'SQUALL_SEED'), count: 1, single: true };
  }
  const range = process.env.SQUALL_SEEDS;
  if (range !== undefined && range !== '') {
    const [first = '', count = ''] = range.split(':');
    const n = parseInteger(count, 'the count of SQUALL_SEEDS=<first>:<count>');
    if (n < 1) throw new Error('SQUALL_SEEDS needs a count of at least 1');
    return {
      first: parseInteger(first, 'the first seed of SQUALL_SEEDS'),
      count: n,
      single: false,
    };
  }
  return { first: FIRST_SEED, count: SEED_COUNT, single: false };
}

function knownBug(seed: number): string | undefined {
  return FIXED_BUGS.find((known) => known.seeds.includes(seed))?.bug;
}

const { first, count, single } = seedRange();
const last = first + count - 1;

test(`cluster simulation, seeds ${first}..${last} (bound: ${DEFAULT_BOUND_MS}ms after the heal)`, (t) => {
  const failed: SimResult[] = [];
  for (let seed = first; seed <= last; seed++) {
    const result = runSeed(seed);
    if (!result.ok) failed.push(result);
  }
  if (failed.length === 0) {
    t.pass();
    return;
  }
  const reports = failed.slice(0, 3).map((result) => {
    const bug = knownBug(result.seed);
    return bug === undefined
      ? formatFailure(result)
      : `(regression of a fixed core bug: ${bug})\n${formatFailure(result)}`;
  });
  const seeds = failed.map((result) => result.seed).join(', ');
  t.fail(`${reports.join('\n\n')}\n\n${failed.length} of ${count} seeds failed: ${seeds}`);
});

for (const { bug, seeds } of single ? [] : FIXED_BUGS) {
  test(`regression, seeds ${seeds.join(', ')}: ${bug}`, (t) => {
    for (const seed of seeds) t.true(runSeed(seed).ok, `seed ${seed} passes`);
  });
}

test('a seed replays exactly: same scenario, same events, same outcome', (t) => {
  const one = runSeed(first, { traceKeep: 200 });
  const two = runSeed(first, { traceKeep: 200 });
  t.deepEqual(one.trace, two.trace);
  t.deepEqual({ ...one, trace: [] }, { ...two, trace: [] });
  t.notDeepEqual(runSeed(first + 1).scenario, one.scenario);
});

test('the checkers catch lost writes, diverged owners, stray copies and a broken ring', (t) => {
  const sim = new ClusterSim(drawScenario(first));
  t.true(sim.run().ok);
  t.deepEqual(sim.check(), []);
  const records = [...sim.ledger.records()].filter((r) => r.outcome === 'acknowledged');
  const setKey = records.find((r) => r.kind === 'set')?.key ?? '';
  const counterKey = records.find((r) => r.kind === 'counter')?.key ?? '';
  const holders = (key: string) => sim.nodes.filter((node) => node.shard.get(key) !== undefined);
  const [owner] = holders(counterKey);
  const stray = sim.nodes.find(
    (node) => node.state === 'up' && !holders(counterKey).includes(node),
  );
  for (const node of holders(setKey)) node.shard.delete(setKey);
  owner?.shard.merge(counterKey, counterOf([['intruder', 1]]));
  stray?.shard.merge(counterKey, counterOf([['intruder', 1]]));
  const found = sim.check().join('\n');
  t.regex(found, new RegExp(`${setKey}: owner n\\d does not hold it`));
  t.regex(found, new RegExp(`${setKey}: lost acknowledged write#\\d+`));
  t.regex(found, new RegExp(`${counterKey}: owners n\\d and n\\d hold different values`));
  t.regex(found, new RegExp(`${counterKey}: counter is \\d+, but \\d+ increments were applied`));
  if (stray !== undefined) {
    t.regex(found, new RegExp(`${counterKey}: held by ${stray.id}, which does not own it`));
  }
  sim.nodes.find((node) => node.state === 'up')?.crash();
  t.regex(sim.check().join('\n'), /n\d is down/);
});
