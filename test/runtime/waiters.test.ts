/**
 * Keyed waiters: `notify` wakes every waiter of that key (and only that key) with the
 * value; a wait that times out resolves undefined and frees its slot; past `waitersMax`
 * a wait is refused with UnavailableError; `clear` wakes everyone with undefined. Real
 * timers, short deadlines.
 */
import test from 'ava';
import { UnavailableError } from '../../src/errors.js';
import { KeyedWaiters } from '../../src/runtime/waiters.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('notify wakes every waiter of the key with the value', async (t) => {
  const waiters = new KeyedWaiters<string>(100);
  const a = [waiters.wait('k', 5_000), waiters.wait('k', 5_000), waiters.wait('k', 5_000)];
  const other = waiters.wait('other', 100);
  t.is(waiters.size, 4);
  t.true(waiters.has('k'));
  waiters.notify('k', 'v1');
  t.deepEqual(await Promise.all(a), ['v1', 'v1', 'v1']);
  t.false(waiters.has('k'));
  t.is(waiters.size, 1, 'only the other key still waits');
  t.is(await other, undefined);
  t.is(waiters.size, 0);
});

test('a notify with nobody waiting is dropped, not kept for a later wait', async (t) => {
  const waiters = new KeyedWaiters<number>(10);
  waiters.notify('k', 1);
  t.false(waiters.has('k'));
  const late = waiters.wait('k', 30);
  t.is(await late, undefined);
});

test('a second notify does not reach waiters already woken', async (t) => {
  const waiters = new KeyedWaiters<number>(10);
  const first = waiters.wait('k', 5_000);
  waiters.notify('k', 1);
  const second = waiters.wait('k', 5_000);
  waiters.notify('k', 2);
  t.is(await first, 1);
  t.is(await second, 2);
  t.is(waiters.size, 0);
});

test('timeouts resolve undefined and free their slot', async (t) => {
  const waiters = new KeyedWaiters<number>(10);
  const started = Date.now();
  const short = waiters.wait('k', 20);
  const long = waiters.wait('k', 5_000);
  t.is(waiters.size, 2);
  t.is(await short, undefined);
  t.true(Date.now() - started >= 15, 'did not resolve before its deadline');
  t.is(waiters.size, 1);
  t.true(waiters.has('k'), 'the key still has a waiter');
  waiters.notify('k', 7);
  t.is(await long, 7);
  t.is(waiters.size, 0);
  t.false(waiters.has('k'));
});

test('many timed-out waits return size to 0 and the key is forgotten', async (t) => {
  const waiters = new KeyedWaiters<number>(1_000);
  const all = Array.from({ length: 500 }, (_, i) => waiters.wait(`k${i % 7}`, 5 + (i % 20)));
  t.is(waiters.size, 500);
  t.deepEqual(new Set(await Promise.all(all)), new Set([undefined]));
  t.is(waiters.size, 0);
  for (let i = 0; i < 7; i++) t.false(waiters.has(`k${i}`));
});

test('the waiters limit rejects with UnavailableError, and frees up again', async (t) => {
  const waiters = new KeyedWaiters<number>(3);
  const held = [waiters.wait('a', 5_000), waiters.wait('b', 5_000), waiters.wait('a', 30)];
  const error = await t.throwsAsync(waiters.wait('c', 5_000), { instanceOf: UnavailableError });
  t.is(error.code, 'UNAVAILABLE');
  t.regex(error.message, /more than 3 waits/);
  t.is(waiters.size, 3, 'the refused wait took no slot');
  t.false(waiters.has('c'));
  t.is(await held[2], undefined); // one times out: room for one more
  const again = waiters.wait('c', 5_000);
  await t.throwsAsync(waiters.wait('d', 5_000), { instanceOf: UnavailableError });
  waiters.notify('a', 1);
  waiters.notify('b', 2);
  waiters.notify('c', 3);
  t.deepEqual(await Promise.all([held[0], held[1], again]), [1, 2, 3]);
  t.is(waiters.size, 0);
});

test('clear() wakes everyone with undefined and empties the table', async (t) => {
  const waiters = new KeyedWaiters<number>(100);
  const all = [waiters.wait('a', 60_000), waiters.wait('a', 60_000), waiters.wait('b', 60_000)];
  waiters.clear();
  t.deepEqual(await Promise.all(all), [undefined, undefined, undefined]);
  t.is(waiters.size, 0);
  t.false(waiters.has('a'));
  t.false(waiters.has('b'));
  // Usable again afterwards, with its full limit.
  const next = waiters.wait('a', 5_000);
  waiters.notify('a', 9);
  t.is(await next, 9);
});

test('cleared and notified waits do not fire their timers later', async (t) => {
  const waiters = new KeyedWaiters<number>(2);
  const a = waiters.wait('a', 20);
  const b = waiters.wait('b', 20);
  waiters.notify('a', 1);
  waiters.clear();
  t.is(await a, 1);
  t.is(await b, undefined);
  const c = waiters.wait('c', 5_000);
  const d = waiters.wait('d', 5_000);
  await sleep(60); // the old timers would have fired by now and must not touch the count
  t.is(waiters.size, 2);
  await t.throwsAsync(waiters.wait('e', 5_000), { instanceOf: UnavailableError });
  waiters.clear();
  t.deepEqual(await Promise.all([c, d]), [undefined, undefined]);
});
