/**
 * Compute across a real 3-process cluster: a DAG whose functions land on different nodes
 * (seen in each node's status), DAG calls that keep completing while a node is killed,
 * and function actors on two nodes exchanging messages, also while the receiver's node is
 * down and restarting on its data dir.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type Cloud, type Context, connect, FunctionError } from '../../src/index.js';
import { type NodeProcess, startNodeProcess } from '../../src/sim/index.js';
import { startCluster, waitFor } from './node_fixture.js';

/** Node `i`'s arguments: each keeps its own data dir under `root`, across restarts too. */
function nodeArgs(root: string, i: number): string[] {
  return ['--executors', '1', '--replication', '2', '--data-dir', join(root, `n${i}`)];
}

function cluster(root: string): Promise<{ nodes: NodeProcess[]; clouds: Cloud[] }> {
  return startCluster(3, (i) => nodeArgs(root, i));
}

test('DAG functions run on different nodes and results flow between them', async (t) => {
  t.timeout(120_000);
  const { nodes, clouds } = await cluster(mkdtempSync(join(tmpdir(), 'squall-dag3-')));
  const [cloud] = clouds as [Cloud];
  try {
    await cloud.register('fetch', (_ctx: Context, x: number) => x + 1);
    await cloud.register('scale', (_ctx: Context, x: number, k: number) => x * k);
    await cloud.register('label', (_ctx: Context, x: number) => `value ${x}`);
    await cloud.registerDag(
      'pipeline',
      ['fetch', 'scale', 'label'],
      [
        ['fetch', 'scale'],
        ['scale', 'label'],
      ],
    );
    const ids = nodes.map((n) => n.id);
    const placement = { fetch: ids[0]!, scale: ids[1]!, label: ids[2]! };
    t.is(await cloud.callDag('pipeline', { fetch: [4], scale: [10] }, { placement }), 'value 50');
    const runs = await Promise.all(clouds.map((c) => c.status()));
    t.is(runs[0]!.dagFunctionsRun.fetch, 1);
    t.is(runs[1]!.dagFunctionsRun.scale, 1);
    t.is(runs[2]!.dagFunctionsRun.label, 1);
    // Once the client holds reply channels, the sink's node answers it directly.
    let results: string[] = [];
    await waitFor('the sink to answer the client directly', async () => {
      results.push(await cloud.callDag('pipeline', { fetch: [1], scale: [3] }, { placement }));
      return (await clouds[2]!.status()).dagAnswersDirect > 0;
    });
    t.true(results.every((r) => r === 'value 6'));
    results = [];
    for (let i = 0; i < 10; i++)
      results.push(await cloud.callDag('pipeline', { fetch: [i], scale: [1] }, { placement }));
    t.deepEqual(
      results,
      Array.from({ length: 10 }, (_, i) => `value ${i + 1}`),
    );
    t.is((await clouds[0]!.status()).dagAnswersDirect, 0);
    for (let i = 0; i < 20; i++)
      t.is(
        await clouds[i % 3]!.callDag('pipeline', { fetch: [i], scale: [2] }),
        `value ${(i + 1) * 2}`,
      );
    // Repeatable read across nodes: the version read on node 0 travels to node 1.
    await cloud.register('bump', async (ctx: Context, key: string) => {
      await ctx.put(key, `${(await ctx.get(key)) as string}+`);
    });
    await cloud.register('readThenBump', async (ctx: Context, key: string) => {
      const seen = await ctx.get(key);
      await ctx.call('bump', [key]);
      return seen;
    });
    await cloud.register('readAgain', async (ctx: Context, first: unknown, key: string) => [
      first,
      await ctx.get(key),
    ]);
    await cloud.registerDag('rr', ['readThenBump', 'readAgain'], [['readThenBump', 'readAgain']]);
    await cloud.put('rr/k', 'v');
    const rrPlacement = { readThenBump: ids[0]!, readAgain: ids[1]! };
    const rrArgs = { readThenBump: ['rr/k'], readAgain: ['rr/k'] };
    t.deepEqual(
      await cloud.callDag('rr', rrArgs, { consistency: 'repeatable-read', placement: rrPlacement }),
      ['v', 'v'],
    );
    // Whatever version the first function reads, the second reads it too.
    for (let i = 0; i < 5; i++) {
      const [first, second] = (await cloud.callDag('rr', rrArgs, {
        consistency: 'repeatable-read',
        placement: rrPlacement,
      })) as [string, string];
      t.is(second, first);
    }
    // Causal: a function on node 2 reads, at the key's owners, what one on node 0 just wrote,
    // even after node 2's cache holds an older version of the key.
    await cloud.register('cWrite', async (ctx: Context, key: string, value: string) => {
      await ctx.put(key, value);
      return key;
    });
    await cloud.register('cRead', async (ctx: Context, key: string) => ctx.get(key));
    await cloud.registerDag('causal3', ['cWrite', 'cRead'], [['cWrite', 'cRead']]);
    await cloud.registerDag('lwwRead', ['cRead'], []);
    const causalPlacement = { cWrite: ids[0]!, cRead: ids[2]! };
    for (let i = 0; i < 5; i++) {
      await cloud.callDag('lwwRead', { cRead: ['c/k'] }, { placement: { cRead: ids[2]! } });
      const options = { consistency: 'causal', placement: causalPlacement } as const;
      t.is(await cloud.callDag('causal3', { cWrite: ['c/k', `v${i}`] }, options), `v${i}`);
    }
  } finally {
    for (const c of clouds) c.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('DAG calls complete while a node is killed in the middle of them', async (t) => {
  t.timeout(120_000);
  const { nodes, clouds } = await cluster(mkdtempSync(join(tmpdir(), 'squall-dagkill-')));
  const [cloud] = clouds as [Cloud];
  try {
    await cloud.register('slowInc', async (_ctx: Context, x: number) => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return x + 1;
    });
    await cloud.register('double', (_ctx: Context, x: number) => x * 2);
    await cloud.registerDag('resilient', ['slowInc', 'double'], [['slowInc', 'double']]);
    const ids = nodes.map((n) => n.id);
    const results: number[] = [];
    for (let i = 0; i < 60; i++) {
      // Half the calls place work on the node that is killed, one of them while it runs
      // there: that part is re-run where the scheduler puts it, placement or not.
      const placement =
        i % 2 === 0 ? { slowInc: ids[2]!, double: ids[1]! } : { slowInc: ids[1]!, double: ids[0]! };
      const options = i > 20 && i % 2 === 0 ? {} : { placement };
      const call = cloud.callDag('resilient', { slowInc: [i] }, options);
      if (i === 20) {
        await new Promise((resolve) => setTimeout(resolve, 15));
        nodes[2]!.child.kill('SIGKILL');
      }
      results.push((await call) as number);
      if (i === 20) {
        // The call in flight when the node died was re-run on the survivors.
        t.is(results[20], 42);
      }
    }
    t.deepEqual(
      results,
      Array.from({ length: 60 }, (_, i) => (i + 1) * 2),
    );
    // The autoscaler moves pins off the dead node; calls without a placement run there.
    const dead = ids[2]!;
    await waitFor('no pin on the dead node', async () => {
      const pins = (await cloud.status()).dags.find((d) => d.name === 'resilient')?.pins ?? {};
      const nodesPinned = Object.values(pins).flat();
      return nodesPinned.length > 0 && !nodesPinned.includes(dead);
    });
    t.is(await cloud.callDag('resilient', { slowInc: [1] }), 4);
  } finally {
    for (const c of clouds) c.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('a DAG call whose node is killed and restarted at once is run again, not left to time out', async (t) => {
  t.timeout(120_000);
  const root = mkdtempSync(join(tmpdir(), 'squall-dagbounce-'));
  const { nodes, clouds } = await cluster(root);
  const [cloud] = clouds as [Cloud];
  try {
    await cloud.register('napInc', async (_ctx: Context, x: number) => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      return x + 1;
    });
    await cloud.register('double', (_ctx: Context, x: number) => x * 2);
    await cloud.registerDag('bounced', ['napInc', 'double'], [['napInc', 'double']]);
    const ids = nodes.map((n) => n.id);
    const placement = { napInc: ids[2]!, double: ids[1]! };
    t.is(await cloud.callDag('bounced', { napInc: [1] }, { placement }), 4);
    // Back before the failure detector could call it dead: it never looks dead, so only
    // the lost link tells the coordinator that the part it ran is gone.
    const call = cloud.callDag('bounced', { napInc: [20] }, { placement, timeoutMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    nodes[2]!.child.kill('SIGKILL');
    const port = nodes[2]!.address.split(':')[1]!;
    nodes[2] = await startNodeProcess([
      ...nodeArgs(root, 2),
      '--port',
      port,
      '--join',
      nodes[0]!.address,
    ]);
    const startedMs = Date.now();
    t.is(await call, 42);
    t.log(`answered ${Date.now() - startedMs} ms after the node was back`);
  } finally {
    for (const c of clouds) c.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('actors on two nodes exchange messages, also while the receiver restarts', async (t) => {
  t.timeout(180_000);
  const root = mkdtempSync(join(tmpdir(), 'squall-msg-'));
  const { nodes, clouds } = await cluster(root);
  try {
    class Inbox {
      run(ctx: Context, op: string) {
        return op === 'address' ? ctx.id : ctx.recv().then((mail) => mail.map((m) => m.message));
      }
    }
    await clouds[0]!.register('inbox', Inbox);
    await clouds[0]!.register('post', async (ctx: Context, to: string, messages: unknown[]) => {
      for (const message of messages) await ctx.send(to, message);
      return ctx.id;
    });
    // The class lives on its home node (r); its messages come from a function on another (s).
    const address = (await clouds[0]!.call('inbox', ['address'])) as string;
    const r = nodes.findIndex((n) => address.startsWith(`${n.id}/`));
    t.true(r >= 0, 'the actor lives on one of the nodes');
    const s = (r + 1) % 3;
    const sender = (await clouds[s]!.call('post', [address, ['hello', 'world']])) as string;
    t.true(sender.startsWith(`${nodes[s]!.id}/`), 'the sender lives on another node');
    t.deepEqual(await clouds[r]!.call('inbox', ['read']), ['hello', 'world']);

    // The receiver's node comes back on its own port and data dir, joining the sender's.
    const port = nodes[r]!.address.split(':')[1]!;
    const restartReceiver = async () => {
      const args = [...nodeArgs(root, r), '--port', port, '--join', nodes[s]!.address];
      nodes[r] = await startNodeProcess(args);
      clouds[r] = await connect(nodes[r].address);
    };
    nodes[r]!.child.kill('SIGKILL');
    clouds[r]!.close();
    await waitFor("the receiver's node declared dead", async () => {
      const status = await clouds[s]!.status();
      return status.nodes.find((n) => n.id === nodes[r]!.id)?.state === 'dead';
    });
    await clouds[s]!.call('post', [address, ['while', 'down']]);
    await restartReceiver();
    // At once, though the restarted node has not caught up with its co-owner yet.
    t.deepEqual(await clouds[r]!.call('inbox', ['read']), ['while', 'down']);

    // Messages waiting in memory survive a graceful restart, and none comes back twice.
    await clouds[s]!.call('post', [address, ['waiting', 'in', 'memory']]);
    clouds[r]!.close();
    t.is(await nodes[r]!.stop(), 0);
    await restartReceiver();
    const after: unknown[] = [];
    await waitFor('the messages that waited in memory', async () => {
      after.push(...((await clouds[r]!.call('inbox', ['read'])) as unknown[]));
      return after.length >= 3;
    });
    t.deepEqual(after, ['waiting', 'in', 'memory']);
    t.deepEqual(await clouds[r]!.call('inbox', ['read']), [], 'nothing is received twice');
  } finally {
    for (const c of clouds) c.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('a Future made on one node resolves as an argument on any other, done, running or failed', async (t) => {
  t.timeout(120_000);
  const { nodes, clouds } = await startCluster(3, () => ['--executors', '1', '--http-port', 'off']);
  try {
    const [a, , c] = clouds as [Cloud, Cloud, Cloud];
    await a.register('square', (_ctx: Context, x: number) => x * x);
    await a.register('echo', (_ctx: Context, v: unknown) => v);
    await a.register('later', async (_ctx: Context, x: number) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return x;
    });
    await a.register('boom', () => {
      throw new RangeError('no result');
    });
    await a.registerDag('echoDag', ['echo'], []);
    // Made on node 2; passed to functions on node 0, whether or not node 0 holds the key.
    let elsewhere = 0;
    for (let i = 0; i < 8; i++) {
      const future = await c.callAsync('square', [i]);
      if (!(await a.owners(future.key)).some((o) => o.id === nodes[0]!.id)) elsewhere += 1;
      t.is(await a.call('echo', [future], { timeoutMs: 10_000 }), i * i);
      t.is(await a.callDag('echoDag', { echo: [future] }, { timeoutMs: 10_000 }), i * i);
    }
    t.true(elsewhere > 0, 'some results lived on nodes other than the one that used them');
    const running = await c.callAsync('later', [42]);
    t.is(await a.call('echo', [running], { timeoutMs: 10_000 }), 42, 'a pending one is waited for');
    const failing = await c.callAsync('boom');
    const error = await t.throwsAsync(a.call('echo', [failing], { timeoutMs: 10_000 }), {
      instanceOf: FunctionError,
    });
    t.is(error.remoteName, 'RangeError');
  } finally {
    for (const cloud of clouds) cloud.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('repeatable read: what a DAG call wrote is what its functions on other nodes read', async (t) => {
  t.timeout(120_000);
  const { nodes, clouds } = await startCluster(3, () => ['--executors', '1', '--http-port', 'off']);
  try {
    const cloud = clouds[0]!;
    const [a, b, c] = nodes.map((n) => n.id) as [string, string, string];
    await cloud.register('readThenWrite', async (ctx: Context, key: string) => {
      const before = await ctx.get(key);
      await ctx.put(key, `${String(before)}+mine`);
      return key;
    });
    await cloud.register('readOnly', async (ctx: Context, key: string) => ctx.get(key));
    await cloud.registerDag('rw', ['readThenWrite', 'readOnly'], [['readThenWrite', 'readOnly']]);
    for (const [i, placement] of [
      { readThenWrite: b, readOnly: c },
      { readThenWrite: a, readOnly: a },
    ].entries()) {
      await cloud.put(`rr/${i}`, 'old');
      const read = await cloud.callDag(
        'rw',
        { readThenWrite: [`rr/${i}`] },
        { consistency: 'repeatable-read', placement },
      );
      t.is(read, 'old+mine', JSON.stringify(placement));
    }
    // A key the call only read stays pinned downstream, though another call changed it.
    await cloud.register('readAndChange', async (ctx: Context, key: string) => {
      const value = await ctx.get(key);
      await ctx.call('overwrite', [key]);
      return value;
    });
    await cloud.register('overwrite', async (ctx: Context, key: string) => {
      await ctx.put(key, 'second');
    });
    await cloud.register('readAgain', async (ctx: Context, upstream: unknown, key: string) => [
      upstream,
      await ctx.get(key),
    ]);
    await cloud.registerDag(
      'pin',
      ['readAndChange', 'readAgain'],
      [['readAndChange', 'readAgain']],
    );
    await cloud.put('rr/pinned', 'first');
    const seen = await cloud.callDag(
      'pin',
      { readAndChange: ['rr/pinned'], readAgain: ['rr/pinned'] },
      { consistency: 'repeatable-read', placement: { readAndChange: b, readAgain: c } },
    );
    t.deepEqual(seen, ['first', 'first']);
    await waitFor(
      "the other call's write to reach every replica",
      async () => (await cloud.get('rr/pinned')) === 'second',
    );
  } finally {
    for (const cloud of clouds) cloud.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('a class has one instance in the cluster, whichever node a call comes through', async (t) => {
  t.timeout(120_000);
  const { nodes, clouds } = await startCluster(3, () => ['--executors', '1', '--http-port', 'off']);
  try {
    await clouds[0]!.register(
      'Tally',
      class {
        n = 0;
        run(ctx: Context) {
          this.n += 1;
          return [ctx.id, this.n];
        }
      },
    );
    await clouds[0]!.register('viaCall', async (ctx: Context) => ctx.call('Tally'));
    await clouds[0]!.registerDag('tallyDag', ['Tally'], []);
    const seen: [string, number][] = [];
    for (let i = 0; i < 9; i++) {
      const cloud = clouds[i % 3]!;
      const how = i % 3;
      const result =
        how === 0
          ? await cloud.call('Tally')
          : how === 1
            ? await cloud.callDag('tallyDag', {})
            : await cloud.call('viaCall');
      seen.push(result as [string, number]);
    }
    t.deepEqual(
      seen.map(([, n]) => n),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    t.is(new Set(seen.map(([id]) => id)).size, 1, 'one address: one instance');

    // Classes whose homes are on different nodes: a call back into a waiting turn is refused.
    const hops = Array.from({ length: 10 }, (_, i) => `Hop${i}`);
    for (const name of hops) {
      await clouds[0]!.register(
        name,
        class {
          run(ctx: Context, path: string[]): unknown {
            return path.length === 0 ? ctx.id : ctx.call(path[0]!, [path.slice(1)]);
          }
        },
      );
    }
    const homes = await Promise.all(
      hops.map(async (h) => (await clouds[0]!.call(h, [[]])) as string),
    );
    const nodeOf = (i: number) => homes[i]!.split('/')[0];
    const b = homes.findIndex((_, i) => nodeOf(i) !== nodeOf(0));
    t.true(b > 0, 'two classes live on different nodes');
    t.is(await clouds[1]!.call('Hop0', [[`Hop${b}`]]), homes[b], 'a chain across nodes runs');
    const error = await t.throwsAsync(
      clouds[1]!.call('Hop0', [[`Hop${b}`, 'Hop0']], { timeoutMs: 30_000 }),
      { instanceOf: FunctionError },
    );
    t.regex(error.message, /cannot call Hop0: Hop0's turn is waiting, up this call's chain/);
  } finally {
    for (const cloud of clouds) cloud.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test("a class's instance stays on its node as nodes join, and starts over elsewhere only when that node goes", async (t) => {
  t.timeout(180_000);
  const args = ['--executors', '1', '--http-port', 'off'];
  const nodes = [await startNodeProcess(args)];
  const clouds: Cloud[] = [];
  try {
    clouds.push(await connect(nodes[0]!.address));
    await clouds[0]!.register(
      'Keeper',
      class {
        n = 0;
        run(ctx: Context) {
          this.n += 1;
          return [ctx.id, this.n];
        }
      },
    );
    for (let i = 1; i <= 3; i++)
      t.is(((await clouds[0]!.call('Keeper')) as [string, number])[1], i);
    // Three more nodes join: the ring changes under the class, its instance does not move.
    for (let i = 1; i < 4; i++) {
      nodes.push(await startNodeProcess([...args, '--join', nodes[0]!.address]));
      clouds.push(await connect(nodes[i]!.address));
    }
    await waitFor('4 alive members everywhere', async () =>
      (await Promise.all(clouds.map((c) => c.status()))).every(
        (s) => s.nodes.filter((n) => n.state === 'alive').length === 4,
      ),
    );
    const seen: [string, number][] = [];
    for (const cloud of [...clouds, ...clouds])
      seen.push((await cloud.call('Keeper')) as [string, number]);
    t.deepEqual(
      seen.map(([, n]) => n),
      [4, 5, 6, 7, 8, 9, 10, 11],
    );
    const address = seen[0]![0];
    t.true(
      seen.every(([id]) => id === address),
      'one instance, where it began',
    );
    t.is(address.split('/')[0], nodes[0]!.id);
    // Its node leaves: the next call starts a fresh instance on another node.
    clouds[0]!.close();
    await nodes[0]!.stop();
    await waitFor('the others to see it gone', async () =>
      (await Promise.all(clouds.slice(1).map((c) => c.status()))).every(
        (s) => s.ring.members.length === 3,
      ),
    );
    const [movedTo, n] = (await clouds[1]!.call('Keeper')) as [string, number];
    t.is(n, 1);
    t.not(movedTo.split('/')[0], nodes[0]!.id);
    t.deepEqual(await clouds[2]!.call('Keeper'), [movedTo, 2], 'every node uses the new home');
    // A message to the class's old address, or naming any node, goes to where it lives now.
    await clouds[1]!.register(
      'Mailbox',
      class {
        run(ctx: Context, op: string) {
          return op === 'id' ? ctx.id : ctx.recv().then((mail) => mail.map((m) => m.message));
        }
      },
    );
    await clouds[1]!.register('postTo', (ctx: Context, to: string, message: string) =>
      ctx.send(to, message),
    );
    const home = ((await clouds[1]!.call('Mailbox', ['id'])) as string).split('/')[0]!;
    const elsewhere = nodes.slice(1).find((node) => node.id !== home)!;
    await clouds[2]!.call('postTo', [`${elsewhere.id}/Mailbox`, 'to a node it is not on']);
    await clouds[3]!.call('postTo', [`${nodes[0]!.id}/Mailbox`, 'to a node that left']);
    t.deepEqual(((await clouds[1]!.call('Mailbox', ['recv'])) as string[]).sort(), [
      'to a node it is not on',
      'to a node that left',
    ]);
  } finally {
    for (const cloud of clouds) cloud.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('mail sent to a class while its node was unreachable reaches its next home', async (t) => {
  t.timeout(120_000);
  const { nodes, clouds } = await startCluster(3, () => ['--executors', '1', '--http-port', 'off']);
  try {
    await clouds[0]!.register(
      'Drop',
      class {
        run(ctx: Context, op: string) {
          return op === 'id' ? ctx.id : ctx.recv().then((mail) => mail.map((m) => m.message));
        }
      },
    );
    await clouds[0]!.register('postTo', (ctx: Context, to: string, message: string) =>
      ctx.send(to, message),
    );
    const address = (await clouds[0]!.call('Drop', ['id'])) as string;
    const home = nodes.findIndex((n) => address.startsWith(`${n.id}/`));
    const other = (home + 1) % 3;
    nodes[home]!.child.kill('SIGKILL');
    clouds[home]!.close();
    // Sent before the node is declared dead: it goes to that node's fallback mailbox.
    await clouds[other]!.call('postTo', [address, 'sent while unreachable']);
    await waitFor('the node declared dead', async () => {
      const status = await clouds[other]!.status();
      return status.nodes.find((n) => n.id === nodes[home]!.id)?.state === 'dead';
    });
    const got: unknown[] = [];
    await waitFor('the mail at the new home', async () => {
      got.push(...((await clouds[other]!.call('Drop', ['recv'])) as unknown[]));
      return got.length > 0;
    });
    t.deepEqual(got, ['sent while unreachable']);
  } finally {
    for (const c of clouds) c.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});
