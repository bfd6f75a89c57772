/**
 * The torn-read test the cache segment's issue requires: the main thread (the only writer)
 * keeps rewriting keys with small and ~64 KB self-checking values under constant eviction
 * pressure, deleting now and then, while two reader worker threads read continuously and
 * verify every hit. A single wrong, mixed or stale-going-backwards value fails the test.
 * The writer's choices come from a seeded generator (SQUALL_SEED replays them; the threads'
 * interleaving cannot be replayed, which is why the test runs for seconds, not milliseconds).
 */
import { Worker } from 'node:worker_threads';
import test from 'ava';
import { CacheWriter, createCacheBuffer } from '../../src/storage/cache_segment.js';
import { makeValue } from './fixtures/torn_read_value.js';
import type { ReaderInput, ReaderReport } from './fixtures/torn_read_worker.js';

const WRITE_MS = Number(process.env.SQUALL_TORN_READ_MS ?? 3000);
const CACHE_BYTES = 1024 * 1024;
const READERS = 2;
const MIXED_KEYS = Array.from({ length: 32 }, (_, i) => `mixed-${i}`);
const TINY_KEYS = Array.from({ length: 2500 }, (_, i) => `tiny-${i}`);
/** Rarely written, often read: they reach the ring's front alive and get moved (CLOCK). */
const STABLE_KEYS = Array.from({ length: 4 }, (_, i) => `stable-${i}`);

function startReader(
  input: ReaderInput,
): Promise<{ ready: Promise<void>; done: Promise<ReaderReport> }> {
  const worker = new Worker(new URL('./fixtures/torn_read_entry.mjs', import.meta.url), {
    workerData: input,
  });
  return new Promise((resolveStart, rejectStart) => {
    let markReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    const done = new Promise<ReaderReport>((resolve, reject) => {
      worker.on('message', (message: unknown) => {
        if (message === 'ready') markReady();
        else resolve(message as ReaderReport);
      });
      worker.on('error', (error) => {
        reject(error);
        rejectStart(error);
      });
    });
    resolveStart({ ready, done });
  });
}

/** xorshift32: the writer's reproducible choices. */
function random(seed: number): () => number {
  let state = seed || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function writeFor(writer: CacheWriter, seed: number, durationMs: number): number {
  const next = random(seed);
  const gens = new Map<string, number>();
  const deadline = Date.now() + durationMs;
  let writes = 0;
  while (Date.now() < deadline) {
    for (let i = 0; i < 64; i++, writes++) {
      const draw = next();
      const keys = draw < 0.01 ? STABLE_KEYS : draw < 0.6 ? MIXED_KEYS : TINY_KEYS;
      const key = keys[Math.floor(next() * keys.length)] ?? '';
      const gen = (gens.get(key) ?? 0) + 1;
      gens.set(key, gen);
      if (next() < 0.02) writer.delete(key);
      else if (keys === TINY_KEYS) writer.put(key, makeValue(key, gen, 8));
      else if (keys === STABLE_KEYS) writer.put(key, makeValue(key, gen, 40_000 + gen));
      else writer.put(key, makeValue(key, gen));
    }
  }
  return writes;
}

test('readers in other threads never see a torn, wrong or older value', async (t) => {
  const seed = process.env.SQUALL_SEED ? Number(process.env.SQUALL_SEED) : Date.now() | 0;
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  const buffer = createCacheBuffer({ bytes: CACHE_BYTES });
  const writer = new CacheWriter(buffer);
  const control = new SharedArrayBuffer(8);
  const flags = new Int32Array(control);
  const keys = [...MIXED_KEYS, ...MIXED_KEYS, ...STABLE_KEYS, ...TINY_KEYS.slice(0, 16)];
  const readers = await Promise.all(
    Array.from({ length: READERS }, (_, readerIndex) =>
      startReader({ buffer, control, readerIndex, keys }),
    ),
  );
  await Promise.all(readers.map((reader) => reader.ready));
  for (const key of [...MIXED_KEYS, ...TINY_KEYS]) writer.put(key, makeValue(key, 0, 8));
  for (const key of STABLE_KEYS) writer.put(key, makeValue(key, 0, 40_000));
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  const writes = writeFor(writer, seed, WRITE_MS);
  Atomics.store(flags, 0, 1);
  const reports = await Promise.all(readers.map((reader) => reader.done));
  const stats = writer.stats();
  t.log('writes', writes, 'stats', JSON.stringify(stats));
  for (const [i, report] of reports.entries()) {
    t.log(`reader ${i}`, JSON.stringify(report));
  }
  const total = (pick: (report: ReaderReport) => number) =>
    reports.reduce((sum, report) => sum + pick(report), 0);
  t.is(
    total((r) => r.failures),
    0,
    reports.flatMap((r) => r.messages).join('\n'),
  );
  t.true(total((r) => r.hits) > 10_000, 'enough hits to mean something');
  t.true(total((r) => r.largeHits) > 1000, 'large values were read too');
  t.true(stats.evictions > 1000, 'the writer was under eviction pressure');
  t.true(stats.bytesUsed <= stats.bytesMax);
  t.is(
    stats.hits + stats.misses,
    total((r) => r.reads),
  );
});
