/**
 * Anti-entropy alone (no gossip) brings two co-owners to equal copies however many keys
 * differ, and tells each side when it has matched the other: what a node back from a
 * restart relies on to stop reading through its peers. Found by an integration test: once
 * more than one batch of keys differed across every bucket, each round re-sent the same
 * first batch (already equal) and the rest never converged.
 */
import test from 'ava';
import fc from 'fast-check';
import type { CoreEffect, ReplicaMessage, ReplicationConfig } from '../../src/runtime/index.js';
import { type Lattice, latticeEquals, lwwOf } from '../../src/storage/index.js';
import { deliverAll, Replica, viewOf } from './replicas.js';

function pair(config: Partial<ReplicationConfig> = {}, seed = 1): [Replica, Replica] {
  let state = seed;
  // A small seeded generator, so each side's random choices replay.
  const random = () => {
    state = (Math.imul(state, 48271) + 1) % 2147483647;
    return (state & 0x7fffffff) / 2147483648;
  };
  const a = new Replica('a', config, random);
  const b = new Replica('b', config, random);
  const view = viewOf(['a', 'b'], 2);
  a.take(a.core.setView(view, 0));
  b.take(b.core.setView(view, 0));
  deliverAll([a, b], 0);
  return [a, b];
}

const value = (v: string, ts: number, writer = 'w') => lwwOf(v, ts, writer);
const lwwValue = (l: Lattice | undefined): unknown => (l?.kind === 'lww' ? l.value : undefined);

function equalCopies(a: Replica, b: Replica): boolean {
  const keys = new Set([...a.shard.keys(), ...b.shard.keys()]);
  for (const key of keys) {
    const x = a.shard.get(key);
    const y = b.shard.get(key);
    if (x === undefined || y === undefined || !latticeEquals(x, y)) return false;
  }
  return true;
}

/** Anti-entropy rounds (both sides fire, everything delivered) until equal; the count. */
function roundsToConverge(a: Replica, b: Replica, roundsMax: number): number {
  for (let round = 1; round <= roundsMax; round++) {
    for (const r of [a, b]) r.take(r.core.fire('anti-entropy', round * 1000));
    deliverAll([a, b], round * 1000);
    if (equalCopies(a, b)) return round;
  }
  return Number.POSITIVE_INFINITY;
}

test('5,000 keys rewritten while a co-owner was away all reach it by anti-entropy', (t) => {
  const [a, b] = pair();
  for (let i = 0; i < 5000; i++) {
    a.shard.merge(`k/${i}`, value('old', 1));
    b.shard.merge(`k/${i}`, value('old', 1));
  }
  // Merged without telling the core: no gossip, as for writes taken while b was down.
  for (let i = 0; i < 5000; i++) a.shard.merge(`k/${i}`, value('new', 2));
  b.take(b.core.fire('anti-entropy', 500));
  deliverAll([a, b], 500);
  t.false(b.core.matched('a'), 'more keys differ than one exchange carries: not caught up');
  const rounds = roundsToConverge(a, b, 40);
  b.take(b.core.fire('anti-entropy', 99_000));
  deliverAll([a, b], 99_000);
  t.true(b.core.matched('a'), 'caught up at the next round once equal');
  t.true(rounds <= 25, `converged in ${rounds} rounds`);
  t.is(lwwValue(b.shard.get('k/4999')), 'new');
});

test('keys only one side holds, and newer values on either side, cross both ways', (t) => {
  const [a, b] = pair();
  for (let i = 0; i < 1500; i++) {
    a.shard.merge(`only-a/${i}`, value('a', 1));
    b.shard.merge(`only-b/${i}`, value('b', 1));
    a.shard.merge(`both/${i}`, value(i % 2 === 0 ? 'a-newer' : 'a-older', i % 2 === 0 ? 3 : 1));
    b.shard.merge(`both/${i}`, value(i % 2 === 0 ? 'b-older' : 'b-newer', 2));
  }
  t.true(roundsToConverge(a, b, 40) <= 30);
  t.is(a.shard.size, 4500);
  for (const r of [a, b]) {
    t.is(lwwValue(r.shard.get('both/10')), 'a-newer');
    t.is(lwwValue(r.shard.get('both/11')), 'b-newer');
  }
});

test('a node learns it has caught up with a peer: by one exchange, or by equal digests', (t) => {
  const [a, b] = pair();
  for (let i = 0; i < 100; i++) a.shard.merge(`k/${i}`, value('x', 1));
  a.take(a.core.fire('anti-entropy', 1000));
  deliverAll([a, b], 1000);
  // a compared b's fingerprints: b holds nothing a lacks, so a has caught up with b.
  t.true(a.core.matched('b'), 'the side that compared every difference');
  t.false(b.core.matched('a'), 'the other side only received');
  t.true(equalCopies(a, b), 'what b lacked was sent along');
  b.take(b.core.fire('anti-entropy', 2000));
  deliverAll([a, b], 2000);
  t.true(b.core.matched('a'), 'equal digests, said back');
});

test('a bucket larger than one message of fingerprints still converges, a run at a time', (t) => {
  const [a, b] = pair({ buckets: 1, fingerprintsMax: 300, batchKeysMax: 100 });
  for (let i = 0; i < 1000; i++) {
    a.shard.merge(`k/${i}`, value('new', 2));
    b.shard.merge(`k/${i}`, value('old', 1));
    if (i % 3 === 0) b.shard.merge(`b/${i}`, value('b', 1));
  }
  t.true(roundsToConverge(a, b, 200) < 200);
});

test('property: any two shards converge under anti-entropy alone', (t) => {
  const seed = Number(process.env.SQUALL_SEED ?? Date.now() % 1_000_000);
  t.log(`seed ${seed} (replay: SQUALL_SEED=${seed})`);
  const entry = fc.tuple(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 3 }));
  fc.assert(
    fc.property(
      fc.array(entry, { maxLength: 600 }),
      fc.array(entry, { maxLength: 600 }),
      fc.integer({ min: 1, max: 2 ** 30 }),
      (left, right, random) => {
        const [a, b] = pair({ buckets: 8, fingerprintsMax: 64, batchKeysMax: 32 }, random);
        for (const [k, ts] of left) a.shard.merge(`k/${k}`, value(`a${ts}`, ts, 'a'));
        for (const [k, ts] of right) b.shard.merge(`k/${k}`, value(`b${ts}`, ts, 'b'));
        return roundsToConverge(a, b, 400) < 400;
      },
    ),
    { seed, numRuns: 1000 },
  );
  t.pass();
});

test('a node catches up with a peer that takes writes all the time: matched once one exchange held every difference', (t) => {
  const [a, b] = pair();
  for (let i = 0; i < 300; i++) {
    a.shard.merge(`k/${i}`, value('new', 2));
    b.shard.merge(`k/${i}`, value('old', 1));
  }
  let matchedAfter = Number.POSITIVE_INFINITY;
  for (let round = 1; round <= 10 && matchedAfter > round; round++) {
    b.take(b.core.fire('anti-entropy', round * 1000));
    // A write lands at the peer after b's digest left: the digests never agree.
    a.write('hot', { kind: 'lww', value: `v${round}` });
    deliverAll([a, b], round * 1000);
    if (b.core.matched('a')) matchedAfter = round;
  }
  t.true(matchedAfter <= 2, `matched after ${matchedAfter} rounds`);
  t.is(lwwValue(b.shard.get('k/299')), 'new', 'and holds what it missed');
});

test('a round compares with every peer not yet caught up with, then with one peer a round', (t) => {
  const replicas = ['a', 'b', 'c'].map((id) => new Replica(id));
  const view = viewOf(['a', 'b', 'c'], 3);
  for (const r of replicas) r.take(r.core.setView(view, 0));
  deliverAll(replicas, 0);
  const [a] = replicas as [Replica, Replica, Replica];
  for (let i = 0; i < 50; i++) a.shard.merge(`k/${i}`, value('x', 1));
  const digestsTo = (effects: CoreEffect<ReplicaMessage>[]) =>
    effects.flatMap((e) => (e.t === 'send' && e.message.t === 'digest' ? [e.to] : [])).sort();
  const first = a.core.fire('anti-entropy', 1000);
  t.deepEqual(digestsTo(first), ['b:7946', 'c:7946'], 'a node back from a restart asks all');
  a.take(first);
  deliverAll(replicas, 1000);
  t.true(a.core.matched('b') && a.core.matched('c'));
  t.is(digestsTo(a.core.fire('anti-entropy', 2000)).length, 1, 'then one peer in turn');
});
