/**
 * The durable log on real files under os.tmpdir(): what is appended comes back after a
 * reopen under every fsync policy; a torn tail is dropped and the file truncated; damage in
 * the middle makes open refuse with CorruptLogError naming the file and the offset, leaving
 * the data dir byte-for-byte untouched; snapshots compact the logs; every file state a crash
 * can leave during compaction recovers everything acknowledged; the identity persists;
 * appends in one tick share one write() and one fsync; the pending bytes stay bounded; a
 * failed write fails the log. The last tests measure append throughput per policy.
 */
import { mkdtemp, open, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import test from 'ava';
import { UnavailableError, ValidationError } from '../../src/errors.js';
import {
  CorruptLogError,
  DurableLog,
  type DurableLogOptions,
  type FsyncPolicy,
  loadIdentity,
  type OpenLogFile,
} from '../../src/storage/durable_log.js';
import {
  canonicalKey,
  conflictOrder,
  counterOf,
  type Lattice,
  lwwOf,
  setOf,
  toWire,
} from '../../src/storage/lattices/index.js';
import { decodeLog } from '../../src/storage/log_format.js';
import { StoreShard } from '../../src/storage/store.js';

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'squall-log-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Write number `i` to `key`: one of three lattice kinds, fixed per key. */
function valueFor(key: string, i: number, writer = 'w'): Lattice {
  let kind = 0;
  for (const char of key) kind += char.charCodeAt(0);
  switch (kind % 3) {
    case 0:
      return lwwOf(`value ${i}`, i, writer);
    case 1:
      return setOf([i, `s${i % 7}`]);
    default:
      return counterOf({ [writer]: i });
  }
}

function canonical(entries: Iterable<readonly [string, Lattice]>): [string, string][] {
  return [...entries]
    .map(([k, v]): [string, string] => [k, canonicalKey(toWire(v))])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** The store owner's part: merge first, then log the merged value. */
async function write(store: StoreShard, log: DurableLog, key: string, value: Lattice) {
  const { value: merged } = store.merge(key, value);
  await log.append(key, merged);
}

/** Every file in the dir with its bytes (base64), to prove a refused open changed nothing. */
async function dirState(dir: string): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    state[name] = (await readFile(join(dir, name))).toString('base64');
  }
  return state;
}

interface Counts {
  writes: number;
  datasyncs: number;
  writeBytes: number[];
}

/** A file opener that counts the log's write() and fdatasync() calls; `failWrite` injects EIO. */
function countingOpener(counts: Counts, failWrite?: (n: number) => boolean): OpenLogFile {
  return async (path, flags) => {
    const handle = await open(path, flags);
    return {
      write: async (bytes) => {
        counts.writes += 1;
        counts.writeBytes.push(bytes.length);
        if (failWrite?.(counts.writes)) {
          throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
        }
        return handle.write(bytes);
      },
      datasync: () => {
        counts.datasyncs += 1;
        return handle.datasync();
      },
      truncate: (lengthBytes) => handle.truncate(lengthBytes),
      close: () => handle.close(),
    };
  };
}

const newCounts = (): Counts => ({ writes: 0, datasyncs: 0, writeBytes: [] });

// ---------------------------------------------------------------------------------------

test('a key whose kind the node switched (crossed first writes) replays, not refuses to start', async (t) => {
  const dir = await tempDir(t);
  const first = await DurableLog.open({ dir });
  const set = setOf(['a']);
  const lww = lwwOf('b', 5, 'w');
  const [lost, kept] = conflictOrder(set, lww) > 0 ? [lww, set] : [set, lww];
  await first.log.append('k', lost);
  await first.log.append('k', kept);
  await first.log.close();
  const again = await DurableLog.open({ dir });
  t.is(again.entries.get('k')?.kind, kept.kind);
  await again.log.close();
});

test('N keys written, closed and reopened come back the same', async (t) => {
  const dir = await tempDir(t);
  const first = await DurableLog.open({ dir });
  t.deepEqual(first.recovered, {
    snapshotEntries: 0,
    records: 0,
    droppedTornBytes: 0,
    generation: 1,
  });
  t.is(first.entries.size, 0);
  const store = new StoreShard();
  for (let i = 0; i < 600; i++)
    await write(store, first.log, `key-${i % 250}`, valueFor(`key-${i % 250}`, i));
  await first.log.close();
  const again = await DurableLog.open({ dir });
  t.deepEqual(canonical(again.entries), canonical(store.entries()));
  t.is(again.recovered.records, 600);
  t.is(again.log.logBytes, (await readFile(join(dir, 'log-1.bin'))).length);
  await again.log.close();
  t.deepEqual((await readdir(dir)).sort(), ['log-1.bin']);
});

for (const policy of ['always', 'interval', 'never'] as const) {
  test(`fsync ${policy}: concurrent and sequential appends all recover after close`, async (t) => {
    const dir = await tempDir(t);
    const { log } = await DurableLog.open({ dir, fsync: policy, fsyncIntervalMs: 20 });
    const store = new StoreShard();
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        write(store, log, `c${i}`, valueFor(`c${i}`, i, policy)),
      ),
    );
    for (let i = 0; i < 30; i++)
      await write(store, log, `s${i % 10}`, valueFor(`s${i % 10}`, i, policy));
    await log.close();
    await t.throwsAsync(log.append('late', valueFor('late', 1)), { instanceOf: UnavailableError });
    await log.close(); // closing twice is harmless
    const again = await DurableLog.open({ dir, fsync: policy });
    t.deepEqual(canonical(again.entries), canonical(store.entries()));
    await again.log.close();
  });
}

test('fsync interval: a timer fsyncs written appends; never: only close does', async (t) => {
  for (const policy of ['interval', 'never'] as FsyncPolicy[]) {
    const dir = await tempDir(t);
    const counts = newCounts();
    const openFile = countingOpener(counts);
    const { log } = await DurableLog.open({ dir, fsync: policy, fsyncIntervalMs: 25, openFile });
    await log.append('k', valueFor('k', 1));
    t.is(counts.datasyncs, 0, `${policy}: an append resolves before any fsync`);
    // Several intervals pass (polled, so a busy machine cannot make this flaky).
    for (let waitedMs = 0; waitedMs < 2000 && counts.datasyncs === 0; waitedMs += 25) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      if (policy === 'never' && waitedMs >= 200) break;
    }
    t.is(counts.datasyncs, policy === 'interval' ? 1 : 0, policy);
    await log.close();
    t.is(counts.datasyncs, 1, `${policy}: after close, everything is fsynced once`);
  }
});

test('options are checked', async (t) => {
  const dir = await tempDir(t);
  const bad: DurableLogOptions[] = [
    { dir: '' },
    { dir, fsync: 'sometimes' as FsyncPolicy },
    { dir, fsyncIntervalMs: 0 },
    { dir, snapshotLogBytes: Number.NaN },
    { dir, pendingBytesMax: -1 },
  ];
  for (const options of bad) {
    await t.throwsAsync(DurableLog.open(options), { instanceOf: ValidationError });
  }
  const { log } = await DurableLog.open({ dir });
  await t.throwsAsync(log.append('', valueFor('', 0)), { instanceOf: ValidationError });
  await log.close();
});

test('a torn tail is dropped, the file truncated, and later appends continue', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'log-1.bin');
  const { log } = await DurableLog.open({ dir });
  for (let i = 0; i < 10; i++) await log.append(`k${i}`, valueFor(`k${i}`, i));
  await log.close();
  const whole = await readFile(file);
  const lastOffset = decodeLog(whole).records.at(-1)?.offset ?? -1;
  await truncate(file, whole.length - 3);
  const reopened = await DurableLog.open({ dir });
  t.is(reopened.entries.size, 9);
  t.false(reopened.entries.has('k9'));
  t.is(reopened.recovered.droppedTornBytes, whole.length - 3 - lastOffset);
  t.is((await readFile(file)).length, lastOffset);
  await reopened.log.append('k9', valueFor('k9', 9));
  await reopened.log.append('k10', valueFor('k10', 10));
  await reopened.log.close();
  const last = await DurableLog.open({ dir });
  t.is(last.entries.size, 11);
  t.deepEqual(last.recovered.droppedTornBytes, 0);
  await last.log.close();
});

test('damage in the middle refuses to start, names file and offset, and changes nothing', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'log-1.bin');
  const { log } = await DurableLog.open({ dir });
  for (let i = 0; i < 10; i++) await log.append(`k${i}`, valueFor(`k${i}`, i));
  await log.close();
  const bytes = await readFile(file);
  const target = decodeLog(bytes).records[4]?.offset ?? -1;
  bytes[target + 12] = (bytes[target + 12] ?? 0) ^ 0x40;
  await writeFile(file, bytes);
  const before = await dirState(dir);
  const error = await t.throwsAsync(DurableLog.open({ dir }), { instanceOf: CorruptLogError });
  t.is(error?.file, file);
  t.is(error?.offset, target);
  t.regex(error?.message ?? '', new RegExp(`byte offset ${target}\\b`));
  t.regex(error?.message ?? '', new RegExp(`truncate -s ${target} '${file}'`));
  t.regex(error?.message ?? '', /refuses to start/);
  t.deepEqual(await dirState(dir), before);
  t.log(error?.message);
  // The operator's way out that the message offers: truncate at the offset.
  await truncate(file, target);
  const salvaged = await DurableLog.open({ dir });
  t.deepEqual([...salvaged.entries.keys()].sort(), ['k0', 'k1', 'k2', 'k3']);
  await salvaged.log.close();
});

test('a damaged snapshot, a missing generation or a torn older generation refuse to start', async (t) => {
  const dir = await tempDir(t);
  const store = new StoreShard();
  let { log } = await DurableLog.open({ dir });
  for (let i = 0; i < 20; i++) await write(store, log, `k${i}`, valueFor(`k${i}`, i));
  await log.snapshot(store.entries());
  await log.append('after', valueFor('after', 3));
  await log.close();
  const good = await dirState(dir);
  const snapshotFile = join(dir, 'snapshot.bin');
  const snapshot = await readFile(snapshotFile);
  snapshot[snapshot.length - 5] = (snapshot[snapshot.length - 5] ?? 0) ^ 1;
  await writeFile(snapshotFile, snapshot);
  const damaged = await dirState(dir);
  const error = await t.throwsAsync(DurableLog.open({ dir }), { instanceOf: CorruptLogError });
  t.is(error?.file, snapshotFile);
  t.regex(error?.message ?? '', /snapshot is damaged.*Do not delete the snapshot alone/);
  t.deepEqual(await dirState(dir), damaged);
  // The snapshot's log generation is gone.
  await writeFile(snapshotFile, Buffer.from(good['snapshot.bin'] ?? '', 'base64'));
  await rm(join(dir, 'log-2.bin'));
  const missing = await t.throwsAsync(DurableLog.open({ dir }), { instanceOf: CorruptLogError });
  t.is(missing?.file, join(dir, 'log-2.bin'));
  // The snapshot is gone, and the log it replaced: the snapshot is named as what is missing.
  await writeFile(join(dir, 'log-2.bin'), Buffer.from(good['log-2.bin'] ?? '', 'base64'));
  await rm(snapshotFile);
  const noSnapshot = await t.throwsAsync(DurableLog.open({ dir }), { instanceOf: CorruptLogError });
  t.regex(
    noSnapshot?.message ?? '',
    /snapshot\.bin is missing \(the logs here begin at generation 2/,
  );
  // An older generation that ends torn although a newer one follows.
  const other = await tempDir(t);
  ({ log } = await DurableLog.open({ dir: other }));
  await log.append('a', valueFor('a', 1));
  await log.append('b', valueFor('b', 2));
  await log.close();
  await writeFile(join(other, 'log-2.bin'), new Uint8Array(0));
  await truncate(join(other, 'log-1.bin'), 20);
  const older = await t.throwsAsync(DurableLog.open({ dir: other }), {
    instanceOf: CorruptLogError,
  });
  t.is(older?.file, join(other, 'log-1.bin'));
});

test('a dir a node ran on before, with its only log gone, refuses to start; a new dir opens', async (t) => {
  const dir = await tempDir(t);
  const { log } = await DurableLog.open({ dir });
  await log.append('precious', valueFor('precious', 1));
  await log.close();
  await rm(join(dir, 'log-1.bin'));
  const missing = await t.throwsAsync(DurableLog.open({ dir, ranBefore: true }), {
    instanceOf: CorruptLogError,
  });
  t.is(missing?.file, join(dir, 'log-1.bin'));
  t.regex(missing?.message ?? '', /node\.json says a node ran on this dir before/);
  t.deepEqual(await readdir(dir), [], 'nothing was created');
  const fresh = await DurableLog.open({ dir, ranBefore: false });
  await fresh.log.close();
  t.pass();
});

test('snapshot compacts: new generation, old log deleted, reopen gives the same entries', async (t) => {
  const dir = await tempDir(t);
  const store = new StoreShard();
  const { log } = await DurableLog.open({ dir, snapshotLogBytes: 4096 });
  let snapshots = 0;
  for (let i = 0; i < 2000; i++) {
    await write(store, log, `key-${i % 97}`, valueFor(`key-${i % 97}`, i, `w${i % 3}`));
    if (log.snapshotDue) {
      await log.snapshot(store.entries());
      snapshots += 1;
      t.true(log.logBytes < 4096);
    }
  }
  t.true(snapshots > 5, `${snapshots} snapshots`);
  t.is(log.generation, snapshots + 1);
  await log.close();
  t.deepEqual((await readdir(dir)).sort(), [`log-${snapshots + 1}.bin`, 'snapshot.bin']);
  const again = await DurableLog.open({ dir });
  t.deepEqual(canonical(again.entries), canonical(store.entries()));
  t.is(again.recovered.snapshotEntries, 97);
  t.is(again.recovered.generation, snapshots + 1);
  await again.log.close();
});

test('the logs are compacted once they hold as much as the last snapshot, within the floor and the cap', async (t) => {
  const dir = await tempDir(t);
  const store = new StoreShard();
  const floor = 2048;
  const cap = 1024 * 1024;
  const opened = await DurableLog.open({ dir, snapshotLogBytes: cap, snapshotLogBytesMin: floor });
  const { log } = opened;
  // A small store: compacted every `floor` bytes of log, far below the cap.
  for (let i = 0; i < 400 && !log.snapshotDue; i++)
    await write(store, log, `k${i % 5}`, lwwOf(`v${i}`, i, 'w'));
  t.true(log.snapshotDue);
  t.true(log.logBytes >= floor && log.logBytes < floor + 200, `${log.logBytes} bytes of log`);
  await log.snapshot(store.entries());
  t.false(log.snapshotDue);
  // A larger store: the next compaction waits until the logs hold as much as its snapshot.
  const big = 'x'.repeat(200);
  for (let i = 0; i < 100; i++) await write(store, log, `big${i}`, lwwOf(big, i, 'w'));
  await log.snapshot(store.entries());
  const snapshotBytes = (await readFile(join(dir, 'snapshot.bin'))).length;
  t.true(snapshotBytes > 4 * floor, `snapshot of ${snapshotBytes} bytes`);
  let i = 0;
  while (!log.snapshotDue) await write(store, log, `k${i % 5}`, lwwOf(`v${i}`, 1000 + i++, 'w'));
  t.true(log.logBytes >= snapshotBytes && log.logBytes < snapshotBytes + 200);
  await log.close();
  // After a restart the recovered snapshot's size counts the same way.
  const again = await DurableLog.open({ dir, snapshotLogBytes: cap, snapshotLogBytesMin: floor });
  t.true(again.log.snapshotDue, 'the replayed logs hold as much as the snapshot');
  await again.log.close();
});

test('appends made while a snapshot is being written land in the new generation', async (t) => {
  const dir = await tempDir(t);
  const store = new StoreShard();
  const { log } = await DurableLog.open({ dir, fsync: 'always' });
  for (let i = 0; i < 500; i++) await write(store, log, `a${i}`, valueFor(`a${i}`, i));
  const snapshotting = log.snapshot(store.entries());
  t.is(log.snapshot([]), snapshotting, 'a second call joins the running snapshot');
  t.false(log.snapshotDue);
  const during = Array.from({ length: 300 }, (_, i) =>
    write(store, log, `b${i}`, valueFor(`b${i}`, i)),
  );
  await Promise.all([snapshotting, ...during]);
  await log.close();
  t.deepEqual((await readdir(dir)).sort(), ['log-2.bin', 'snapshot.bin']);
  const again = await DurableLog.open({ dir });
  t.deepEqual(canonical(again.entries), canonical(store.entries()));
  t.is(again.recovered.snapshotEntries, 500);
  t.is(again.recovered.records, 300);
  await again.log.close();
});

/** Writes `files` (name → bytes) into a fresh dir, opens it, returns entries and files left. */
async function recoverFrom(t: ExecutionContext, files: Record<string, Uint8Array>) {
  const dir = await tempDir(t);
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
  const { log, entries } = await DurableLog.open({ dir });
  const left = (await readdir(dir)).sort();
  // The recovered dir keeps working: one more append survives another reopen.
  await log.append('zz-after-recovery', valueFor('zz-after-recovery', 0));
  await log.close();
  const again = await DurableLog.open({ dir });
  await again.log.close();
  t.true(again.entries.has('zz-after-recovery'));
  again.entries.delete('zz-after-recovery');
  t.deepEqual(canonical(again.entries), canonical(entries));
  return { entries, left };
}

/** Three rounds of writes with compactions between, keeping each step's files. */
async function compactionHistory(t: ExecutionContext) {
  const dir = await tempDir(t);
  const store = new StoreShard();
  const file = async (name: string) => readFile(join(dir, name));
  let { log } = await DurableLog.open({ dir, fsync: 'never' });
  for (let i = 0; i < 60; i++)
    await write(store, log, `a${i % 40}`, valueFor(`a${i % 40}`, i, 'r1'));
  await log.close();
  const round1 = { log1: await file('log-1.bin'), entries: canonical(store.entries()) };
  ({ log } = await DurableLog.open({ dir }));
  await log.snapshot(store.entries());
  for (let i = 0; i < 60; i++)
    await write(store, log, `a${i % 50}`, valueFor(`a${i % 50}`, i + 1, 'r2'));
  await log.close();
  const round2 = {
    snapshot: await file('snapshot.bin'),
    log2: await file('log-2.bin'),
    entries: canonical(store.entries()),
  };
  ({ log } = await DurableLog.open({ dir }));
  await log.snapshot(store.entries());
  for (let i = 0; i < 30; i++) await write(store, log, `c${i}`, valueFor(`c${i}`, i, 'r3'));
  await log.close();
  const round3 = {
    snapshot: await file('snapshot.bin'),
    log3: await file('log-3.bin'),
    entries: canonical(store.entries()),
  };
  return { round1, round2, round3 };
}

test('a crash at any step of a compaction recovers every acknowledged write', async (t) => {
  const { round1, round2, round3 } = await compactionHistory(t);
  const empty = new Uint8Array(0);
  const half = (bytes: Uint8Array) => bytes.subarray(0, Math.floor(bytes.length / 2));
  // [step, files on disk at that point, entries expected, files left after recovery]
  const steps: [string, Record<string, Uint8Array>, [string, string][], string[]][] = [
    [
      '1→2 new log created',
      { 'log-1.bin': round1.log1, 'log-2.bin': empty },
      round1.entries,
      ['log-1.bin', 'log-2.bin'],
    ],
    [
      '1→2 appends in the new log',
      { 'log-1.bin': round1.log1, 'log-2.bin': round2.log2 },
      round2.entries,
      ['log-1.bin', 'log-2.bin'],
    ],
    [
      '1→2 snapshot half written',
      {
        'log-1.bin': round1.log1,
        'log-2.bin': round2.log2,
        'snapshot.bin.tmp': half(round2.snapshot),
      },
      round2.entries,
      ['log-1.bin', 'log-2.bin'],
    ],
    [
      '1→2 snapshot written, not renamed',
      { 'log-1.bin': round1.log1, 'log-2.bin': round2.log2, 'snapshot.bin.tmp': round2.snapshot },
      round2.entries,
      ['log-1.bin', 'log-2.bin'],
    ],
    [
      '1→2 renamed, old log not deleted',
      { 'log-1.bin': round1.log1, 'log-2.bin': round2.log2, 'snapshot.bin': round2.snapshot },
      round2.entries,
      ['log-2.bin', 'snapshot.bin'],
    ],
    [
      '1→2 done',
      { 'log-2.bin': round2.log2, 'snapshot.bin': round2.snapshot },
      round2.entries,
      ['log-2.bin', 'snapshot.bin'],
    ],
    [
      '2→3 new log created',
      { 'snapshot.bin': round2.snapshot, 'log-2.bin': round2.log2, 'log-3.bin': empty },
      round2.entries,
      ['log-2.bin', 'log-3.bin', 'snapshot.bin'],
    ],
    [
      '2→3 snapshot not renamed',
      {
        'snapshot.bin': round2.snapshot,
        'log-2.bin': round2.log2,
        'log-3.bin': round3.log3,
        'snapshot.bin.tmp': round3.snapshot,
      },
      round3.entries,
      ['log-2.bin', 'log-3.bin', 'snapshot.bin'],
    ],
    [
      '2→3 renamed, old log not deleted',
      { 'snapshot.bin': round3.snapshot, 'log-2.bin': round2.log2, 'log-3.bin': round3.log3 },
      round3.entries,
      ['log-3.bin', 'snapshot.bin'],
    ],
    [
      '2→3 done',
      { 'snapshot.bin': round3.snapshot, 'log-3.bin': round3.log3 },
      round3.entries,
      ['log-3.bin', 'snapshot.bin'],
    ],
  ];
  for (const [step, files, expected, left] of steps) {
    const recovered = await recoverFrom(t, files);
    t.deepEqual(canonical(recovered.entries), expected, step);
    t.deepEqual(recovered.left, left, step);
  }
});

test('the identity persists and its incarnation increases on every open', async (t) => {
  const dir = join(await tempDir(t), 'nested', 'data');
  let made = 0;
  const newId = () => `node-${++made}`;
  t.deepEqual(await loadIdentity(dir, newId), { id: 'node-1', incarnation: 1 });
  t.deepEqual(await loadIdentity(dir, newId), { id: 'node-1', incarnation: 2 });
  t.deepEqual(await loadIdentity(dir, newId), { id: 'node-1', incarnation: 3 });
  t.is(made, 1);
  t.deepEqual(JSON.parse(await readFile(join(dir, 'node.json'), 'utf8')), {
    id: 'node-1',
    incarnation: 3,
  });
  t.false((await readdir(dir)).includes('node.json.tmp'));
  await writeFile(join(dir, 'node.json'), '{"id": 7}');
  const error = await t.throwsAsync(loadIdentity(dir, newId), { instanceOf: CorruptLogError });
  t.regex(error?.message ?? '', /node\.json.*"id"/);
  t.is(await readFile(join(dir, 'node.json'), 'utf8'), '{"id": 7}');
});

test('appends in one tick share one write() and, under always, one fsync', async (t) => {
  const dir = await tempDir(t);
  const counts = newCounts();
  const { log } = await DurableLog.open({ dir, fsync: 'always', openFile: countingOpener(counts) });
  const store = new StoreShard();
  await Promise.all(
    Array.from({ length: 5000 }, (_, i) => write(store, log, `k${i}`, valueFor(`k${i}`, i))),
  );
  t.is(counts.writes, 1, `${counts.writes} writes for 5000 appends`);
  t.is(counts.datasyncs, 1);
  // Appends arriving while a batch is in flight form the next batch (group commit).
  const waves = [];
  for (let wave = 0; wave < 5; wave++) {
    waves.push(
      ...Array.from({ length: 200 }, (_, i) =>
        write(store, log, `w${wave}-${i}`, valueFor(`w${wave}-${i}`, i)),
      ),
    );
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(waves);
  t.true(counts.writes <= 1 + 5, `${counts.writes} writes`);
  t.is(counts.datasyncs, counts.writes);
  await log.close();
  const again = await DurableLog.open({ dir });
  t.deepEqual(canonical(again.entries), canonical(store.entries()));
  t.is(again.entries.size, 6000);
  await again.log.close();
});

test('pending bytes stay bounded: appends wait for room, past twice the bound they are refused', async (t) => {
  const dir = await tempDir(t);
  const counts = newCounts();
  const pendingBytesMax = 512;
  const { log } = await DurableLog.open({ dir, pendingBytesMax, openFile: countingOpener(counts) });
  // Sixteen writers, each awaiting its own appends: all fit in the queue plus the waiting room.
  const store = new StoreShard();
  await Promise.all(
    Array.from({ length: 16 }, async (_, writer) => {
      for (let i = 0; i < 40; i++) await write(store, log, `w${writer}-${i}`, lwwOf(i, i, 'w'));
    }),
  );
  t.true(
    Math.max(...counts.writeBytes) <= pendingBytesMax,
    `largest write ${Math.max(...counts.writeBytes)}`,
  );
  // A flood: what fits is queued, some wait, the rest is refused with UnavailableError.
  const flood = await Promise.allSettled(
    Array.from({ length: 400 }, (_, i) => log.append(`f${i}`, lwwOf(i, i, 'w'))),
  );
  const refused = flood.filter((r) => r.status === 'rejected');
  t.true(refused.length > 0 && refused.length < 400, `${refused.length} refused`);
  for (const r of refused) t.true(r.reason instanceof UnavailableError);
  t.true(Math.max(...counts.writeBytes) <= pendingBytesMax);
  await log.close();
  const again = await DurableLog.open({ dir });
  t.is(again.entries.size, 16 * 40 + 400 - refused.length);
  flood.forEach((r, i) => {
    if (again.entries.has(`f${i}`) !== (r.status === 'fulfilled')) t.fail(`f${i}`);
  });
  await again.log.close();
});

test('a failed write fails the log: that batch and later appends reject, data before survives', async (t) => {
  const dir = await tempDir(t);
  const counts = newCounts();
  const openFile = countingOpener(counts, (n) => n === 3);
  const { log } = await DurableLog.open({ dir, fsync: 'always', openFile });
  await log.append('a', valueFor('a', 1));
  await log.append('b', valueFor('b', 2));
  const failed = await t.throwsAsync(log.append('c', valueFor('c', 3)), {
    instanceOf: UnavailableError,
  });
  t.regex(failed?.message ?? '', /failed while writing \(EIO/);
  await t.throwsAsync(log.append('d', valueFor('d', 4)), { instanceOf: UnavailableError });
  await t.throwsAsync(log.snapshot([]), { instanceOf: UnavailableError });
  await t.throwsAsync(log.close(), { instanceOf: UnavailableError });
  const again = await DurableLog.open({ dir });
  t.deepEqual([...again.entries.keys()].sort(), ['a', 'b']);
  await again.log.close();
});

// ---------------------------------------------------------------------------------------
// Throughput (printed with t.log; the numbers go to the docs)

const SMALL_APPENDS = 100_000;

async function measure(policy: FsyncPolicy, inFlight: number, count: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'squall-log-bench-'));
  try {
    const { log } = await DurableLog.open({ dir, fsync: policy });
    const value = lwwOf('a small value', 1, 'writer');
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < count) {
          const i = next++;
          await log.append(`key-${i % 10_000}`, value);
        }
      }),
    );
    await log.close();
    return count / ((performance.now() - started) / 1000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test.serial('throughput: 100k small appends per fsync policy', async (t) => {
  const rows: string[] = [];
  for (const policy of ['always', 'interval', 'never'] as FsyncPolicy[]) {
    const all = await measure(policy, SMALL_APPENDS, SMALL_APPENDS);
    const concurrent = await measure(policy, 64, SMALL_APPENDS);
    const oneByOne = await measure(policy, 1, policy === 'always' ? 500 : 20_000);
    rows.push(
      `${policy.padEnd(8)} all at once ${Math.round(all)}/s, 64 in flight ${Math.round(concurrent)}/s, ` +
        `one at a time ${Math.round(oneByOne)}/s`,
    );
  }
  for (const row of rows) t.log(row);
  t.pass();
});
