/**
 * Gossip sends co-owners the changes to a key (deltas), not the key's whole value: an add
 * to a large set costs the element on the wire and at the co-owner, and the co-owners
 * still end equal — through anti-entropy when a round of gossip is lost.
 */
import test from 'ava';
import { counterOf, type Lattice, latticeEquals, reveal, setOf } from '../../src/storage/index.js';
import { deliverAll, Replica, viewOf } from './replicas.js';

const LARGE = Array.from({ length: 2000 }, (_, i) => `element-${i}`);

/** Two co-owners of everything that both hold the large set `big` already. */
function syncedPair(): [Replica, Replica] {
  const a = new Replica('a');
  const b = new Replica('b');
  const view = viewOf(['a', 'b'], 2);
  a.take(a.core.setView(view, 0));
  b.take(b.core.setView(view, 0));
  deliverAll([a, b], 0);
  for (const r of [a, b]) r.shard.merge('big', setOf(LARGE));
  return [a, b];
}

const sizeOf = (l: Lattice | undefined): number => (l?.kind === 'set' ? l.items.size : -1);

/** The elements of each set entry `a` gossips in its next round (undelivered). */
function gossipRound(a: Replica, nowMs: number): unknown[][] {
  a.take(a.core.fire('gossip', nowMs));
  const pushes = a.outbox.filter((m) => m.message.t === 'push');
  return pushes.flatMap((m) =>
    m.message.t === 'push'
      ? m.message.entries.map(([, wire]) => (wire as unknown[])[1] as unknown[])
      : [],
  );
}

test('an add to a large set is gossiped as the added element, and the co-owner ends equal', (t) => {
  const [a, b] = syncedPair();
  a.write('big', { kind: 'set', values: ['new'] });
  const sent = gossipRound(a, 100);
  t.deepEqual(sent, [['new']]);
  deliverAll([a, b], 100);
  t.true(latticeEquals(a.shard.get('big')!, b.shard.get('big')!));
  t.is(sizeOf(b.shard.get('big')), LARGE.length + 1);
});

test('the changes of one round are joined into one entry per key', (t) => {
  const [a] = syncedPair();
  a.write('big', { kind: 'set', values: ['x'] });
  a.write('big', { kind: 'set', values: ['y'] });
  a.write('big', { kind: 'set', values: ['x'] });
  t.deepEqual(gossipRound(a, 100), [['x', 'y']]);
});

test('a change reported without its delta is gossiped as the whole value', (t) => {
  const [a] = syncedPair();
  a.shard.merge('big', setOf(['z']));
  a.core.changed('big');
  const [sent] = gossipRound(a, 100);
  t.is(sent?.length, LARGE.length + 1);
});

test('a change merged from a co-owner is not gossiped back to it', (t) => {
  const [a, b] = syncedPair();
  a.write('big', { kind: 'set', values: ['from-a'] });
  a.take(a.core.fire('gossip', 100));
  deliverAll([a, b], 100);
  t.deepEqual(gossipRound(b, 200), []);
});

test('a lost round of gossip is repaired by anti-entropy', (t) => {
  const [a, b] = syncedPair();
  a.write('big', { kind: 'set', values: ['lost'] });
  gossipRound(a, 100);
  a.outbox.splice(0); // the round never arrives
  t.false(latticeEquals(a.shard.get('big')!, b.shard.get('big')!));
  // Anti-entropy leaves a key out while gossip may still be carrying it (changed in the
  // last two gossip rounds), so the gossip timer runs on between its rounds, as it does.
  for (let i = 1; i <= 3; i++) {
    for (const r of [a, b]) r.take(r.core.fire('gossip', i * 1000 - 1));
    for (const r of [a, b]) r.take(r.core.fire('anti-entropy', i * 1000));
    deliverAll([a, b], i * 1000);
  }
  t.true(latticeEquals(a.shard.get('big')!, b.shard.get('big')!));
});

test('anti-entropy leaves out a key gossip is carrying, and takes it up once it is quiet', (t) => {
  const [a, b] = syncedPair();
  a.write('big', { kind: 'set', values: ['in flight'] });
  const antiEntropy = (nowMs: number) => {
    a.take(a.core.fire('anti-entropy', nowMs));
    deliverAll([a, b], nowMs);
  };
  antiEntropy(1000);
  t.false(latticeEquals(a.shard.get('big')!, b.shard.get('big')!), 'not shipped by anti-entropy');
  gossipRound(a, 1100);
  a.outbox.splice(0); // that round is lost
  antiEntropy(2000);
  t.false(latticeEquals(a.shard.get('big')!, b.shard.get('big')!), 'changed a round ago: busy');
  a.take(a.core.fire('gossip', 2100));
  antiEntropy(3000);
  t.true(latticeEquals(a.shard.get('big')!, b.shard.get('big')!), 'quiet for two rounds: repaired');
});

test('deltas of two lattice kinds for one key fall back to the whole value', (t) => {
  const [a] = syncedPair();
  a.core.changed('big', setOf(['p']));
  a.core.changed('big', counterOf([['a', 1]]));
  const [sent] = gossipRound(a, 100);
  t.is(sent?.length, LARGE.length);
});

test('a key written all the time is still compared every few rounds: what a node missed reaches it', (t) => {
  const [a, b] = syncedPair();
  // Missed by b (merged at a without telling its core: no gossip of it).
  a.shard.merge('hot', setOf(['missed']));
  const has = (element: string) =>
    (reveal(b.shard.get('hot') ?? setOf([])) as string[]).includes(element);
  let rounds = 0;
  for (let i = 1; i <= 10 && !has('missed'); i++) {
    a.write('hot', { kind: 'set', values: [`w${i}`] }); // busy at a every round
    a.take(a.core.fire('gossip', i * 1000 - 500));
    deliverAll([a, b], i * 1000 - 500);
    for (const r of [a, b]) r.take(r.core.fire('anti-entropy', i * 1000));
    deliverAll([a, b], i * 1000);
    rounds = i;
  }
  t.true(has('missed'), 'repaired though never quiet');
  t.true(rounds <= 5, `within ${rounds} rounds`);
});
