/**
 * Core bugs the cluster simulator found, each cut down to the smallest reproduction on the
 * real Replication core (two replicas, messages passed by hand through CBOR and the core's
 * parser). Both are fixed; these tests keep them fixed (their seeds run as regressions in
 * cluster_sim.test.ts).
 *
 * 1. replication_digest.ts: a fingerprint is FNV-1a with no final mix and a bucket's digest
 *    is the plain sum of its fingerprints, so when the last byte of a value's encoding moves
 *    (a counter's last entry), the fingerprint moves by ±FNV_PRIME (or ±3·FNV_PRIME): two
 *    keys of one bucket whose replicas differ that way cancel out, anti-entropy sees equal
 *    sums, and the replicas never converge.
 * 2. replication.ts `#acknowledged`: a key that changed after its hand-off batch was sent
 *    (a forwarded write or a merge reaching a node that no longer owns it) is deleted when
 *    the older batch is acknowledged; the new value is queued but never sent.
 */
import test from 'ava';
import { HashRing, parseReplicaMessage } from '../../src/runtime/index.js';
import {
  counterOf,
  decode,
  encode,
  latticeEquals,
  setHas,
  setOf,
} from '../../src/storage/index.js';
import { address, deliverAll, Replica, viewOf } from './replicas.js';

/** Two co-owners of everything whose gossip was lost: only anti-entropy can repair them. */
function divergedPair(values: Record<string, [unknown, unknown]>): [Replica, Replica] {
  const n1 = new Replica('n1');
  const n2 = new Replica('n2');
  const view = viewOf(['n1', 'n2'], 2);
  n1.take(n1.core.setView(view, 0));
  n2.take(n2.core.setView(view, 0));
  for (const [key, [a, b]] of Object.entries(values)) {
    n1.shard.merge(key, a as ReturnType<typeof counterOf>);
    n2.shard.merge(key, b as ReturnType<typeof counterOf>);
  }
  return [n1, n2];
}

function antiEntropyRounds(replicas: Replica[], rounds: number): void {
  for (let i = 1; i <= rounds; i++) {
    for (const r of replicas) r.take(r.core.fire('anti-entropy', i * 1000));
    deliverAll(replicas, i * 1000);
  }
}

test('control: anti-entropy repairs one differing key', (t) => {
  const [n1, n2] = divergedPair({
    'ctr-5': [
      counterOf([
        ['n1', 3],
        ['n2', 2],
      ]),
      counterOf([
        ['n1', 3],
        ['n2', 3],
      ]),
    ],
  });
  antiEntropyRounds([n1, n2], 3);
  t.true(latticeEquals(n1.shard.get('ctr-5')!, n2.shard.get('ctr-5')!));
});

test('core bug 1: anti-entropy misses two keys of one bucket that differ in opposite ways (seed 664)', (t) => {
  // The replicas of seed 664 after its heal: ctr-5 and ctr-7 share bucket 19 of 64.
  t.is(HashRing.bucketOf('ctr-5', 64), HashRing.bucketOf('ctr-7', 64));
  const [n1, n2] = divergedPair({
    'ctr-5': [
      counterOf([
        ['n1', 3],
        ['n2', 2],
      ]),
      counterOf([
        ['n1', 3],
        ['n2', 3],
      ]),
    ],
    'ctr-7': [
      counterOf([
        ['n1', 2],
        ['n2', 1],
      ]),
      counterOf([
        ['n1', 2],
        ['n2', 2],
      ]),
    ],
  });
  antiEntropyRounds([n1, n2], 10);
  for (const key of ['ctr-5', 'ctr-7']) {
    t.true(latticeEquals(n1.shard.get(key)!, n2.shard.get(key)!), `${key} still differs`);
  }
});

test('core bug 2: an acknowledged older hand-off batch deletes a newer value (seed 3459)', (t) => {
  const a = new Replica('a');
  const b = new Replica('b');
  const view = viewOf(['a', 'b'], 1);
  const key = 'k2';
  t.deepEqual(view.ring.owners(key, 1), ['b']);
  b.take(b.core.setView(view, 0));
  // `a` held the key while it was alone; on the new ring it hands it to its owner `b`.
  a.shard.merge(key, setOf(['x']));
  a.take(a.core.setView(view, 0));
  t.is(a.outbox.length, 1, 'the hand-off batch went out at once');
  const batch = a.outbox.splice(0);
  // Before b's acknowledgement comes back, a write reaches `a` (a forward or a late merge).
  const store = a.core;
  a.shard.merge(key, setOf(['y']));
  store.changed(key);
  for (const { from, to, message } of batch) {
    t.is(to, address('b'));
    b.take(b.core.receive(from, parseReplicaMessage(decode(encode(message))), 10));
  }
  deliverAll([a, b], 20);
  for (let i = 1; i <= 5; i++) {
    a.take(a.core.fire('gossip', 100 * i));
    deliverAll([a, b], 100 * i);
  }
  const atB = b.shard.get(key);
  const kept = a.shard.get(key);
  t.true(
    (atB?.kind === 'set' && setHas(atB, 'y')) || (kept?.kind === 'set' && setHas(kept, 'y')),
    'the write of y survives somewhere',
  );
});
