/**
 * Pinning, autoscaling and placement on real node processes: `registerDag` pins each
 * function to one node (every node's status shows the same pins), calls run where the pins
 * say, and a function kept busy beyond what its one executor serves gets a replica on
 * another node, which then takes calls; a call whose argument is a `ref` to a key stored on
 * another node runs there instead; a busy node hands single calls to an idle one.
 */
import test from 'ava';
import { type Cloud, type Context, connect, ref } from '../../src/index.js';
import { type NodeProcess, startNodeProcess } from '../../src/sim/index.js';
import { startCluster, waitFor } from './node_fixture.js';

test('a DAG is pinned when registered, and a hot function gets more replicas', async (t) => {
  t.timeout(120_000);
  const { nodes, clouds } = await startCluster(3, () => ['--executors', '1', '--http-port', 'off']);
  try {
    const [cloud] = clouds as [Cloud];
    await cloud.register('work', async (_ctx: Context, x: number) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return x + 1;
    });
    await cloud.register('tag', (_ctx: Context, x: number) => `#${x}`);
    await cloud.registerDag('hot', ['work', 'tag'], [['work', 'tag']]);

    const pinsEverywhere = (await Promise.all(clouds.map((c) => c.status()))).map(
      (s) => s.dags.find((d) => d.name === 'hot')?.pins,
    );
    const first = pinsEverywhere[0]!;
    t.is(first.work?.length, 1);
    // A chain starts on one node, so its result needs no hop.
    t.deepEqual(first.tag, first.work);
    for (const pins of pinsEverywhere) t.deepEqual(pins, first);
    const home = first.work![0]!;
    t.is(await cloud.callDag('hot', { work: [1] }), '#2');
    const homeIndex = nodes.findIndex((n) => n.id === home);
    t.is((await clouds[homeIndex]!.status()).dagFunctionsRun.work, 1);

    // Eight callers keep `work` (20 ms a call) far beyond one executor's second per second.
    let stop = false;
    const callers = Array.from({ length: 8 }, async (_, i) => {
      while (!stop) t.is(await clouds[i % 3]!.callDag('hot', { work: [i] }), `#${i + 1}`);
    });
    try {
      await waitFor(
        'a second replica of work',
        async () =>
          ((await cloud.status()).dags.find((d) => d.name === 'hot')?.pins.work ?? []).length >= 2,
        30_000,
      );
      const replicas = (await cloud.status()).dags.find((d) => d.name === 'hot')!.pins.work!;
      t.is(replicas[0], home);
      const added = nodes.findIndex((n) => n.id === replicas[1]);
      await waitFor(
        'the new replica takes calls',
        async () => ((await clouds[added]!.status()).dagFunctionsRun.work ?? 0) > 0,
        15_000,
      );
    } finally {
      stop = true;
      await Promise.all(callers);
    }
  } finally {
    for (const c of clouds) c.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('a busy node sends single calls to an idle one, and re-runs them when it dies', async (t) => {
  t.timeout(120_000);
  const args = ['--executors', '1', '--http-port', 'off'];
  const nodes: NodeProcess[] = [await startNodeProcess(args)];
  let cloud: Cloud | undefined;
  try {
    nodes.push(await startNodeProcess([...args, '--join', nodes[0]!.address]));
    cloud = await connect(nodes[0]!.address);
    const client = cloud;
    const [a, b] = nodes.map((n) => n.id) as [string, string];
    await waitFor('2 alive members', async () =>
      (await client.status()).nodes.every((n) => n.state === 'alive' && nodes.length === 2),
    );
    // Returns the node it ran on (an actor address starts with its node's id).
    await client.register('nap', async (ctx: Context, ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ctx.id.split('/')[0];
    });
    const ranOn = new Map<string, number>();
    let stop = false;
    const callers = Array.from({ length: 10 }, async () => {
      while (!stop) {
        const node = await client.call<string>('nap', [40]);
        ranOn.set(node, (ranOn.get(node) ?? 0) + 1);
      }
    });
    try {
      await waitFor(
        'calls offloaded to the idle node',
        async () => (ranOn.get(b) ?? 0) > 20,
        30_000,
      );
      t.true((ranOn.get(a) ?? 0) > 0);
      // Kill the node running part of the calls: they are re-run, and none fails.
      await nodes[1]!.stop('SIGKILL');
      const before = ranOn.get(a) ?? 0;
      await waitFor(
        'calls keep completing on the survivor',
        async () => (ranOn.get(a) ?? 0) > before + 100,
        60_000,
      );
    } finally {
      stop = true;
      await Promise.all(callers);
    }
  } finally {
    cloud?.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('a function runs where the key it is passed by reference lives, over its pin', async (t) => {
  t.timeout(120_000);
  const args = ['--executors', '1', '--http-port', 'off', '--replication', '1'];
  const { nodes, clouds } = await startCluster(3, () => args);
  try {
    const client = clouds[0]!;
    await waitFor(
      '3 members in the ring',
      async () => (await client.status()).ring.members.length === 3,
    );
    await client.register(
      'where',
      (ctx: Context, data: Uint8Array) => `${ctx.id.split('/')[0]} ${data.length}`,
    );
    await client.registerDag('near', ['where'], []);
    const pinned = (await client.status()).dags.find((d) => d.name === 'near')!.pins.where![0]!;
    // Fresh keys, each stored on one node that is not the pinned one and cached nowhere.
    const keys: { key: string; owner: string }[] = [];
    for (let i = 0; keys.length < 20; i++) {
      const [owner] = await client.owners(`data/${i}`);
      if (owner!.id !== pinned) keys.push({ key: `data/${i}`, owner: owner!.id });
    }
    for (const { key } of keys) await client.put(key, new Uint8Array(1000));
    let onOwner = 0;
    for (const { key, owner } of keys) {
      // Spaced out, so that no node's one executor reports itself busy (> 70%), which
      // would rightly send calls elsewhere.
      await new Promise((resolve) => setTimeout(resolve, 30));
      const answer = await client.callDag<string>('near', { where: [ref(key)] });
      const [node, length] = answer.split(' ');
      t.is(length, '1000');
      if (node === owner) onOwner += 1;
    }
    // Locality decides; the 20% random share places a few calls elsewhere (≈ 17 of 20).
    t.true(onOwner >= 12, `${onOwner} of 20 calls ran where their key is stored`);
  } finally {
    for (const c of clouds) c.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});
