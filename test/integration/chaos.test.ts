/**
 * A short chaos run (src/sim/chaos.ts): three node processes with data dirs, clients
 * writing sets, counters and their own keys, calling a function and a DAG and messaging
 * class actors, while nodes are killed with `kill -9` or stopped and restarted. Nothing
 * acknowledged may be lost, no message received twice, and every node must answer alike
 * at the end. `npm run chaos` runs longer ones.
 */
import test from 'ava';
import { formatChaosReport, runChaos } from '../../src/sim/index.js';

test('nodes killed and restarted under a mixed workload lose nothing acknowledged', async (t) => {
  t.timeout(240_000);
  const seed = Number(process.env.SQUALL_CHAOS_SEED ?? Math.floor(Math.random() * 1e6));
  t.log(`chaos seed ${seed} (SQUALL_CHAOS_SEED=${seed} npx ava test/integration/chaos.test.ts)`);
  const report = await runChaos({
    seconds: 30,
    clients: 6,
    seed,
    faultEveryMs: 6_000,
    downMsMin: 500,
    downMsMax: 2_500,
  });
  t.log(formatChaosReport(report));
  t.deepEqual(report.verdict.violations, []);
  t.true(report.faults.length >= 1, `${report.faults.length} faults`);
  t.true(report.operations > 1_000, `${report.operations} operations`);
  t.true(report.verdict.messagesAcked > 0 && report.verdict.lwwReads > 0);
});
