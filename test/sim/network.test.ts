/**
 * The simulated network's fault model: delay and jitter (reordering), loss and duplication
 * at about their rates (and never a duplicated forwarded write), partitions both ways until
 * healed, nothing delivered to a node that is down or that restarted while the message was
 * in flight, messages copied through CBOR, and the same seed giving the same deliveries.
 */
import test from 'ava';
import { type Channel, type FaultModel, Network, Random, SimClock } from '../../src/sim/index.js';

interface Got {
  at: number;
  from: string;
  to: string;
  channel: Channel;
  payload: unknown;
}

function setup(faults: FaultModel, seed = 1) {
  const clock = new SimClock();
  const network = new Network(clock, new Random(seed), faults);
  const got: Got[] = [];
  const listen = (address: string): void =>
    network.attach(address, (from, channel, payload) =>
      got.push({ at: clock.now, from, to: address, channel, payload }),
    );
  for (const address of ['a', 'b', 'c']) listen(address);
  return { clock, network, got, listen };
}

const CLEAN: FaultModel = { delayMs: 5, jitterMs: 0, lossRate: 0, duplicateRate: 0 };

test('a message arrives after the delay plus jitter, decoded into fresh objects', (t) => {
  const { clock, network, got } = setup({ ...CLEAN, jitterMs: 10 });
  const message = { t: 'ping', list: [1, 2], nested: { x: 'y' } };
  network.send('a', 'b', 'membership', message);
  message.list.push(3);
  clock.runUntil(100);
  t.is(got.length, 1);
  const [first] = got;
  t.true(first !== undefined && first.at >= 5 && first.at <= 15);
  t.deepEqual(first?.payload, { t: 'ping', list: [1, 2], nested: { x: 'y' } });
  t.not(first?.payload, message);
  t.like(first, { from: 'a', to: 'b', channel: 'membership' });
});

test('jitter reorders messages; without jitter they keep their order', (t) => {
  const jittery = setup({ ...CLEAN, jitterMs: 50 });
  const steady = setup(CLEAN);
  for (const { network } of [jittery, steady]) {
    for (let i = 0; i < 100; i++) network.send('a', 'b', 'replica', { t: 'push', i });
  }
  for (const { clock } of [jittery, steady]) clock.runUntil(1000);
  const order = (got: Got[]) => got.map((g) => (g.payload as { i: number }).i);
  const sorted = Array.from({ length: 100 }, (_, i) => i);
  t.deepEqual(order(steady.got), sorted);
  t.notDeepEqual(order(jittery.got), sorted);
  t.deepEqual(
    [...order(jittery.got)].sort((x, y) => x - y),
    sorted,
  );
});

test('loss and duplication happen at about their rates; rpc is never duplicated', (t) => {
  const n = 20_000;
  const { clock, network, got } = setup({ ...CLEAN, lossRate: 0.1, duplicateRate: 0.05 });
  for (let i = 0; i < n; i++) network.send('a', 'b', 'replica', { t: 'push', i });
  for (let i = 0; i < n; i++) network.send('a', 'c', 'rpc', { t: 'put', i });
  clock.runUntil(1000);
  const { stats } = network;
  t.true(Math.abs(stats.dropped.loss - 0.1 * 2 * n) < 0.01 * 2 * n, `lost ${stats.dropped.loss}`);
  const replica = got.filter((g) => g.channel === 'replica').length;
  const rpc = got.filter((g) => g.channel === 'rpc');
  t.true(Math.abs(replica - n * 0.9 * 1.05) < 0.015 * n, `replica delivered ${replica}`);
  t.is(new Set(rpc.map((g) => (g.payload as { i: number }).i)).size, rpc.length);
  t.is(stats.sent, 2 * n);
  t.is(stats.delivered, got.length);
});

test('a partition drops messages both ways until it heals; unlisted addresses talk to all', (t) => {
  const { clock, network, got, listen } = setup(CLEAN);
  listen('d');
  network.partition([['a'], ['b', 'c']]);
  t.true(network.separated('a', 'b'));
  t.false(network.reachable('b', 'a'));
  t.true(network.reachable('b', 'c'));
  network.send('a', 'b', 'membership', { t: 'ping' });
  network.send('c', 'a', 'membership', { t: 'ping' });
  network.send('b', 'c', 'membership', { t: 'ping' });
  network.send('d', 'a', 'membership', { t: 'ping' });
  clock.runUntil(100);
  t.deepEqual(
    got.map((g) => `${g.from}>${g.to}`),
    ['b>c', 'd>a'],
  );
  t.is(network.stats.dropped.partition, 2);
  network.send('a', 'b', 'membership', { t: 'in flight when the partition starts' });
  network.heal();
  network.send('a', 'b', 'membership', { t: 'after the heal' });
  network.partition([['a'], ['b']]);
  clock.runUntil(200);
  t.is(got.length, 2, 'a partition is checked again on arrival');
  network.heal();
  network.send('a', 'b', 'membership', { t: 'healed' });
  clock.runUntil(300);
  t.is(got.length, 3);
});

test('a node that is down receives nothing, nor what was sent before it restarted', (t) => {
  const { clock, network, got, listen } = setup(CLEAN);
  network.detach('b');
  t.false(network.isUp('b'));
  network.send('a', 'b', 'membership', { t: 'to a dead node' });
  listen('b');
  network.send('a', 'b', 'membership', { t: 'before the restart' });
  network.detach('b');
  listen('b');
  network.send('a', 'b', 'membership', { t: 'after the restart' });
  clock.runUntil(100);
  t.deepEqual(
    got.map((g) => (g.payload as { t: string }).t),
    ['after the restart'],
  );
  t.is(network.stats.dropped.down, 1);
  t.is(network.stats.dropped.restarted, 1);
});

test('the same seed loses, duplicates and delays the same messages', (t) => {
  const faults: FaultModel = { delayMs: 3, jitterMs: 30, lossRate: 0.2, duplicateRate: 0.2 };
  const run = (seed: number) => {
    const { clock, network, got } = setup(faults, seed);
    for (let i = 0; i < 300; i++) network.send('a', i % 2 ? 'b' : 'c', 'replica', { t: 'push', i });
    clock.runUntil(1000);
    return got.map((g) => `${g.at}:${g.to}:${(g.payload as { i: number }).i}`);
  };
  t.deepEqual(run(11), run(11));
  t.notDeepEqual(run(11), run(12));
});

test('fault models out of range are refused', (t) => {
  const { network } = setup(CLEAN);
  t.throws(() => network.setFaults({ ...CLEAN, lossRate: 2 }), { instanceOf: RangeError });
  t.throws(() => network.setFaults({ ...CLEAN, delayMs: -1 }), { instanceOf: RangeError });
});
