/**
 * Membership changes under load, with real processes: a node joins and another leaves
 * gracefully while a client keeps writing set elements and counter increments; nothing
 * acknowledged is lost. And cache coherence across nodes: a function that cached a key on
 * one node sees a write made through another.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import {
  type Cloud,
  type Context,
  connect,
  lattice,
  NotFoundError,
  startNode,
} from '../../src/index.js';
import { type NodeProcess, startNodeProcess } from '../../src/sim/index.js';
import { startCluster, waitFor } from './node_fixture.js';

/** Three node processes, each key on two of them. */
const threeNodes = () =>
  startCluster(3, () => ['--executors', '1', '--http-port', 'off', '--replication', '2']);

const aliveCount = async (cloud: Cloud) =>
  (await cloud.status()).nodes.filter((n) => n.state === 'alive').length;

test('a join and a graceful leave during writes lose no acknowledged write', async (t) => {
  t.timeout(180_000);
  const base = ['--executors', '1', '--replication', '2'];
  const a = await startNodeProcess(base);
  const b = await startNodeProcess([...base, '--join', a.address]);
  const nodes: NodeProcess[] = [a, b];
  const cloud = await connect(a.address);
  try {
    await waitFor('2 alive', async () => (await aliveCount(cloud)) === 2);
    const acked: string[] = [];
    let increments = 0;
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const key = `churn/${i % 50}`;
        await cloud.put(key, lattice.set([`token-${i}`]));
        acked.push(`${key}=token-${i}`);
        await cloud.put('churn/count', lattice.counter(1));
        increments += 1;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const c = await startNodeProcess([...base, '--join', a.address]);
    nodes.push(c);
    await waitFor('3 alive', async () => (await aliveCount(cloud)) === 3);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    t.is(await b.stop('SIGTERM'), 0, 'the leaving node exits cleanly after handing off');
    await waitFor('b left', async () => (await cloud.status()).ring.members.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    writing = false;
    await writer;
    t.true(acked.length > 100, `${acked.length} writes acknowledged`);
    const byKey = new Map<string, Set<string>>();
    for (const entry of acked) {
      const [key, token] = entry.split('=') as [string, string];
      if (!byKey.has(key)) byKey.set(key, new Set((await cloud.get(key)) as string[]));
      t.true(byKey.get(key)!.has(token), `${token} of ${key} survived`);
    }
    t.is(await cloud.get('churn/count'), increments);
    // Writes were acknowledged by one owner; the others catch up by gossip within moments.
    const viaC = await connect(c.address);
    await waitFor(
      'the joined node to converge',
      async () => (await viaC.get('churn/count')) === increments,
      10_000,
    );
    t.is(await viaC.get('churn/count'), increments, 'the joined node answers too');
    viaC.close();
  } finally {
    cloud.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('a key cached on one node is refreshed when written through another', async (t) => {
  t.timeout(120_000);
  const a = await startNodeProcess(['--executors', '1', '--replication', '1']);
  const b = await startNodeProcess(['--executors', '1', '--replication', '1', '--join', a.address]);
  const [ca, cb] = await Promise.all([connect(a.address), connect(b.address)]);
  try {
    await waitFor(
      '2 alive',
      async () => (await aliveCount(ca)) === 2 && (await aliveCount(cb)) === 2,
    );
    await ca.register('peek', (ctx: Context, key: string) => ctx.get(key));
    // A key that only node a owns: b caches it when read and subscribes at a.
    let key = '';
    for (let i = 0; key === ''; i++) {
      const owners = await cb.owners(`coherent/${i}`);
      if (owners.length === 1 && owners[0]!.id === a.id) key = `coherent/${i}`;
    }
    await cb.put(key, 'v1');
    t.is(await cb.call('peek', [key]), 'v1');
    t.is(await cb.call('peek', [key]), 'v1');
    const hitsBefore = (await cb.status()).cache.hits;
    t.true(hitsBefore >= 1, 'the second read was a cache hit on b');
    await ca.put(key, 'v2');
    await waitFor('b sees v2', async () => (await cb.call('peek', [key])) === 'v2', 10_000);
  } finally {
    ca.close();
    cb.close();
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('writes forwarded to an owner killed under them go to the other owner, not to an error', async (t) => {
  t.timeout(120_000);
  const { nodes, clouds } = await threeNodes();
  for (const c of clouds.slice(1)) c.close();
  const cloud = clouds[0]!;
  try {
    // Keys node 0 does not own, one of whose owners is node 2: node 0 forwards every write.
    const keys: string[] = [];
    for (let i = 0; keys.length < 50; i++) {
      const owners = (await cloud.owners(`fwd/${i}`)).map((o) => o.id);
      if (!owners.includes(nodes[0]!.id) && owners.includes(nodes[2]!.id)) keys.push(`fwd/${i}`);
    }
    let running = true;
    const failures: string[] = [];
    const written = new Map<string, number>();
    const writer = async (w: number) => {
      for (let n = 0; running; n++) {
        const key = keys[(n * 4 + w) % keys.length]!;
        try {
          await cloud.put(key, n);
          await cloud.put(`${key}/set`, lattice.set([`${w}:${n}`]));
          written.set(key, (written.get(key) ?? 0) + 1);
        } catch (error) {
          failures.push(`${(error as Error).name}: ${(error as Error).message}`);
        }
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await nodes[2]!.stop('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    running = false;
    await Promise.all(writers);
    t.deepEqual(failures, [], 'no write failed: each went on to the surviving owner');
    t.true(written.size > 0);
  } finally {
    for (const c of clouds) c.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('writes of different lattice kinds that cross between owners end the same on every node', async (t) => {
  t.timeout(120_000);
  const { nodes, clouds } = await threeNodes();
  try {
    const [c0, c1, c2] = clouds as [Cloud, Cloud, Cloud];
    const keys = Array.from({ length: 10 }, (_, i) => `kinds/${i}`);
    // Each first write may reach an owner the other has not heard from yet: both accepted.
    await Promise.all(
      keys.map(async (key) => {
        await Promise.allSettled([
          c0.put(key, lattice.set([1])),
          c1.put(key, lattice.counter(1)),
          c2.put(key, 'plain'),
        ]);
      }),
    );
    await waitFor('every node to read the same value of every key', async () => {
      for (const key of keys) {
        const seen = await Promise.all(clouds.map((c) => c.get(key)));
        if (new Set(seen.map((v) => JSON.stringify(v))).size !== 1) return false;
      }
      return true;
    });
    t.pass();
  } finally {
    for (const c of clouds) c.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('call results expire on every node that holds them, not only where they were made', async (t) => {
  t.timeout(120_000);
  const options = { port: 0, httpPort: false as const, executors: 1, resultTtlMs: 3000 };
  const first = await startNode(options);
  const second = await startNode({ ...options, join: [first.address] });
  const cloud = await connect(first.address);
  try {
    await waitFor('two members', async () => (await cloud.status()).ring.members.length === 2);
    await cloud.register('double', (_ctx: Context, x: number) => 2 * x);
    const keysOf = async (address: string) => {
      const c = await connect(address);
      try {
        return (await c.status()).store.keys;
      } finally {
        c.close();
      }
    };
    const before = [await keysOf(first.address), await keysOf(second.address)];
    const futures = await Promise.all(
      // A short timeout: the key says the call settles within it, so it can expire soon.
      Array.from({ length: 50 }, (_, i) => cloud.callAsync('double', [i], { timeoutMs: 500 })),
    );
    t.deepEqual(
      await Promise.all(futures.map((f) => f.get())),
      Array.from({ length: 50 }, (_, i) => 2 * i),
    );
    // With the default timeout its key says it may settle for two minutes more.
    const slowToSettle = await cloud.callAsync('double', [99]);
    t.is(await slowToSettle.get(), 198);
    await waitFor(
      'the replica to hold results too',
      async () => (await keysOf(second.address)) > before[1]!,
      10_000,
    );
    await waitFor(
      'every node to drop the expired results',
      async () =>
        (await keysOf(first.address)) === before[0] && (await keysOf(second.address)) === before[1],
      30_000,
    );
    // Waiting for an expired result fails at once and says why, on either node.
    await waitFor('the result keys to be past their time', async () => {
      const error = await futures[0]!.get({ timeoutMs: 100 }).catch((e: unknown) => e);
      return error instanceof NotFoundError;
    });
    // Dropped as expired by the node that made it, it is known gone there and elsewhere.
    const startedMs = Date.now();
    await t.throwsAsync(slowToSettle.get({ timeoutMs: 10_000 }), { instanceOf: NotFoundError });
    t.true(Date.now() - startedMs < 5000, 'told at once');
    const other = await connect(second.address);
    try {
      await t.throwsAsync(other.call('double', [slowToSettle], { timeoutMs: 10_000 }), {
        instanceOf: NotFoundError,
      });
      const startedMs = Date.now();
      // A Future passed to a function on the other node is waited for there.
      const error = await t.throwsAsync(other.call('double', [futures[1]!]), {
        instanceOf: NotFoundError,
      });
      t.regex(error?.message ?? '', /expired/);
      t.true(Date.now() - startedMs < 5000);
    } finally {
      other.close();
    }
    t.pass();
  } finally {
    cloud.close();
    await Promise.all([first.stop(), second.stop()]);
  }
});

test('a node restarted on its data dir without --join rejoins its cluster, even on another port', async (t) => {
  t.timeout(120_000);
  const root = mkdtempSync(join(tmpdir(), 'squall-rejoin-'));
  const args = (i: number) => [
    '--executors',
    '1',
    '--http-port',
    'off',
    '--data-dir',
    join(root, `n${i}`),
  ];
  const nodes = [await startNodeProcess(args(0))];
  for (let i = 1; i < 3; i++)
    nodes.push(await startNodeProcess([...args(i), '--join', nodes[0]!.address]));
  const cloud = await connect(nodes[0]!.address);
  try {
    const members = async (c: Cloud) => (await c.status()).ring.members.length;
    await waitFor('three members', async () => (await members(cloud)) === 3);
    await nodes[2]!.stop();
    await waitFor('two members', async () => (await members(cloud)) === 2);
    for (let i = 0; i < 50; i++) await cloud.put(`rejoin/${i}`, lattice.set([i]));
    // Started by hand again, without --join, on whatever port is free.
    nodes[2] = await startNodeProcess(args(2));
    const back = await connect(nodes[2]!.address);
    try {
      await waitFor(
        'it to rejoin',
        async () => (await members(back)) === 3 && (await members(cloud)) === 3,
      );
      for (let i = 0; i < 50; i++) t.deepEqual(await back.get(`rejoin/${i}`), [i]);
      t.is((await back.status()).seedsUnanswered, undefined);
    } finally {
      back.close();
    }
  } finally {
    cloud.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});
