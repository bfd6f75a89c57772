/**
 * The hybrid logical clock: strictly increasing, tracks the wall clock it is given, jumps
 * past observed stamps unless they are implausibly far ahead, and never reads the real
 * clock itself.
 */
import { readFileSync } from 'node:fs';
import test from 'ava';
import fc from 'fast-check';
import { HLC_TICKS_PER_MS, HybridClock, hlcPhysicalMs } from '../../src/storage/hlc.js';
import { seed } from './lattices_arbitraries.js';

const step = fc.oneof(
  fc.record({ op: fc.constant('next' as const) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: -50, max: 50 }) }),
  fc.record({
    op: fc.constant('observe' as const),
    aheadMs: fc.integer({ min: -100, max: 100_000 }),
  }),
);

test('stamps strictly increase and never fall behind the wall clock', (t) => {
  t.log('seed', seed);
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
      let nowMs = 1_700_000_000_000;
      const clock = new HybridClock(() => nowMs);
      let last = 0;
      for (const s of steps) {
        if (s.op === 'advance') nowMs += s.ms;
        else if (s.op === 'observe') clock.observe((nowMs + s.aheadMs) * HLC_TICKS_PER_MS + 3);
        else {
          const ts = clock.next();
          if (!(ts > last) || ts < nowMs * HLC_TICKS_PER_MS || !Number.isSafeInteger(ts)) {
            return false;
          }
          last = ts;
        }
        last = Math.max(last, clock.last);
      }
      return true;
    }),
    { seed, numRuns: 10_000 },
  );
  t.pass();
});

test('a stalled or backwards wall clock still yields increasing stamps', (t) => {
  let nowMs = 1000;
  const clock = new HybridClock(() => nowMs);
  const a = clock.next();
  const b = clock.next();
  nowMs = 900;
  const c = clock.next();
  t.true(a < b && b < c);
  t.is(hlcPhysicalMs(a), 1000);
  t.is(a, 1000 * HLC_TICKS_PER_MS);
  nowMs = 2000;
  t.is(clock.next(), 2000 * HLC_TICKS_PER_MS);
});

test('observe moves past a peer stamp, but ignores stamps beyond the drift bound or malformed', (t) => {
  const nowMs = 10_000;
  const clock = new HybridClock(() => nowMs, { driftMsMax: 1000 });
  const peer = (nowMs + 500) * HLC_TICKS_PER_MS + 7;
  clock.observe(peer);
  t.is(clock.next(), peer + 1);
  clock.observe((nowMs + 5000) * HLC_TICKS_PER_MS);
  clock.observe(Number.NaN);
  clock.observe(Number.POSITIVE_INFINITY);
  clock.observe(1.5);
  t.is(clock.next(), peer + 2);
});

test('the clock module never reads Date or a timer itself', (t) => {
  const source = readFileSync(new URL('../../src/storage/hlc.ts', import.meta.url), 'utf8');
  t.false(/Date\.now|new Date|performance\.now|process\.hrtime|setTimeout/.test(source));
});
