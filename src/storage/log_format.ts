/**
 * The on-disk format of a node's durable state, and every decision recovery makes about it,
 * as pure functions over byte buffers (no fs, no timers): durable_log.ts only moves bytes.
 *
 * A record is `[u32 payload length][u32 crc32 of payload][payload]`, both integers
 * little-endian, the payload the CBOR of `[key, toWire(lattice)]` holding a lattice value
 * merged into the key: a write, or the key's whole value (a snapshot, a replica's copy).
 * Replay is therefore "merge every record into the map": idempotent and order-insensitive,
 * because lattice merges are, and the merge of every write is the key's value. A payload is 1 to
 * RECORD_PAYLOAD_BYTES_MAX bytes; a header declaring anything else is damage.
 *
 * How a log's end is classified (`decodeLog`): records are read from offset 0 while each is
 * intact (header complete, length in range, the whole payload present, checksum matching).
 * At the first record that is not intact, every later byte offset is searched for an intact
 * record (a frame whose checksum matches and whose payload opens like a record's: a CBOR
 * array of two and a text string). None found: the bad record is the remains of an append
 * the crash interrupted, reported as `torn` (drop it, truncate to the valid prefix). One
 * found: data was written after the bad record, so it is damage in the middle, `corrupt`
 * (refuse to start). A damaged byte in the LAST record is therefore reported as torn: with
 * nothing after it, a flipped bit and a torn write are the same bytes on disk, and dropping
 * it loses only a record whose write may not have been acknowledged. A record whose checksum
 * matches but whose payload is not a valid `[key, lattice]` is `corrupt` wherever it is (it
 * was written whole, by a bug or another format version). The search costs nothing on a
 * clean log; after a crash it checks only offsets whose bytes look like a record's start.
 *
 * A snapshot (`snapshot.bin`) is a header record `['squall-snapshot', 1, generation,
 * count]` followed by `count` entry records in the log's framing, so every entry carries its
 * own checksum and a snapshot of any size is written and read in bounded chunks. It is only
 * ever renamed into place complete and fsynced, so any bad record in it is `corrupt`.
 * It covers every log generation below `generation`; recovery replays the snapshot, then
 * each log generation from `generation` up, which must be contiguous (see planRecovery).
 */
import { crc32 } from 'node:zlib';
import { ValidationError } from '../errors.js';
import { decode, encode } from './codec.js';
import { conflictOrder, fromWire, type Lattice, merge, toWire } from './lattices/index.js';
import { checkKey } from './store.js';

export const RECORD_HEADER_BYTES = 8;
export const RECORD_PAYLOAD_BYTES_MAX = 64 * 1024 * 1024;
/** The generation of a fresh data dir's first log. */
export const FIRST_GENERATION = 1;
export const SNAPSHOT_FILE = 'snapshot.bin';
export const SNAPSHOT_TEMP_FILE = 'snapshot.bin.tmp';
export const IDENTITY_FILE = 'node.json';
export const SNAPSHOT_MAGIC = 'squall-snapshot';
export const SNAPSHOT_FORMAT_VERSION = 1;

/** CBOR: an array of two items (the record's `[key, wire]`). */
const ARRAY_OF_TWO = 0x82;
/** CBOR: the top three bits of a text string's head byte (major type 3). */
const TEXT_STRING_MAJOR = 0x60;

export interface LogRecord {
  readonly key: string;
  readonly value: Lattice;
  /** Byte offset of the record's header in the buffer it was decoded from. */
  readonly offset: number;
}

export type LogEnd =
  | { readonly kind: 'ok' }
  | { readonly kind: 'torn'; readonly offset: number; readonly reason: string }
  | { readonly kind: 'corrupt'; readonly offset: number; readonly reason: string };

export interface DecodedLog {
  readonly records: LogRecord[];
  readonly end: LogEnd;
  /** Bytes of intact, decoded records from the start: the length to truncate a torn log to. */
  readonly validBytes: number;
}

/** A damaged place in a file: the byte offset and what is wrong there. */
export interface Damage {
  readonly offset: number;
  readonly reason: string;
}

// ---------------------------------------------------------------------------------------
// Records

/** Frames a payload: length, checksum, bytes (tests frame payloads of their own with it). */
export function frameRecord(payload: Uint8Array): Uint8Array {
  const record = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  const view = new DataView(record.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32(payload), true);
  record.set(payload, RECORD_HEADER_BYTES);
  return record;
}

/** One record: throws ValidationError for a bad key or a payload over the limit. */
export function encodeRecord(key: string, value: Lattice): Uint8Array {
  checkKey(key);
  const payload = encode([key, toWire(value)]);
  if (payload.length > RECORD_PAYLOAD_BYTES_MAX) {
    throw new ValidationError(
      `a log record of ${payload.length} bytes for key ${JSON.stringify(key.slice(0, 64))} ` +
        `exceeds ${RECORD_PAYLOAD_BYTES_MAX} bytes`,
    );
  }
  return frameRecord(payload);
}

type Frame =
  | { readonly intact: true; readonly payload: Uint8Array; readonly end: number }
  | { readonly intact: false; readonly reason: string };

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The frame at `offset`: intact (checksum matches) or why not. Never throws. */
function readFrame(bytes: Uint8Array, view: DataView, offset: number): Frame {
  const remaining = bytes.length - offset;
  if (remaining < RECORD_HEADER_BYTES) {
    return { intact: false, reason: `an incomplete record header (${remaining} of 8 bytes)` };
  }
  const length = view.getUint32(offset, true);
  if (length === 0 || length > RECORD_PAYLOAD_BYTES_MAX) {
    const reason = `a record header declaring ${length} payload bytes (allowed: 1 to ${RECORD_PAYLOAD_BYTES_MAX})`;
    return { intact: false, reason };
  }
  const end = offset + RECORD_HEADER_BYTES + length;
  if (end > bytes.length) {
    const present = remaining - RECORD_HEADER_BYTES;
    return { intact: false, reason: `a record of ${length} bytes with only ${present} present` };
  }
  const payload = bytes.subarray(offset + RECORD_HEADER_BYTES, end);
  if (crc32(payload) !== view.getUint32(offset + 4, true)) {
    return { intact: false, reason: 'a record whose checksum does not match its payload' };
  }
  return { intact: true, payload, end };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A checksummed payload as a key and a lattice, or why it is not one. Never throws. */
function decodePayload(payload: Uint8Array): { key: string; value: Lattice } | string {
  let decoded: unknown;
  try {
    decoded = decode(payload);
  } catch (error) {
    return `its payload is not CBOR (${errorText(error)})`;
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) {
    return 'its payload is not a [key, lattice] pair';
  }
  const [key, wire] = decoded as [unknown, unknown];
  try {
    checkKey(key);
    return { key, value: fromWire(wire) };
  } catch (error) {
    return `its payload holds no valid key and lattice (${errorText(error)})`;
  }
}

interface Walk {
  readonly records: LogRecord[];
  /** Where reading stopped: the end of the buffer, or the first record not taken. */
  readonly stop: number;
  /** Why reading stopped before the end; `framed` when the frame itself was intact. */
  readonly bad?: { readonly reason: string; readonly framed: boolean };
}

/** Reads records from the start while each is intact and decodes; offsets from `base`. */
function walkRecords(bytes: Uint8Array, base: number): Walk {
  const view = viewOf(bytes);
  const records: LogRecord[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const found = readFrame(bytes, view, offset);
    if (!found.intact)
      return { records, stop: offset, bad: { reason: found.reason, framed: false } };
    const record = decodePayload(found.payload);
    if (typeof record === 'string') {
      const reason = `a record whose checksum matches but ${record}`;
      return { records, stop: offset, bad: { reason, framed: true } };
    }
    records.push({ key: record.key, value: record.value, offset: base + offset });
    offset = found.end;
  }
  return { records, stop: offset };
}

/** Whether the bytes at `at` open like a record payload: `[` of two, then a text string. */
function opensLikePayload(bytes: Uint8Array, at: number): boolean {
  return bytes[at] === ARRAY_OF_TWO && ((bytes[at + 1] ?? 0) & 0xe0) === TEXT_STRING_MAJOR;
}

/** The first offset at or after `from` where an intact record starts, if any. */
export function findIntactRecord(bytes: Uint8Array, from: number): number | undefined {
  const view = viewOf(bytes);
  const last = bytes.length - RECORD_HEADER_BYTES - 2;
  for (let offset = from; offset <= last; offset++) {
    if (!opensLikePayload(bytes, offset + RECORD_HEADER_BYTES)) continue;
    if (readFrame(bytes, view, offset).intact) return offset;
  }
  return undefined;
}

/** Decodes a log file's bytes and classifies its end (see the header: torn vs corrupt). */
export function decodeLog(bytes: Uint8Array): DecodedLog {
  const walk = walkRecords(bytes, 0);
  const { records, stop, bad } = walk;
  if (bad === undefined) return { records, end: { kind: 'ok' }, validBytes: stop };
  if (bad.framed) {
    return {
      records,
      end: { kind: 'corrupt', offset: stop, reason: bad.reason },
      validBytes: stop,
    };
  }
  const next = findIntactRecord(bytes, stop + 1);
  if (next === undefined) {
    return { records, end: { kind: 'torn', offset: stop, reason: bad.reason }, validBytes: stop };
  }
  const reason = `${bad.reason}, followed by an intact record at byte offset ${next}`;
  return { records, end: { kind: 'corrupt', offset: stop, reason }, validBytes: stop };
}

/**
 * Merges records into `entries` in order. A record whose lattice kind differs from what
 * the key holds is what a node logs when owners' first writes of two kinds crossed and it
 * switched to the other kind (NodeStore#resolveConflict): the two are resolved as the node
 * did, by `conflictOrder`, so the replay ends in the state the node had — refusing it
 * would keep the node from ever starting again. Any other failure to merge is damage, and
 * is returned; entries are then partly merged and must be discarded.
 */
export function mergeRecords(
  entries: Map<string, Lattice>,
  records: readonly LogRecord[],
): Damage | undefined {
  for (const { key, value, offset } of records) {
    const current = entries.get(key);
    if (current === undefined) {
      entries.set(key, value);
      continue;
    }
    if (current.kind !== value.kind) {
      if (conflictOrder(value, current) > 0) entries.set(key, value);
      continue;
    }
    try {
      entries.set(key, merge(current, value));
    } catch (error) {
      return { offset, reason: `a record for key ${JSON.stringify(key)}: ${errorText(error)}` };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Snapshots

/** The snapshot's first record, naming the log generation it precedes and its entry count. */
export function encodeSnapshotHeader(generation: number, entryCount: number): Uint8Array {
  return frameRecord(encode([SNAPSHOT_MAGIC, SNAPSHOT_FORMAT_VERSION, generation, entryCount]));
}

export interface DecodedSnapshot {
  /** The first log generation NOT covered by the snapshot. */
  readonly generation: number;
  readonly records: LogRecord[];
}

function isCount(x: unknown, min: number): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= min;
}

function decodeSnapshotHeader(payload: Uint8Array): { generation: number; count: number } | string {
  let header: unknown;
  try {
    header = decode(payload);
  } catch (error) {
    return `its header is not CBOR (${errorText(error)})`;
  }
  if (!Array.isArray(header) || header.length !== 4 || header[0] !== SNAPSHOT_MAGIC) {
    return 'it does not open with a squall snapshot header';
  }
  const [, version, generation, count] = header as unknown[];
  if (version !== SNAPSHOT_FORMAT_VERSION)
    return `its format version ${String(version)} is unknown`;
  if (!isCount(generation, FIRST_GENERATION + 1) || !isCount(count, 0)) {
    return 'its header holds an invalid generation or entry count';
  }
  return { generation, count };
}

/** Decodes a whole snapshot; any damage at all is reported (a snapshot is never torn). */
export function decodeSnapshot(bytes: Uint8Array): DecodedSnapshot | Damage {
  const head = readFrame(bytes, viewOf(bytes), 0);
  if (!head.intact) return { offset: 0, reason: `its header is ${head.reason}` };
  const header = decodeSnapshotHeader(head.payload);
  if (typeof header === 'string') return { offset: 0, reason: header };
  const walk = walkRecords(bytes.subarray(head.end), head.end);
  if (walk.bad !== undefined) return { offset: head.end + walk.stop, reason: walk.bad.reason };
  if (walk.records.length !== header.count) {
    const reason = `it holds ${walk.records.length} entries where its header says ${header.count}`;
    return { offset: bytes.length, reason };
  }
  return { generation: header.generation, records: walk.records };
}

// ---------------------------------------------------------------------------------------
// Files and the recovery plan

export function logFileName(generation: number): string {
  return `log-${generation}.bin`;
}

const LOG_FILE_PATTERN = /^log-([1-9][0-9]{0,14})\.bin$/;

/** The generation a file name holds, or undefined when it is not a log file of ours. */
export function parseLogFileName(name: string): number | undefined {
  const match = LOG_FILE_PATTERN.exec(name);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export interface DataDirListing {
  readonly snapshot: boolean;
  readonly snapshotTemp: boolean;
  /** Log generations present, ascending. */
  readonly logs: number[];
}

/** Sorts a data dir's file names into what recovery reads; other names are left alone. */
export function classifyDataDir(names: Iterable<string>): DataDirListing {
  const logs: number[] = [];
  let snapshot = false;
  let snapshotTemp = false;
  for (const name of names) {
    if (name === SNAPSHOT_FILE) snapshot = true;
    else if (name === SNAPSHOT_TEMP_FILE) snapshotTemp = true;
    const generation = parseLogFileName(name);
    if (generation !== undefined) logs.push(generation);
  }
  logs.sort((a, b) => a - b);
  return { snapshot, snapshotTemp, logs };
}

export interface RecoveryPlan {
  /** Generations to replay after the snapshot, ascending and contiguous. */
  readonly replay: number[];
  /** Generations the snapshot already covers: left over by a compaction, to delete. */
  readonly stale: number[];
  /** The generation appends continue in (created when `replay` is empty). */
  readonly appendGeneration: number;
}

/**
 * Which logs to replay. Compaction creates log G before it writes snapshot G and deletes
 * the logs below G only after the snapshot is in place, and a fresh dir starts at
 * FIRST_GENERATION, so the logs to replay run contiguously from the snapshot's generation
 * (or FIRST_GENERATION) to the newest. A gap, or a snapshot without its log, means a file
 * was lost: returns the first missing generation instead of silently skipping data.
 */
export function planRecovery(
  snapshotGeneration: number | undefined,
  logs: readonly number[],
): RecoveryPlan | { readonly missing: number } {
  const base = snapshotGeneration ?? FIRST_GENERATION;
  const sorted = [...logs].sort((a, b) => a - b);
  const stale = sorted.filter((generation) => generation < base);
  const replay = sorted.filter((generation) => generation >= base);
  if (replay.length === 0 && snapshotGeneration !== undefined) return { missing: base };
  for (const [index, generation] of replay.entries()) {
    if (generation !== base + index) return { missing: base + index };
  }
  return { replay, stale, appendGeneration: replay.at(-1) ?? base };
}

// ---------------------------------------------------------------------------------------
// Identity

export interface NodeIdentity {
  readonly id: string;
  readonly incarnation: number;
}

/** `node.json`'s text as an identity, or why it is not one. Never throws. */
export function parseIdentity(text: string): NodeIdentity | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `it is not JSON (${errorText(error)})`;
  }
  if (typeof parsed !== 'object' || parsed === null) return 'it is not a JSON object';
  const { id, incarnation } = parsed as Record<string, unknown>;
  if (typeof id !== 'string' || id.length === 0) return 'its "id" is not a non-empty string';
  if (!isCount(incarnation, 1)) return 'its "incarnation" is not a positive integer';
  return { id, incarnation };
}
