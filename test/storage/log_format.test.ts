/**
 * The durable log's byte format and recovery decisions (src/storage/log_format.ts), pure:
 * random records round-trip; a log cut at every byte inside its last record is `torn` with
 * exactly the earlier records; one damaged byte in a record that another record follows is
 * `corrupt` at that record's offset; one damaged byte in the last record is `torn` (on disk
 * it is the same as an interrupted append); snapshots refuse any damage; the recovery plan
 * replays contiguous generations and names a missing one; replay is order-insensitive.
 * Property tests log their seed; SQUALL_SEED replays one.
 */

import test from 'ava';
import fc from 'fast-check';
import { ValidationError } from '../../src/errors.js';
import { encode } from '../../src/storage/codec.js';
import {
  conflictOrder,
  counterOf,
  type Lattice,
  lwwOf,
  merge,
  reveal,
  setOf,
  toWire,
} from '../../src/storage/lattices/index.js';
import {
  classifyDataDir,
  type DecodedLog,
  decodeLog,
  decodeSnapshot,
  encodeRecord,
  encodeSnapshotHeader,
  FIRST_GENERATION,
  frameRecord,
  type LogRecord,
  logFileName,
  mergeRecords,
  parseIdentity,
  parseLogFileName,
  planRecovery,
  RECORD_HEADER_BYTES,
  RECORD_PAYLOAD_BYTES_MAX,
  SNAPSHOT_FILE,
  SNAPSHOT_TEMP_FILE,
} from '../../src/storage/log_format.js';
import { anyLattice, canon, seed } from './lattices_arbitraries.js';

const key = fc.string({ minLength: 1, maxLength: 24 });
const entry = fc.tuple(key, anyLattice);
const entries = (minLength: number) => fc.array(entry, { minLength, maxLength: 8 });

/** A log's bytes and each record's start offset (the last offset is the end). */
function buildLog(list: readonly (readonly [string, Lattice])[]): {
  bytes: Uint8Array;
  offsets: number[];
} {
  const records = list.map(([k, v]) => encodeRecord(k, v));
  const offsets = [0];
  for (const record of records) offsets.push((offsets.at(-1) ?? 0) + record.length);
  return { bytes: Buffer.concat(records), offsets };
}

function shape(records: readonly LogRecord[]): [string, string, number][] {
  return records.map((r) => [r.key, canon(r.value), r.offset]);
}

function expected(
  list: readonly (readonly [string, Lattice])[],
  offsets: readonly number[],
  count: number,
): [string, string, number][] {
  return list.slice(0, count).map(([k, v], i) => [k, canon(v), offsets[i] ?? -1]);
}

test('random records round-trip', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  fc.assert(
    fc.property(entries(0), (list) => {
      const { bytes, offsets } = buildLog(list);
      const decoded = decodeLog(bytes);
      t.deepEqual(decoded.end, { kind: 'ok' });
      t.is(decoded.validBytes, bytes.length);
      t.deepEqual(shape(decoded.records), expected(list, offsets, list.length));
    }),
    { seed, numRuns: 3000 },
  );
});

test('a log cut at every byte inside its last record is torn, with the earlier records', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  let cuts = 0;
  fc.assert(
    fc.property(entries(1), (list) => {
      const { bytes, offsets } = buildLog(list);
      const last = offsets.at(-2) ?? 0;
      const want = expected(list, offsets, list.length - 1);
      for (let cut = last + 1; cut < bytes.length; cut++) {
        const decoded = decodeLog(bytes.subarray(0, cut));
        cuts += 1;
        if (decoded.end.kind !== 'torn' || decoded.end.offset !== last) {
          t.fail(`cut at ${cut} of ${bytes.length}: ${JSON.stringify(decoded.end)}`);
          return;
        }
        t.is(decoded.validBytes, last);
        t.deepEqual(shape(decoded.records), want);
      }
      // Cut exactly at a record boundary: a clean log of the earlier records.
      t.deepEqual(decodeLog(bytes.subarray(0, last)).end, { kind: 'ok' });
    }),
    { seed, numRuns: 300 },
  );
  t.log(`${cuts} cuts checked`);
});

/** A copy of `bytes` with the byte at `at` xor-ed with a non-zero mask. */
function flipped(bytes: Uint8Array, at: number, mask: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[at] = (copy[at] ?? 0) ^ mask;
  return copy;
}

const damage = fc.record({
  list: entries(2),
  which: fc.nat(),
  within: fc.nat(),
  mask: fc.integer({ min: 1, max: 255 }),
});

test('one damaged byte in a record that another follows is corrupt at that record', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  fc.assert(
    fc.property(damage, ({ list, which, within, mask }) => {
      const { bytes, offsets } = buildLog(list);
      const index = which % (list.length - 1); // never the last record
      const start = offsets[index] ?? 0;
      const length = (offsets[index + 1] ?? 0) - start;
      const decoded: DecodedLog = decodeLog(flipped(bytes, start + (within % length), mask));
      t.is(decoded.end.kind, 'corrupt');
      t.is(decoded.end.kind === 'ok' ? -1 : decoded.end.offset, start);
      t.is(decoded.validBytes, start);
      t.deepEqual(shape(decoded.records), expected(list, offsets, index));
    }),
    { seed, numRuns: 3000 },
  );
});

test('one damaged byte in the last record is torn: it reads like an interrupted append', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  fc.assert(
    fc.property(damage, ({ list, within, mask }) => {
      const { bytes, offsets } = buildLog(list);
      const start = offsets.at(-2) ?? 0;
      const decoded = decodeLog(flipped(bytes, start + (within % (bytes.length - start)), mask));
      t.is(decoded.end.kind, 'torn');
      t.is(decoded.end.kind === 'ok' ? -1 : decoded.end.offset, start);
      t.deepEqual(shape(decoded.records), expected(list, offsets, list.length - 1));
    }),
    { seed, numRuns: 3000 },
  );
});

test('a zero-filled tail (a file extended by a crash) is torn at the end of the records', (t) => {
  const { bytes } = buildLog([
    ['a', lwwOf(1, 1, 'w')],
    ['b', setOf([1, 2])],
  ]);
  const padded = Buffer.concat([bytes, new Uint8Array(4096)]);
  const decoded = decodeLog(padded);
  t.deepEqual(decoded.end, {
    kind: 'torn',
    offset: bytes.length,
    reason: 'a record header declaring 0 payload bytes (allowed: 1 to 67108864)',
  });
  t.is(decoded.records.length, 2);
  t.deepEqual(decodeLog(new Uint8Array(0)), { records: [], end: { kind: 'ok' }, validBytes: 0 });
});

test('a header declaring more than the record limit is damage: torn at the end, corrupt before a record', (t) => {
  const good = encodeRecord('k', lwwOf('v', 1, 'w'));
  const huge = new Uint8Array(RECORD_HEADER_BYTES + 4);
  new DataView(huge.buffer).setUint32(0, RECORD_PAYLOAD_BYTES_MAX + 1, true);
  const atEnd = decodeLog(Buffer.concat([good, huge]));
  t.is(atEnd.end.kind, 'torn');
  const inMiddle = decodeLog(Buffer.concat([good, huge, good]));
  t.like(inMiddle.end, { kind: 'corrupt', offset: good.length });
  t.regex(inMiddle.end.kind === 'corrupt' ? inMiddle.end.reason : '', /67108865.*followed by/);
});

test('a record with a matching checksum but no [key, lattice] inside is corrupt, even last', (t) => {
  const good = encodeRecord('k', counterOf({ w: 2 }));
  for (const payload of [
    encode(['k', 'not a lattice']),
    encode({ not: 'a pair' }),
    encode(['', toWire(counterOf({ w: 1 }))]),
    Uint8Array.of(0xff, 0xff),
  ]) {
    const decoded = decodeLog(Buffer.concat([good, frameRecord(payload)]));
    t.like(decoded.end, { kind: 'corrupt', offset: good.length });
    t.is(decoded.records.length, 1);
  }
});

test('encodeRecord refuses a bad key and a payload over the limit', (t) => {
  t.throws(() => encodeRecord('', lwwOf(1, 1, 'w')), { instanceOf: ValidationError });
  t.throws(() => encodeRecord('x'.repeat(2000), lwwOf(1, 1, 'w')), {
    instanceOf: ValidationError,
  });
  const big = lwwOf(new Uint8Array(RECORD_PAYLOAD_BYTES_MAX), 1, 'w');
  t.throws(() => encodeRecord('big', big), { instanceOf: ValidationError, message: /exceeds/ });
});

test('replay is idempotent and order-insensitive: any order, with repeats, merges the same', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  // Several writers' merged values for a few keys, all of one kind per key.
  const history = fc.array(
    fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.constantFrom('w1', 'w2'), fc.nat(20)),
    { minLength: 1, maxLength: 20 },
  );
  const withOrder = history.chain((writes) => {
    const twice = [...writes.keys(), ...writes.keys()];
    const order = fc.shuffledSubarray(twice, { minLength: twice.length, maxLength: twice.length });
    return fc.tuple(fc.constant(writes), order);
  });
  fc.assert(
    fc.property(withOrder, ([writes, order]) => {
      const records: LogRecord[] = writes.map(([k, writer, n], i) => ({
        key: k,
        value: counterOf({ [writer]: n }),
        offset: i,
      }));
      const inOrder = new Map<string, Lattice>();
      t.is(mergeRecords(inOrder, records), undefined);
      const otherOrder = new Map<string, Lattice>();
      t.is(
        mergeRecords(
          otherOrder,
          order.map((i) => records[i]!),
        ),
        undefined,
      );
      t.deepEqual(
        [...otherOrder].map(([k, v]) => [k, canon(v)]).sort(),
        [...inOrder].map(([k, v]) => [k, canon(v)]).sort(),
      );
    }),
    { seed, numRuns: 1000 },
  );
});

test('mergeRecords keeps, of two kinds logged for one key, the one the node kept, in any order', (t) => {
  // The node switched kinds (owners' first writes crossed): the replay must not refuse it.
  const set = setOf([1]);
  const counter = counterOf({ w: 1 });
  const kept = conflictOrder(set, counter) > 0 ? set : counter;
  for (const order of [
    [set, counter],
    [counter, set],
  ]) {
    const entries = new Map<string, Lattice>();
    const records = order.map((value, i) => ({ key: 'k', value, offset: 40 * i }));
    t.is(mergeRecords(entries, records), undefined);
    t.is(entries.get('k')?.kind, kept.kind);
  }
  // Later records of the kept kind merge on as usual.
  const entries = new Map<string, Lattice>();
  const more = kept === set ? setOf([2]) : counterOf({ v: 2 });
  mergeRecords(
    entries,
    [set, counter, more].map((value, i) => ({ key: 'k', value, offset: i })),
  );
  t.deepEqual(reveal(entries.get('k')!), reveal(merge(kept, more)));
});

function buildSnapshot(generation: number, list: readonly (readonly [string, Lattice])[]) {
  return Buffer.concat([
    encodeSnapshotHeader(generation, list.length),
    ...list.map(([k, v]) => encodeRecord(k, v)),
  ]);
}

test('snapshots round-trip; any damaged byte or missing tail is reported', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  fc.assert(
    fc.property(entries(0), fc.nat(), fc.integer({ min: 1, max: 255 }), (list, at, mask) => {
      const bytes = buildSnapshot(7, list);
      const decoded = decodeSnapshot(bytes);
      if ('reason' in decoded) return t.fail(decoded.reason);
      t.is(decoded.generation, 7);
      t.deepEqual(
        decoded.records.map((r) => [r.key, canon(r.value)]),
        list.map(([k, v]) => [k, canon(v)]),
      );
      t.true('reason' in decodeSnapshot(flipped(bytes, at % bytes.length, mask)));
      t.true('reason' in decodeSnapshot(bytes.subarray(0, at % bytes.length)));
    }),
    { seed, numRuns: 1000 },
  );
});

test('a snapshot whose header is foreign, or whose count is wrong, is damage', (t) => {
  const records = [encodeRecord('a', lwwOf(1, 1, 'w'))];
  t.like(decodeSnapshot(Buffer.concat([encodeSnapshotHeader(3, 2), ...records])), {
    reason: 'it holds 1 entries where its header says 2',
  });
  t.like(decodeSnapshot(Buffer.concat([frameRecord(encode(['other', 1, 3, 1])), ...records])), {
    offset: 0,
  });
  t.like(decodeSnapshot(Buffer.concat([frameRecord(encode(['squall-snapshot', 9, 3, 1]))])), {
    reason: 'its format version 9 is unknown',
  });
  t.like(decodeSnapshot(Buffer.concat([encodeSnapshotHeader(0, 0)])), { offset: 0 });
});

test('planRecovery: snapshot, then contiguous generations; stale ones go; gaps are named', (t) => {
  t.deepEqual(planRecovery(undefined, []), { replay: [], stale: [], appendGeneration: 1 });
  t.deepEqual(planRecovery(undefined, [2, 1, 3]), {
    replay: [1, 2, 3],
    stale: [],
    appendGeneration: 3,
  });
  // A compaction that wrote snapshot 4 but had not yet deleted logs 2 and 3.
  t.deepEqual(planRecovery(4, [3, 4, 2, 5]), {
    replay: [4, 5],
    stale: [2, 3],
    appendGeneration: 5,
  });
  t.deepEqual(planRecovery(undefined, [2, 3]), { missing: 1 });
  t.deepEqual(planRecovery(undefined, [1, 3]), { missing: 2 });
  t.deepEqual(planRecovery(4, [5]), { missing: 4 });
  t.deepEqual(planRecovery(4, []), { missing: 4 });
  t.deepEqual(planRecovery(4, [2, 3]), { missing: 4 });
  t.is(FIRST_GENERATION, 1);
});

test('file names: log generations, the snapshot, everything else ignored', (t) => {
  t.is(logFileName(12), 'log-12.bin');
  t.is(parseLogFileName('log-12.bin'), 12);
  for (const name of ['log-0.bin', 'log-01.bin', 'log-1.bin.tmp', 'log-x.bin', 'log--1.bin']) {
    t.is(parseLogFileName(name), undefined, name);
  }
  t.deepEqual(
    classifyDataDir(['node.json', 'log-10.bin', SNAPSHOT_TEMP_FILE, 'log-9.bin', 'notes.txt']),
    { snapshot: false, snapshotTemp: true, logs: [9, 10] },
  );
  t.true(classifyDataDir([SNAPSHOT_FILE]).snapshot);
});

test('parseIdentity accepts { id, incarnation } and explains anything else', (t) => {
  t.deepEqual(parseIdentity('{"id":"n1","incarnation":3}'), { id: 'n1', incarnation: 3 });
  t.regex(parseIdentity('{') as string, /not JSON/);
  t.regex(parseIdentity('[]') as string, /"id"/);
  t.regex(parseIdentity('{"id":"n1","incarnation":0}') as string, /incarnation/);
  t.regex(parseIdentity('{"id":"","incarnation":1}') as string, /"id"/);
  t.regex(parseIdentity('null') as string, /not a JSON object/);
});
