/**
 * SpinBackoff: occasional misses change nothing; a run of misses skips 1, 2, 4, … spins up
 * to the cap; one catch brings spinning back at once.
 */
import test from 'ava';
import { SpinBackoff } from '../../src/actors/spin_backoff.js';

/** How many of the next `n` chances are skipped. */
function skipped(backoff: SpinBackoff, n: number): number {
  let count = 0;
  for (let i = 0; i < n; i++) if (!backoff.shouldSpin()) count += 1;
  return count;
}

test('misses up to the tolerated number change nothing', (t) => {
  const backoff = new SpinBackoff(64, 2);
  backoff.record(false);
  backoff.record(false);
  t.is(skipped(backoff, 10), 0);
});

test('each further miss doubles the spins skipped, up to the cap', (t) => {
  const backoff = new SpinBackoff(8, 2);
  backoff.record(false);
  backoff.record(false);
  const skips: number[] = [];
  for (let i = 0; i < 6; i++) {
    backoff.record(false);
    skips.push(skipped(backoff, 100));
  }
  t.deepEqual(skips, [1, 2, 4, 8, 8, 8]);
});

test('a catch brings spinning back at once', (t) => {
  const backoff = new SpinBackoff(64, 0);
  for (let i = 0; i < 5; i++) backoff.record(false);
  backoff.record(true);
  t.is(skipped(backoff, 10), 0);
  backoff.record(false);
  t.is(skipped(backoff, 10), 1);
});
