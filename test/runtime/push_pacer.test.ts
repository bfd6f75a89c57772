/** Pushes of a cached key to its subscribers, paced by the value's size, on a fake clock. */
import test from 'ava';
import { PUSH_INTERVAL_MAX_MS, PushPacer, pushIntervalMs } from '../../src/runtime/push_pacer.js';

function pacer(intervalMs: number) {
  let nowMs = 0;
  const timers: { atMs: number; fire: () => void }[] = [];
  const pushes: [string, number][] = [];
  const paced = new PushPacer(
    (key) => pushes.push([key, nowMs]),
    () => intervalMs,
    {
      nowMs: () => nowMs,
      setTimer: (fire, afterMs) => {
        const timer = { atMs: nowMs + afterMs, fire };
        timers.push(timer);
        return timer;
      },
      clearTimer: (timer) => timers.splice(timers.indexOf(timer as never), 1),
    },
  );
  /** Moves the clock on by `ms`, firing each timer due on the way at its own time. */
  const advance = (ms: number) => {
    const endMs = nowMs + ms;
    for (;;) {
      const next = timers.filter((x) => x.atMs <= endMs).sort((a, b) => a.atMs - b.atMs)[0];
      if (next === undefined) break;
      timers.splice(timers.indexOf(next), 1);
      nowMs = next.atMs;
      next.fire();
    }
    nowMs = endMs;
  };
  return { paced, pushes, advance, timers };
}

test('a small value is pushed on every change', (t) => {
  const { paced, pushes, advance } = pacer(0);
  for (let i = 0; i < 5; i++) {
    paced.changed('k');
    advance(1);
  }
  t.is(pushes.length, 5);
});

test('a large value changed often is pushed at once, then at most once per interval, the last change included', (t) => {
  const { paced, pushes, advance } = pacer(40);
  paced.changed('big');
  t.deepEqual(pushes, [['big', 0]], 'the first change goes at once');
  for (let i = 0; i < 100; i++) {
    advance(1);
    paced.changed('big');
  }
  advance(100);
  // 100 ms of changes: at 0, then one push due at the end of each 40 ms interval.
  t.deepEqual(
    pushes.map(([, atMs]) => atMs),
    [0, 40, 80, 120],
  );
  t.is(paced.due, 0, 'nothing left undelivered');
  advance(500);
  paced.changed('big');
  t.is(pushes.at(-1)?.[1], 700, 'a change after a quiet spell goes at once');
});

test('keys are paced apart, and stop cancels what is due', (t) => {
  const { paced, pushes, advance, timers } = pacer(50);
  paced.changed('a');
  paced.changed('b');
  advance(10);
  paced.changed('a');
  t.is(pushes.length, 2);
  t.is(paced.due, 1);
  paced.stop();
  t.is(timers.length, 0);
  advance(100);
  t.is(pushes.length, 2);
});

test('sweep forgets keys whose next change would go at once anyway', (t) => {
  const { paced, pushes, advance } = pacer(50);
  paced.changed('a');
  advance(PUSH_INTERVAL_MAX_MS);
  paced.sweep();
  paced.changed('a');
  t.is(pushes.length, 2);
});

test('the interval grows with the size, up to a second', (t) => {
  t.is(pushIntervalMs(0), 0);
  t.is(pushIntervalMs(2_000), 0);
  t.is(pushIntervalMs(100_000), 40);
  t.is(pushIntervalMs(8_000_000), PUSH_INTERVAL_MAX_MS);
  t.is(PUSH_INTERVAL_MAX_MS, 1000);
});
