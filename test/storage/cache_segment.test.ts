/**
 * Unit and property tests of the cache segment in one thread: the writer and readers on the
 * same buffer. With no concurrency, a reader must see exactly what the writer holds (no
 * false misses), so these tests check the index, the ring and the CLOCK policy strictly.
 * Concurrency (torn reads) is in cache_torn_read.test.ts.
 */
import test from 'ava';
import fc from 'fast-check';
import { ValidationError } from '../../src/errors.js';
import {
  CacheReader,
  CacheWriter,
  createCacheBuffer,
  MISS,
} from '../../src/storage/cache_segment.js';
import { decode, encode } from '../../src/storage/codec.js';
import { hashKey } from '../../src/storage/key_hash.js';

const SMALL_CACHE_BYTES = 16 * 1024;

function segment(bytes: number = SMALL_CACHE_BYTES) {
  const buffer = createCacheBuffer({ bytes });
  return { buffer, writer: new CacheWriter(buffer), reader: new CacheReader(buffer, 0) };
}

/** Checks that the reader sees exactly the writer's content and the budget holds. */
function assertConsistent(
  writer: CacheWriter,
  reader: CacheReader,
  model: Map<string, Uint8Array>,
): string | undefined {
  const stats = writer.stats();
  if (stats.bytesUsed > stats.bytesMax) return `bytesUsed ${stats.bytesUsed} > ${stats.bytesMax}`;
  const held = [...writer.keys()];
  if (held.length !== stats.entries) return `keys() has ${held.length}, stats ${stats.entries}`;
  for (const [key, bytes] of model) {
    const got = reader.getBytes(key);
    if (writer.has(key) !== (got !== undefined)) return `has(${key}) disagrees with the reader`;
    if (got !== undefined && Buffer.compare(got, bytes) !== 0) return `wrong bytes for ${key}`;
  }
  for (const key of held) if (!model.has(key)) return `writer holds unknown key ${key}`;
  return undefined;
}

test('put, get, overwrite and delete', (t) => {
  const { writer, reader } = segment();
  t.is(reader.get('a'), MISS);
  t.true(writer.put('a', encode({ n: 1, list: [1, 2, 3] })));
  t.deepEqual(reader.get('a'), { n: 1, list: [1, 2, 3] });
  t.true(writer.put('a', encode('second')));
  t.is(reader.get('a'), 'second');
  t.true(writer.has('a'));
  t.true(writer.delete('a'));
  t.false(writer.delete('a'));
  t.false(writer.has('a'));
  t.is(reader.get('a'), MISS);
  t.is(reader.getBytes('a'), undefined);
  t.deepEqual(writer.stats().entries, 0);
  t.is(writer.stats().bytesUsed, 0);
});

test('values never alias the shared buffer', (t) => {
  const { writer, reader } = segment();
  const bytes = new Uint8Array(300).map((_, i) => i & 255);
  writer.put('bin', encode(bytes));
  const value = reader.get('bin');
  t.true(value instanceof Uint8Array);
  t.false((value as Uint8Array).buffer instanceof SharedArrayBuffer);
  t.deepEqual(value, bytes);
  const raw = reader.getBytes('bin');
  t.truthy(raw);
  t.false(raw?.buffer instanceof SharedArrayBuffer);
  t.deepEqual(raw, Uint8Array.from(encode(bytes)));
  t.deepEqual(decode(raw ?? new Uint8Array()), bytes);
});

test('decoded values do not alias the reader scratch buffer either', (t) => {
  const { writer, reader } = segment();
  const make = (fill: number) => ({
    bytes: new Uint8Array(300).fill(fill),
    floats: new Float64Array(20).fill(fill),
    words: new Uint16Array(33).fill(fill),
  });
  writer.put('a', encode(make(1)));
  writer.put('b', encode(make(2)));
  const first = reader.get('a');
  const second = reader.get('b');
  t.deepEqual(second, make(2));
  t.deepEqual(first, make(1), 'reading b overwrote the scratch under a');
});

test('keys with unusual code units and the empty key round-trip', (t) => {
  const { writer, reader } = segment();
  const keys = ['', 'é', '日本語', '\u{1F600}', 'a\u0000b', 'x'.repeat(200)];
  for (const [i, key] of keys.entries()) writer.put(key, encode(i));
  for (const [i, key] of keys.entries()) t.is(reader.get(key), i, JSON.stringify(key));
  t.is(reader.get('a\u0000c'), MISS);
  t.deepEqual(new Set(writer.keys()), new Set(keys));
});

test('keys with the same 32-bit hash are told apart by comparing the key', (t) => {
  const seen = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; pair === undefined && i < 2_000_000; i++) {
    const key = `k${i}`;
    const other = seen.get(hashKey(key));
    if (other !== undefined) pair = [other, key];
    else seen.set(hashKey(key), key);
  }
  if (pair === undefined) return t.fail('no hash collision found');
  const [first, second] = pair;
  t.log('colliding keys', first, second);
  const { writer, reader } = segment();
  writer.put(first, encode('first'));
  t.is(reader.get(second), MISS);
  writer.put(second, encode('second'));
  t.is(reader.get(first), 'first');
  t.is(reader.get(second), 'second');
  writer.delete(first);
  t.is(reader.get(first), MISS);
  t.is(reader.get(second), 'second');
});

test('many keys sharing probe chains stay readable through deletes (backward shift)', (t) => {
  const { writer, reader } = segment(64 * 1024);
  const model = new Map<string, Uint8Array>();
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 200; i++) {
      const key = `key-${(i * 7 + round) % 300}`;
      if ((i + round) % 3 === 0) {
        writer.delete(key);
        model.delete(key);
      } else {
        const bytes = encode({ round, i });
        writer.put(key, bytes);
        model.set(key, bytes);
      }
    }
    const failure = assertConsistent(writer, reader, model);
    if (failure !== undefined) return t.fail(`round ${round}: ${failure}`);
  }
  t.true(writer.stats().entries > 50);
});

test('eviction keeps bytesUsed within the budget and keys() matches', (t) => {
  const { writer, reader } = segment();
  const model = new Map<string, Uint8Array>();
  const evicted: string[] = [];
  writer.onEvict = (key) => evicted.push(key);
  for (let i = 0; i < 3000; i++) {
    const bytes = encode(new Uint8Array(1 + ((i * 131) % 1500)).fill(i & 255));
    writer.put(`key-${i % 97}`, bytes);
    model.set(`key-${i % 97}`, bytes);
    const failure = assertConsistent(writer, reader, model);
    if (failure !== undefined) return t.fail(`put ${i}: ${failure}`);
  }
  const stats = writer.stats();
  t.true(stats.evictions > 100);
  t.is(evicted.length, stats.evictions);
  t.true(stats.bytesUsed > stats.bytesMax / 2, 'the ring keeps the arena reasonably full');
});

test('onEvict is not called for a key whose own old copy the ring overwrites', (t) => {
  const { writer, reader } = segment();
  const evicted: string[] = [];
  writer.onEvict = (key) => evicted.push(key);
  for (let i = 0; i < 500; i++) writer.put('only', encode(new Uint8Array(1000).fill(i & 255)));
  t.deepEqual(evicted, []);
  t.deepEqual(reader.get('only'), new Uint8Array(1000).fill(499 & 255));
  t.is(writer.stats().evictions, 0);
});

test('a value too large bypasses the cache and removes the older copy', (t) => {
  const { writer, reader } = segment();
  writer.put('big', encode('small first'));
  const tooLarge = encode(new Uint8Array(writer.entryBytesMax));
  t.false(writer.put('big', tooLarge));
  t.is(reader.get('big'), MISS);
  t.false(writer.has('big'));
  const stats = writer.stats();
  t.is(stats.bypasses, 1);
  t.is(stats.entries, 0);
  const fits = Uint8Array.from(encode(new Uint8Array(writer.entryBytesMax - 16)));
  t.true(writer.put('big', fits));
  t.deepEqual(reader.getBytes('big'), fits);
});

test('second chance keeps a hot key through many passes of the ring', (t) => {
  const { writer, reader } = segment();
  writer.put('hot', encode('hot value'));
  writer.put('cold', encode('cold value'));
  for (let i = 0; i < 2000; i++) {
    writer.put(`filler-${i}`, encode(new Uint8Array(400).fill(i & 255)));
    if (i % 10 === 0) t.is(reader.get('hot'), 'hot value', `hot key lost at put ${i}`);
  }
  t.is(reader.get('hot'), 'hot value');
  t.is(reader.get('cold'), MISS);
  t.true(writer.stats().evictions > 1000);
});

test('the index bounds the number of entries and evicts by the same policy', (t) => {
  const { writer, reader } = segment();
  const model = new Map<string, Uint8Array>();
  for (let i = 0; i < 500; i++) {
    const bytes = encode(i);
    writer.put(`n${i}`, bytes);
    model.set(`n${i}`, bytes);
  }
  const stats = writer.stats();
  t.true(stats.entries < 64, `entries ${stats.entries}`);
  t.true(stats.evictions >= 500 - 64);
  t.is(assertConsistent(writer, reader, model), undefined);
});

test('hits and misses are counted per reader and summed', (t) => {
  const { buffer, writer, reader } = segment();
  const other = new CacheReader(buffer, 5);
  writer.put('a', encode(1));
  reader.get('a');
  reader.get('a');
  reader.get('zz');
  other.getBytes('a');
  other.get('zz');
  const stats = writer.stats();
  t.is(stats.hits, 3);
  t.is(stats.misses, 2);
});

test('options and buffers are validated', (t) => {
  t.throws(() => createCacheBuffer({ bytes: 1024 }), { instanceOf: ValidationError });
  t.throws(() => createCacheBuffer({ bytes: 1.5e6 + 0.5 }), { instanceOf: ValidationError });
  t.throws(() => createCacheBuffer({ bytes: 2 ** 32 }), { instanceOf: ValidationError });
  t.throws(() => createCacheBuffer({ bytes: 65536, readersMax: 0 }), {
    instanceOf: ValidationError,
  });
  const buffer = createCacheBuffer({ bytes: 65536, readersMax: 2 });
  t.throws(() => new CacheReader(buffer, 2), { instanceOf: ValidationError });
  t.throws(() => new CacheReader(buffer, -1), { instanceOf: ValidationError });
  t.throws(() => new CacheReader(new SharedArrayBuffer(65536), 0), { instanceOf: ValidationError });
  new CacheWriter(buffer);
  t.throws(() => new CacheWriter(buffer), { instanceOf: ValidationError });
  const writer = new CacheWriter(createCacheBuffer({ bytes: 65536 }));
  t.throws(() => writer.put('k', new Uint8Array(0)), { instanceOf: ValidationError });
});

test('property: every get returns the current value or MISS, never a wrong one', (t) => {
  const seed = process.env.SQUALL_SEED ? Number(process.env.SQUALL_SEED) : Date.now() | 0;
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  const key = fc.constantFrom(...Array.from({ length: 40 }, (_, i) => `key-${i}`));
  const size = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 2200 }));
  const op = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('put' as const), key, size }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), key }) },
  );
  fc.assert(
    fc.property(fc.array(op, { minLength: 50, maxLength: 400, size: 'max' }), (ops) => {
      const { writer, reader } = segment();
      const model = new Map<string, Uint8Array>();
      for (const [step, action] of ops.entries()) {
        if (action.kind === 'put') {
          const bytes = encode({ step, pad: new Uint8Array(action.size).fill(step & 255) });
          const stored = writer.put(action.key, bytes);
          model.set(action.key, bytes);
          if (!stored && reader.get(action.key) !== MISS) throw new Error('bypassed yet cached');
        } else if (action.kind === 'delete') {
          writer.delete(action.key);
          model.delete(action.key);
        } else {
          const got = reader.get(action.key);
          const expected = model.get(action.key);
          if (got === MISS) continue;
          if (expected === undefined) throw new Error(`${action.key}: deleted key was read`);
          const wanted = decode(expected) as { step: number };
          if ((got as { step: number }).step !== wanted.step) throw new Error('stale value');
        }
        const failure = assertConsistent(writer, reader, model);
        if (failure !== undefined) throw new Error(`step ${step}: ${failure}`);
      }
    }),
    { seed, numRuns: 150 },
  );
  t.pass();
});
