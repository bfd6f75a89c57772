/**
 * The chaos run's verdict (src/sim/chaos_ledger.ts): what it calls a violation — an
 * acknowledged write missing at the end, a value never written, a message received twice —
 * and what it only counts.
 */
import test from 'ava';
import { type ChaosFinal, ChaosLedger } from '../../src/sim/index.js';

const finalOf = (parts: Partial<ChaosFinal> = {}): ChaosFinal => ({
  sets: new Map(),
  counters: new Map(),
  lww: new Map(),
  ...parts,
});

test('an end state holding everything acknowledged and nothing unwritten has no violation', (t) => {
  const ledger = new ChaosLedger();
  ledger.attemptSet('s', 'a');
  ledger.ackSet('s', 'a');
  ledger.attemptSet('s', 'b'); // failed: it may or may not be there
  ledger.attemptCounter('n', 1);
  ledger.ackCounter('n', 1);
  ledger.attemptCounter('n', 1);
  ledger.attemptLww('w', 1);
  ledger.ackLww('w', 1);
  ledger.attemptLww('w', 2);
  for (const final of [
    finalOf({
      sets: new Map([['s', ['a']]]),
      counters: new Map([['n', 1]]),
      lww: new Map([['w', 1]]),
    }),
    finalOf({
      sets: new Map([['s', ['a', 'b']]]),
      counters: new Map([['n', 2]]),
      lww: new Map([['w', 2]]),
    }),
  ]) {
    t.deepEqual(ledger.verdict(final).violations, []);
  }
});

test('a lost acknowledged write, a value never written and a counter out of bounds are violations', (t) => {
  const ledger = new ChaosLedger();
  ledger.attemptSet('s', 'a');
  ledger.ackSet('s', 'a');
  ledger.attemptCounter('n', 3);
  ledger.ackCounter('n', 2);
  ledger.attemptLww('w', 5);
  ledger.ackLww('w', 5);
  const { violations } = ledger.verdict(
    finalOf({
      sets: new Map([['s', ['x']]]),
      counters: new Map([['n', 1]]),
      lww: new Map([['w', 4]]),
    }),
  );
  t.is(violations.length, 4, violations.join('\n'));
  t.regex(violations.join('\n'), /s lost 1 acknowledged/);
  t.regex(violations.join('\n'), /s holds x, never written/);
  t.regex(violations.join('\n'), /n is 1, below its 2 acknowledged/);
  t.regex(violations.join('\n'), /w ends at 4, older than its acknowledged 5/);
  const above = ledger.verdict(
    finalOf({
      sets: new Map([['s', ['a']]]),
      counters: new Map([['n', 4]]),
      lww: new Map([['w', 5]]),
    }),
  );
  t.deepEqual(above.violations, ['n is 4, above its 3 attempted']);
});

test('a message received twice or never sent is a violation; one never received is counted', (t) => {
  const ledger = new ChaosLedger();
  ledger.sent('m1', false);
  ledger.sent('m1', true);
  ledger.sent('m2', true);
  ledger.sent('m3', false);
  ledger.received('m1');
  ledger.received('m1');
  ledger.received('m9');
  const verdict = ledger.verdict(finalOf());
  t.is(verdict.violations.length, 2);
  t.regex(
    verdict.violations[0]!,
    /^message m1 received 2 times \(sent at [\d.]+ s to inbox -1, received at/,
  );
  t.is(verdict.violations[1], 'message m9 received, never sent');
  t.is(verdict.messagesAcked, 2);
  t.is(verdict.messagesLost, 1, 'm2: acknowledged, never received');
});

test('an own read older than the last acknowledged write is counted, one never written is wrong', (t) => {
  const ledger = new ChaosLedger();
  ledger.attemptLww('w', 1);
  ledger.ackLww('w', 1);
  ledger.attemptLww('w', 2);
  ledger.ackLww('w', 2);
  ledger.readLww('w', 2);
  ledger.readLww('w', 1);
  ledger.readLww('w', 7);
  const verdict = ledger.verdict(finalOf({ lww: new Map([['w', 2]]) }));
  t.is(verdict.lwwReads, 3);
  t.is(verdict.lwwStale, 1);
  t.deepEqual(verdict.violations, ['w read 7, a value never written']);
});

test('errors are counted by operation and code', (t) => {
  const ledger = new ChaosLedger();
  ledger.failed('set', Object.assign(new Error('x'), { code: 'TIMEOUT' }));
  ledger.failed('set', Object.assign(new Error('y'), { code: 'TIMEOUT' }));
  ledger.failed('call', new RangeError('z'));
  t.deepEqual(Object.fromEntries(ledger.errors), { 'set TIMEOUT': 2, 'call RangeError': 1 });
});

test('a message received twice under one platform id is counted; under two ids it is a violation', (t) => {
  const ledger = new ChaosLedger();
  for (const id of ['same', 'other']) ledger.sent(id, true);
  ledger.received('same', 0, 'p1');
  ledger.received('same', 1, 'p1');
  ledger.received('other', 0, 'p2');
  ledger.received('other', 0, 'p3');
  const verdict = ledger.verdict(finalOf());
  t.is(verdict.messagesTwiceSameId, 1);
  t.is(verdict.violations.length, 1);
  t.regex(verdict.violations[0]!, /^message other received 2 times/);
});
