/**
 * Microbenchmark of the cache segment: `get` as an executor sees it (in a worker thread, no
 * message), for a 100 B and a 1 MB value, each as a Uint8Array and as a string, and the
 * supervisor's `put`. Targets from the issue: 100 B get ≤ 2 µs p50 including decode, 1 MB
 * get ≤ 300 µs. Baselines measured in the same run and thread: decoding the same bytes from
 * a private buffer (the codec alone), `getBytes` (copy without decode) and the timer itself,
 * so the cache's own cost can be read off. Every operation is timed on its own with
 * `performance.now()`; the timer line shows what that adds.
 *
 *   node --import tsx bench/cache_segment.ts
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CacheReader, CacheWriter, createCacheBuffer, MISS } from '../src/storage/cache_segment.js';
import { decode, encode } from '../src/storage/codec.js';

const CACHE_BYTES = 64 * 1024 * 1024;
const SMALL_BYTES = 100;
const LARGE_BYTES = 1024 * 1024;

interface Row {
  name: string;
  p50Us: number;
  p99Us: number;
  samples: number;
}

interface Case {
  key: string;
  value: unknown;
  samples: number;
}

function cases(): Case[] {
  const text = (length: number) => 'squall-'.repeat(Math.ceil(length / 7)).slice(0, length);
  const bytes = (length: number) => new Uint8Array(length).map((_, i) => (i * 31) & 255);
  return [
    { key: 'small-bytes', value: bytes(SMALL_BYTES), samples: 200_000 },
    { key: 'small-string', value: text(SMALL_BYTES), samples: 200_000 },
    { key: 'large-bytes', value: bytes(LARGE_BYTES), samples: 2_000 },
    { key: 'large-string', value: text(LARGE_BYTES), samples: 1_000 },
  ];
}

/** Times `op` `samples` times after a warm-up of a tenth as many; returns percentiles. */
function measure(name: string, samples: number, op: () => unknown): Row {
  const warmup = Math.max(10, Math.floor(samples / 10));
  for (let i = 0; i < warmup; i++) op();
  const times = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    op();
    times[i] = performance.now() - start;
  }
  times.sort();
  const at = (q: number) => (times[Math.min(samples - 1, Math.floor(q * samples))] ?? 0) * 1000;
  return { name, p50Us: at(0.5), p99Us: at(0.99), samples };
}

function readerRows(buffer: SharedArrayBuffer): Row[] {
  const reader = new CacheReader(buffer, 1);
  const rows: Row[] = [measure('timer only (performance.now pair)', 200_000, () => 0)];
  for (const { key, value, samples } of cases()) {
    const encoded = Uint8Array.from(encode(value));
    if (reader.get(key) === MISS) throw new Error(`${key} is not cached`);
    rows.push(measure(`get ${key}`, samples, () => reader.get(key)));
    rows.push(measure(`  getBytes ${key} (copy, no decode)`, samples, () => reader.getBytes(key)));
    rows.push(measure(`  baseline: decode ${key} (private)`, samples, () => decode(encoded)));
  }
  rows.push(measure('get missing key', 200_000, () => reader.get('absent')));
  return rows;
}

function writerRows(): Row[] {
  const rows: Row[] = [];
  const small = encode(new Uint8Array(SMALL_BYTES));
  const large = encode(new Uint8Array(LARGE_BYTES));
  {
    const writer = new CacheWriter(createCacheBuffer({ bytes: CACHE_BYTES }));
    rows.push(measure('put 100 B, same key', 200_000, () => writer.put('k', small)));
  }
  {
    // 1M distinct keys through a cache that holds a fraction of them: steady eviction.
    const writer = new CacheWriter(createCacheBuffer({ bytes: CACHE_BYTES }));
    let n = 0;
    rows.push(
      measure('put 100 B, new keys (evicting)', 500_000, () => writer.put(`k${n++}`, small)),
    );
  }
  {
    const writer = new CacheWriter(createCacheBuffer({ bytes: CACHE_BYTES }));
    let n = 0;
    rows.push(
      measure('put 1 MB, 256 keys (evicting)', 2_000, () => writer.put(`k${n++ % 256}`, large)),
    );
  }
  rows.push(
    measure('  baseline: encode 100 B', 200_000, () => encode(new Uint8Array(SMALL_BYTES))),
  );
  return rows;
}

function print(title: string, rows: Row[]): void {
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(
    `${'operation'.padEnd(48)}${'p50 µs'.padStart(10)}${'p99 µs'.padStart(10)}\n`,
  );
  for (const row of rows) {
    const p50 = row.p50Us.toFixed(row.p50Us < 10 ? 2 : 1).padStart(10);
    const p99 = row.p99Us.toFixed(row.p99Us < 10 ? 2 : 1).padStart(10);
    process.stdout.write(`${row.name.padEnd(48)}${p50}${p99}\n`);
  }
}

function runReaderWorker(buffer: SharedArrayBuffer): Promise<Row[]> {
  // On Node 20, tsx's hooks do not reach workers: the worker registers them itself.
  const source = [
    `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};`,
    'register();',
    `await import(${JSON.stringify(import.meta.url)});`,
  ].join('\n');
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), {
    workerData: { buffer },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (rows: Row[]) => {
      resolve(rows);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

async function main(): Promise<void> {
  const buffer = createCacheBuffer({ bytes: CACHE_BYTES });
  const writer = new CacheWriter(buffer);
  for (const { key, value } of cases()) {
    if (!writer.put(key, encode(value))) throw new Error(`${key} bypassed the cache`);
  }
  process.stdout.write(`cache segment, ${CACHE_BYTES / 2 ** 20} MB, node ${process.version}\n`);
  print('reader (worker thread)', await runReaderWorker(buffer));
  print('writer (main thread)', writerRows());
}

if (isMainThread) {
  await main();
} else {
  const { buffer } = workerData as { buffer: SharedArrayBuffer };
  parentPort?.postMessage(readerRows(buffer));
}
