import test from 'ava';
import { ResultStore } from '../../src/runtime/result_store.js';

test('a result key says when its call settles, so an expired result is told from a late one', (t) => {
  let nowMs = 1_000_000;
  const results = new ResultStore(5000, () => nowMs);
  const key = results.newKey('node-a', nowMs + 2000);
  t.regex(key, /^__squall\/result\/node-a\/[0-9a-z]+\.[A-Za-z0-9_-]{16}$/);
  t.false(results.expiredKey(key));
  nowMs += 2000 + 5000;
  t.false(results.expiredKey(key), 'kept for the whole ttl after the call settled');
  nowMs += 1;
  t.true(results.expiredKey(key));
  // Keys of any other shape are never taken for expired results.
  for (const other of [
    'user/key',
    '__squall/result/node-a/abc',
    '__squall/result/node-a/.x',
    '__squall/result/n/zzzzzzzzzzzzzzz.x',
  ])
    t.false(results.expiredKey(other), other);
});
