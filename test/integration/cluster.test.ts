/**
 * A real three-process cluster with replication 2 and data dirs: 10,000 keys written, a
 * node killed with SIGKILL, every key still readable, the node restarted on its data dir,
 * and all replicas converging again — observed only through the SDK and `status`; and the
 * last survivor of a pair taking its dead peer off the ring on its own.
 */
import { mkdtempSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type Cloud, connect, lattice } from '../../src/index.js';
import { type NodeProcess, startNodeProcess } from '../../src/sim/index.js';
import { waitFor } from './node_fixture.js';

const KEYS = 10_000;

async function putAll(cloud: Cloud, count: number): Promise<void> {
  for (let start = 0; start < count; start += 500) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + 500); i++)
      batch.push(cloud.put(`key/${i}`, { i }));
    await Promise.all(batch);
  }
}

/** A node started again on the same port (and the args' data dir), joining through `seed`. */
function restartAt(node: NodeProcess, args: string[], seed: NodeProcess): Promise<NodeProcess> {
  return startNodeProcess([...args, '--port', node.address.split(':')[1]!, '--join', seed.address]);
}

async function readAll(cloud: Cloud, count: number): Promise<number> {
  let found = 0;
  for (let start = 0; start < count; start += 500) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + 500); i++) batch.push(cloud.get(`key/${i}`));
    for (const [offset, value] of (await Promise.all(batch)).entries()) {
      if ((value as { i?: number } | undefined)?.i === start + offset) found += 1;
    }
  }
  return found;
}

test('kill -9 a node: every key still reads back; restarted on its data dir, replicas converge', async (t) => {
  t.timeout(240_000);
  const root = mkdtempSync(join(tmpdir(), 'squall-cluster-'));
  const args = (i: number) => [
    '--executors',
    '1',
    '--replication',
    '2',
    '--data-dir',
    join(root, `n${i}`),
  ];
  const first = await startNodeProcess(args(0));
  const nodes: NodeProcess[] = [first];
  for (const i of [1, 2]) nodes.push(await startNodeProcess([...args(i), '--join', first.address]));
  const clouds = await Promise.all(nodes.map((n) => connect(n.address)));
  try {
    await waitFor('3 alive members', async () =>
      (await Promise.all(clouds.map((c) => c.status()))).every(
        (s) => s.nodes.filter((n) => n.state === 'alive').length === 3,
      ),
    );
    await putAll(clouds[0]!, KEYS);
    await clouds[1]!.put('tally', lattice.counter(5));
    await waitFor('2 copies of every key', async () => {
      const statuses = await Promise.all(clouds.map((c) => c.status()));
      return statuses.reduce((sum, s) => sum + s.store.userKeys, 0) === 2 * (KEYS + 1);
    });

    const victim = nodes[2]!;
    const victimPort = victim.address.split(':')[1]!;
    victim.child.kill('SIGKILL');
    clouds[2]!.close();
    t.is(await readAll(clouds[0]!, KEYS), KEYS, 'every key reads back right after the kill');
    await waitFor('the victim declared dead', async () => {
      const status = await clouds[1]!.status();
      return (
        status.nodes.find((n) => n.id === victim.id)?.state === 'dead' &&
        status.ring.members.length === 2
      );
    });
    t.is(await readAll(clouds[1]!, KEYS), KEYS, 'every key reads back once it is dead');
    t.is(await clouds[0]!.get('tally'), 5);

    const restarted = await startNodeProcess([
      ...args(2),
      '--port',
      victimPort,
      '--join',
      first.address,
    ]);
    t.is(restarted.id, victim.id, 'the data dir keeps the node id');
    nodes[2] = restarted;
    clouds[2] = await connect(restarted.address);
    await waitFor('replicas converge after the rejoin', async () => {
      const statuses = await Promise.all(clouds.map((c) => c.status()));
      const alive = statuses.every((s) => s.nodes.filter((n) => n.state === 'alive').length === 3);
      const copies = statuses.reduce((sum, s) => sum + s.store.userKeys, 0);
      const settled = statuses.every(
        (s) => s.ring.pendingHandoff === 0 && s.ring.members.length === 3,
      );
      return alive && settled && copies === 2 * (KEYS + 1);
    });
    t.is(await readAll(clouds[2]!, KEYS), KEYS, 'every key reads back through the restarted node');
    const status = await clouds[2]!.status();
    t.is(status.ring.replication, 2);
    t.deepEqual(
      status.nodes.map((n) => n.state),
      ['alive', 'alive', 'alive'],
    );
  } finally {
    for (const cloud of clouds) cloud.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

test('the last survivor takes its dead peer off the ring and takes every write, ack all too', async (t) => {
  t.timeout(120_000);
  const args = ['--executors', '1', '--replication', '2', '--http-port', 'off'];
  const first = await startNodeProcess(args);
  const second = await startNodeProcess([...args, '--join', first.address]);
  const cloud = await connect(first.address);
  try {
    await waitFor('2 members', async () => (await cloud.status()).ring.members.length === 2);
    second.child.kill('SIGKILL');
    // Before the survivor knows its peer is dead: an ack-all write waits for that, not
    // failing for an owner it cannot reach.
    const startedMs = Date.now();
    await cloud.put('during/detection', lattice.set(['y']), { ack: 'all' });
    t.log(`an ack-all write during failure detection took ${Date.now() - startedMs} ms`);
    // Nothing but its own timers tells the survivor: no other peer is left to gossip.
    await waitFor('the dead peer off the ring', async () => {
      const status = await cloud.status();
      return status.ring.members.length === 1 && status.ring.members[0] === first.id;
    });
    for (let i = 0; i < 50; i++) await cloud.put(`alone/${i}`, i, { ack: 'all' });
    await cloud.put('alone/set', lattice.set(['x']), { ack: 'all' });
    t.deepEqual(
      (await cloud.owners('alone/0')).map((o) => o.id),
      [first.id],
    );
    t.is(await cloud.get('alone/49'), 49);
    t.deepEqual(await cloud.get('during/detection'), ['y']);
  } finally {
    cloud.close();
    await Promise.all([first.stop(), second.stop()]);
  }
});

test('a node back from a log that lost its tail counts on: no increment it acknowledges is lost', async (t) => {
  t.timeout(180_000);
  const root = mkdtempSync(join(tmpdir(), 'squall-tail-'));
  const COUNTERS = 20;
  const args = (i: number) => [
    ...['--executors', '1', '--replication', '2', '--http-port', 'off'],
    ...['--data-dir', join(root, `n${i}`), '--fsync', 'always'],
  ];
  const first = await startNodeProcess(args(0));
  let second = await startNodeProcess([...args(1), '--join', first.address]);
  const a = await connect(first.address);
  let b = await connect(second.address);
  const bump = (cloud: Cloud) =>
    Promise.all(
      Array.from({ length: COUNTERS }, (_, i) =>
        cloud.put(`tally/${i}`, lattice.counter(1), { ack: 'all' }),
      ),
    );
  try {
    await waitFor('2 members', async () => (await a.status()).ring.members.length === 2);
    for (let round = 0; round < 10; round++) await bump(b);
    // What an OS crash may take under fsync 'interval': the log's last records.
    second.child.kill('SIGKILL');
    b.close();
    const log = join(root, 'n1', 'log-1.bin');
    truncateSync(log, Math.floor(statSync(log).size / 2));
    second = await restartAt(second, args(1), first);
    b = await connect(second.address);
    await bump(b);
    await waitFor(
      'every counter at 11 on both nodes',
      async () => {
        for (const cloud of [a, b]) {
          for (let i = 0; i < COUNTERS; i++)
            if ((await cloud.get(`tally/${i}`)) !== 11) return false;
        }
        return true;
      },
      20_000,
    );
    t.pass();
  } finally {
    a.close();
    b.close();
    await Promise.all([first.stop(), second.stop()]);
  }
});

test('a node answers no read or write before it has joined: existing keys read back through it at once', async (t) => {
  t.timeout(120_000);
  const args = ['--executors', '1', '--replication', '2', '--http-port', 'off'];
  const first = await startNodeProcess(args);
  const a = await connect(first.address);
  const joiners: NodeProcess[] = [];
  try {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => a.put(`early/${i}`, lattice.counter(7), { ack: 'all' })),
    );
    for (let round = 0; round < 3; round++) {
      const node = await startNodeProcess([...args, '--join', first.address]);
      joiners.push(node);
      // As soon as it says it serves: its ring must already be the cluster's.
      const b = await connect(node.address);
      try {
        const read = await Promise.all(Array.from({ length: 20 }, (_, i) => b.get(`early/${i}`)));
        t.deepEqual(read, Array(20).fill(7), `round ${round}`);
      } finally {
        b.close();
      }
    }
  } finally {
    a.close();
    await Promise.all([first, ...joiners].map((n) => n.stop()));
  }
});

test('status lists a node restarted at the same address under a new id once, not beside its old self', async (t) => {
  t.timeout(120_000);
  const args = ['--executors', '1', '--http-port', 'off'];
  const first = await startNodeProcess(args);
  let second = await startNodeProcess([...args, '--join', first.address]);
  const a = await connect(first.address);
  try {
    await waitFor('2 members', async () => (await a.status()).ring.members.length === 2);
    const port = second.address.split(':')[1]!;
    second.child.kill('SIGKILL');
    await waitFor('the old id dead', async () =>
      (await a.status()).nodes.some((n) => n.id === second.id && n.state === 'dead'),
    );
    const oldId = second.id;
    second = await startNodeProcess([...args, '--port', port, '--join', first.address]);
    t.not(second.id, oldId, 'no data dir: a new id');
    await waitFor('the new id alive', async () =>
      (await a.status()).nodes.some((n) => n.id === second.id && n.state === 'alive'),
    );
    const listed = (await a.status()).nodes.filter((n) => n.address === second.address);
    t.deepEqual(
      listed.map((n) => n.id),
      [second.id],
    );
  } finally {
    a.close();
    await Promise.all([first.stop(), second.stop()]);
  }
});

test('a node back from kill -9 on its data dir answers with the writes it missed, at once, itself or through another node', async (t) => {
  t.timeout(120_000);
  const root = mkdtempSync(join(tmpdir(), 'squall-catchup-'));
  const COUNT = 1000;
  const args = (i: number) => [
    ...['--executors', '1', '--replication', '2', '--http-port', 'off'],
    ...['--data-dir', join(root, `n${i}`)],
  ];
  const first = await startNodeProcess(args(0));
  const nodes = [first];
  for (const i of [1, 2]) nodes.push(await startNodeProcess([...args(i), '--join', first.address]));
  const clouds = await Promise.all(nodes.map((n) => connect(n.address)));
  const [a, b] = clouds as [Cloud, Cloud];
  const writeAll = (round: number) =>
    Promise.all(Array.from({ length: COUNT }, (_, i) => a.put(`v/${i}`, { round })));
  const roundsRead = (cloud: Cloud) =>
    Promise.all(
      Array.from(
        { length: COUNT },
        async (_, i) => ((await cloud.get(`v/${i}`)) as { round: number }).round,
      ),
    );
  try {
    await waitFor('3 members', async () => (await a.status()).ring.members.length === 3);
    await writeAll(1);
    await a.put('seen', lattice.set(['before']));
    await waitFor('2 copies of every key', async () => {
      const statuses = await Promise.all(clouds.map((c) => c.status()));
      return statuses.reduce((sum, s) => sum + s.store.userKeys, 0) === 2 * (COUNT + 1);
    });
    nodes[2]!.child.kill('SIGKILL');
    clouds[2]!.close();
    // Its co-owners take these without it.
    await writeAll(2);
    await a.put('seen', lattice.set(['while down']));
    const restarted = await restartAt(nodes[2]!, args(2), first);
    nodes[2] = restarted;
    const c = await connect(restarted.address);
    clouds[2] = c;
    const restartedMs = Date.now();
    for (const [via, cloud] of [
      ['itself', c],
      ['another node', b],
    ] as const) {
      const rounds = await roundsRead(cloud);
      t.is(rounds.filter((round) => round === 2).length, COUNT, `no old value read via ${via}`);
      t.deepEqual(await cloud.get('seen'), ['before', 'while down']);
    }
    // And it stops asking its peers once anti-entropy has found them equal.
    await waitFor('caught up', async () =>
      restarted.stderr().includes('caught up with every peer'),
    );
    t.log(`caught up within ${Date.now() - restartedMs} ms of serving again`);
  } finally {
    for (const cloud of clouds) cloud.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});
