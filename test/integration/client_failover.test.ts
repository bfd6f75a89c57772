/**
 * A client outlives its node: connected to one node of a 2-node cluster, it learns the
 * other from the hello answer; when its node is killed, the calls and writes in flight fail
 * with TimeoutError (they may have run, so they are not re-sent; reads are), and the next
 * ones go to the survivor. A list of addresses works the same from the start, also for the CLI.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { type Context, connect, lattice, TimeoutError } from '../../src/index.js';
import { SQUALL_BIN } from '../../src/sim/index.js';
import { startCluster } from './node_fixture.js';

const run = promisify(execFile);

test('a client whose node dies carries on through another member', async (t) => {
  t.timeout(120_000);
  const { nodes, clouds } = await startCluster(2, () => ['--executors', '1', '--http-port', 'off']);
  for (const c of clouds) c.close();
  try {
    // Connected to node 0 only; it learns node 1 from the hello answer.
    const cloud = await connect(nodes[0]!.address);
    const listed = await connect([nodes[0]!.address, nodes[1]!.address].join(','));
    try {
      await cloud.register('slow', async (_ctx: Context, x: number) => {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        return x;
      });
      await cloud.register('inc', (_ctx: Context, x: number) => x + 1);
      await cloud.put('kept', 'yes');
      const inFlight = cloud.call('slow', [1]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await nodes[0]!.stop('SIGKILL');
      const error = await t.throwsAsync(inFlight, { instanceOf: TimeoutError });
      t.regex(
        error.message,
        new RegExp(`lost the connection to ${nodes[0]!.address} .*may or may not have run`),
      );
      // The registry and the key live on both nodes (replication 2): nothing is lost.
      t.is(await cloud.call('inc', [1]), 2);
      t.is(cloud.address, nodes[1]!.address);
      t.is(await cloud.get('kept'), 'yes');
      t.is(await listed.call('inc', [41]), 42);
      const cli = await run(process.execPath, [
        SQUALL_BIN,
        'call',
        'inc',
        '9',
        '--address',
        `${nodes[0]!.address},${nodes[1]!.address}`,
      ]);
      t.is(cli.stdout.trim(), '10');
    } finally {
      cloud.close();
      listed.close();
    }
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('a node stopping gracefully answers what it took, and its client moves on losing nothing', async (t) => {
  t.timeout(120_000);
  const { nodes, clouds } = await startCluster(2, () => ['--executors', '1', '--http-port', 'off']);
  for (const c of clouds) c.close();
  const cloud = await connect(nodes[0]!.address);
  try {
    await cloud.register('slow', async (_ctx: Context, x: number) => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return x;
    });
    await cloud.register('inc', (_ctx: Context, x: number) => x + 1);
    await cloud.register('twiceMore', (_ctx: Context, x: number) => x * 2);
    await cloud.registerDag('twice', ['inc', 'twiceMore'], [['inc', 'twiceMore']]);
    const taken = cloud.call('slow', [7]);
    let running = true;
    let acknowledged = 0;
    const failures: string[] = [];
    const loop = async (i: number) => {
      while (running) {
        try {
          t.is(await cloud.call('inc', [i]), i + 1);
          t.is(await cloud.callDag('twice', { inc: [i] }), (i + 1) * 2);
          await cloud.put('stops', lattice.counter(1));
          acknowledged += 1;
        } catch (error) {
          failures.push(`${(error as Error).name}: ${(error as Error).message}`);
        }
      }
    };
    const loops = [1, 2, 3, 4].map(loop);
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.is(await nodes[0]!.stop(), 0, 'SIGTERM stops the node cleanly');
    await new Promise((resolve) => setTimeout(resolve, 500));
    running = false;
    await Promise.all(loops);
    t.is(await taken, 7, 'the call the node had taken was answered before it stopped');
    t.deepEqual(failures, [], 'no request failed: none was NOT_FOUND, none lost');
    t.is(cloud.address, nodes[1]!.address);
    t.is(await cloud.get('stops'), acknowledged, 'every acknowledged increment counted once');
  } finally {
    cloud.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});
