/**
 * A client outlives its node: connected to one node of a 2-node cluster, it learns the
 * other from the hello answer; when its node is killed, the calls in flight are sent once
 * to the survivor (calls run at least once; with `rerunCalls: false` they fail with
 * TimeoutError, as writes in flight do: they may have run), reads are sent again, and the
 * next requests go to the survivor. A list of addresses works the same from the start,
 * also for the CLI.
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
    const strict = await connect(nodes[0]!.address, { rerunCalls: false });
    const listed = await connect([nodes[0]!.address, nodes[1]!.address].join(','));
    try {
      await cloud.register('slow', async (_ctx: Context, x: number) => {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        return x;
      });
      await cloud.register('inc', (_ctx: Context, x: number) => x + 1);
      await cloud.put('kept', 'yes');
      await cloud.registerDag('slowThenInc', ['slow', 'inc'], [['slow', 'inc']]);
      const inFlight = strict.call('slow', [1]);
      const rerun = cloud.call('slow', [5]);
      const rerunDag = cloud.callDag('slowThenInc', { slow: [7] });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await nodes[0]!.stop('SIGKILL');
      t.is(await rerun, 5, 'the call in flight ran again on the survivor');
      t.is(await rerunDag, 8, 'so did the DAG call');
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
      strict.close();
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

test("a call sent again after its node was lost sends its messages (and its nested calls') under the same ids: they arrive once", async (t) => {
  t.timeout(120_000);
  const { nodes, clouds } = await startCluster(2, () => ['--executors', '1', '--http-port', 'off']);
  for (const c of clouds) c.close();
  const admin = await connect(nodes.map((n) => n.address));
  try {
    class Inbox {
      run(ctx: Context, op: string) {
        return op === 'address' ? ctx.id : ctx.recv().then((mail) => mail.map((m) => m.message));
      }
    }
    await admin.register('inbox', Inbox);
    await admin.register('post', async (ctx: Context, to: string, message: string) => {
      await ctx.send(to, message);
    });
    await admin.register('postThenWait', async (ctx: Context, to: string, message: string) => {
      await ctx.send(to, message);
      // A nested call's messages keep their ids in a re-run too.
      await ctx.call('post', [to, `${message}, nested`]);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return ctx.id;
    });
    const address = (await admin.call('inbox', ['address'])) as string;
    const r = nodes.findIndex((n) => address.startsWith(`${n.id}/`));
    t.true(r >= 0, 'the inbox lives on one of the nodes');
    const s = 1 - r;
    const cloud = await connect(nodes[s]!.address);
    try {
      const call = cloud.call('postThenWait', [address, 'once']);
      await new Promise((resolve) => setTimeout(resolve, 700));
      await nodes[s]!.stop('SIGKILL');
      const sender = (await call) as string;
      t.true(sender.startsWith(`${nodes[r]!.id}/`), 'the call ran again on the survivor');
      const mail = (await cloud.call('inbox', ['read'])) as string[];
      t.deepEqual(mail, ['once', 'once, nested'], 'the messages sent by both runs arrived once');
    } finally {
      cloud.close();
    }
  } finally {
    admin.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});
