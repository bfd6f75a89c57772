/**
 * The simulator's agenda and clock: events come out by (time, insertion order) whatever
 * order they went in, ties are first-in first-out, the clock never runs backwards, runUntil
 * stops at its bound, and the bounds (queue size, event count) fail loudly.
 */
import test from 'ava';
import fc from 'fast-check';
import { EventQueue, SimClock, Trace } from '../../src/sim/index.js';

test('events pop by time, then by insertion order', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (times) => {
      const queue = new EventQueue<number>();
      for (const [i, at] of times.entries()) queue.push(at, i);
      const out: [number, number][] = [];
      for (let e = queue.pop(); e !== undefined; e = queue.pop()) out.push([e.atMs, e.item]);
      const expected = times.map((at, i): [number, number] => [at, i]);
      expected.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      return JSON.stringify(out) === JSON.stringify(expected) && queue.size === 0;
    }),
    { seed: 1, numRuns: 200 },
  );
  t.pass();
});

test('interleaved pushes and pops keep the order', (t) => {
  const queue = new EventQueue<string>();
  queue.push(5, 'a');
  queue.push(1, 'b');
  t.is(queue.peekTime(), 1);
  t.is(queue.pop()?.item, 'b');
  queue.push(5, 'c');
  queue.push(3, 'd');
  t.deepEqual([queue.pop()?.item, queue.pop()?.item, queue.pop()?.item], ['d', 'a', 'c']);
  t.is(queue.pop(), undefined);
  t.is(queue.peekTime(), undefined);
});

test('the queue refuses non-finite times and more than sizeMax events', (t) => {
  const queue = new EventQueue<number>(2);
  t.throws(() => queue.push(Number.NaN, 0), { instanceOf: RangeError });
  queue.push(1, 1);
  queue.push(1, 2);
  t.throws(() => queue.push(1, 3), { message: /full/ });
});

test('the clock runs events in order, advances to each, and stops at runUntil', (t) => {
  const clock = new SimClock();
  const seen: string[] = [];
  clock.at(10, () => {
    seen.push(`a@${clock.now}`);
    clock.after(0, () => seen.push(`c@${clock.now}`));
    clock.after(5, () => seen.push(`d@${clock.now}`));
  });
  clock.at(10, () => seen.push(`b@${clock.now}`));
  clock.at(30, () => seen.push(`e@${clock.now}`));
  clock.runUntil(20);
  t.deepEqual(seen, ['a@10', 'b@10', 'c@10', 'd@15']);
  t.is(clock.now, 20);
  t.is(clock.pending, 1);
  t.throws(() => clock.at(19, () => undefined), { instanceOf: RangeError });
  t.throws(() => clock.runUntil(5), { instanceOf: RangeError });
  clock.runUntil(100);
  t.deepEqual(seen.at(-1), 'e@30');
  t.is(clock.eventsRun, 5);
});

test('a livelock hits eventsMax instead of hanging', (t) => {
  const clock = new SimClock(1000);
  const spin = (): void => clock.after(0, spin);
  spin();
  t.throws(() => clock.runUntil(1), { message: /livelock/ });
});

test('the trace keeps the last lines, oldest first, and copies each to its sink', (t) => {
  const sink: string[] = [];
  const trace = new Trace(3, (line) => sink.push(line));
  for (let i = 1; i <= 5; i++) trace.add(i, `event ${i}`);
  t.deepEqual(
    trace.lines().map((line) => line.trim()),
    ['3ms event 3', '4ms event 4', '5ms event 5'],
  );
  t.is(sink.length, 5);
  t.true(trace.verbose);
  t.false(new Trace(1).verbose);
});

test('notable lines and per-key lines outlive the routine ones', (t) => {
  const trace = new Trace(2);
  trace.note(1, 'crash n1');
  trace.note(2, 'write#1 k applied', 'k');
  for (let i = 3; i < 10; i++) trace.add(i, `ping ${i}`);
  t.deepEqual(
    trace.lines().map((line) => line.trim()),
    ['8ms ping 8', '9ms ping 9'],
  );
  t.deepEqual(
    trace.notes().map((line) => line.trim()),
    ['1ms crash n1'],
  );
  t.deepEqual(
    trace.keyLines('k').map((line) => line.trim()),
    ['2ms write#1 k applied'],
  );
  t.deepEqual(trace.keys(), ['k']);
  t.deepEqual(trace.keyLines('other'), []);
});
