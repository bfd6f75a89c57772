/**
 * The store shard: writes merge, a refused write changes nothing, and the key and size
 * limits hold.
 */
import test from 'ava';
import { UnavailableError, ValidationError } from '../../src/errors.js';
import {
  counterOf,
  lattice,
  lwwOf,
  mapOf,
  reveal,
  setOf,
} from '../../src/storage/lattices/index.js';
import { KEY_BYTES_MAX, StoreShard } from '../../src/storage/store.js';

test('merge on write: sets union, lww keeps the latest, counters add', (t) => {
  const store = new StoreShard();
  t.deepEqual(store.merge('s', setOf([1, 2])), { value: store.get('s')!, changed: true });
  store.merge('s', setOf([3, 2]));
  t.deepEqual(reveal(store.get('s')!), [1, 2, 3]);
  store.merge('l', lwwOf('new', 5, 'a'));
  const late = store.merge('l', lwwOf('old', 4, 'z'));
  t.false(late.changed);
  t.is(reveal(store.get('l')!), 'new');
  store.write('c', lattice.counter(2).spec, { ts: 1, writer: 'n1' });
  store.write('c', lattice.counter(3).spec, { ts: 2, writer: 'n1' });
  store.merge('c', counterOf({ n2: 10 }));
  t.is(reveal(store.get('c')!), 15);
  t.is(store.size, 3);
});

test('merging what is already there reports no change and keeps the same object', (t) => {
  const store = new StoreShard();
  store.merge('k', setOf([1, { a: 1, b: 2 }]));
  const before = store.get('k')!;
  const again = store.merge('k', setOf([{ b: 2, a: 1 }]));
  t.false(again.changed);
  t.is(again.value, before);
  t.is(store.get('k'), before);
});

test('a type mismatch is refused and leaves the data unchanged', (t) => {
  const store = new StoreShard();
  store.merge('k', setOf([1]));
  store.merge('m', mapOf({ a: counterOf({ w: 1 }), b: setOf(['x']) }));
  const k = store.get('k');
  const m = store.get('m');
  t.throws(() => store.merge('k', counterOf({ w: 1 })), { instanceOf: ValidationError });
  t.throws(() => store.write('k', lattice.counter(1).spec, { ts: 1, writer: 'w' }), {
    instanceOf: ValidationError,
    message: /set.*counter/,
  });
  const nested = lattice.map({ a: lattice.counter(5), b: lattice.max(3) }).spec;
  t.throws(() => store.write('m', nested, { ts: 1, writer: 'w' }), { instanceOf: ValidationError });
  t.is(store.get('k'), k);
  t.is(store.get('m'), m);
  t.deepEqual(reveal(store.get('m')!), { a: 1, b: ['x'] });
  t.is(store.size, 2);
});

test('keys must be non-empty strings of at most 1024 UTF-8 bytes', (t) => {
  const store = new StoreShard();
  const ok = setOf([1]);
  t.throws(() => store.merge('', ok), { instanceOf: ValidationError });
  t.throws(() => store.merge(5 as unknown as string, ok), { instanceOf: ValidationError });
  store.merge('a'.repeat(KEY_BYTES_MAX), ok);
  t.throws(() => store.merge('a'.repeat(KEY_BYTES_MAX + 1), ok), { instanceOf: ValidationError });
  store.merge('€'.repeat(341), ok); // 1023 bytes
  t.throws(() => store.merge('€'.repeat(342), ok), { instanceOf: ValidationError });
  t.throws(() => store.write('😀'.repeat(257), lattice.lww(1).spec, { ts: 1, writer: 'w' }), {
    instanceOf: ValidationError,
  });
  t.is(store.size, 2);
});

test('keysMax refuses new keys with UnavailableError but still merges existing ones', (t) => {
  const store = new StoreShard({ keysMax: 2 });
  store.merge('a', setOf([1]));
  store.merge('b', setOf([1]));
  t.throws(() => store.merge('c', setOf([1])), { instanceOf: UnavailableError });
  t.true(store.merge('a', setOf([2])).changed);
  t.is(store.size, 2);
  t.is(store.get('c'), undefined);
});

test('valueBytesMax refuses an oversized value, new or merged, and keeps the old one', (t) => {
  const store = new StoreShard({ valueBytesMax: 200 });
  t.throws(() => store.merge('big', lwwOf('x'.repeat(500), 1, 'w')), {
    instanceOf: ValidationError,
  });
  t.is(store.get('big'), undefined);
  store.merge('s', setOf(['x'.repeat(100)]));
  const before = store.get('s');
  t.throws(() => store.merge('s', setOf(['y'.repeat(100)])), { instanceOf: ValidationError });
  t.is(store.get('s'), before);
});

test('delete, keys(prefix), entries(prefix) and size', (t) => {
  const store = new StoreShard();
  for (const key of ['__squall/r/1', '__squall/r/2', 'user/a', 'user/b']) {
    store.merge(key, lwwOf(key, 1, 'w'));
  }
  t.deepEqual([...store.keys('__squall/')], ['__squall/r/1', '__squall/r/2']);
  t.deepEqual([...store.keys()].length, 4);
  t.deepEqual(
    [...store.entries('user/')].map(([k, v]) => [k, reveal(v)]),
    [
      ['user/a', 'user/a'],
      ['user/b', 'user/b'],
    ],
  );
  t.true(store.delete('__squall/r/1'));
  t.false(store.delete('__squall/r/1'));
  t.is(store.size, 3);
});
