/**
 * The disk binding of a node's durable state in its `dataDir`: recovery on open, batched
 * appends under an fsync policy, snapshots with log compaction, and the node's persistent
 * identity. What the bytes mean and every recovery decision live in log_format.ts (pure);
 * this file only moves bytes, waits for the disk and keeps timers.
 *
 * Files: `node.json` (`{ id, incarnation }`), `snapshot.bin` (all entries as of a moment,
 * covering every log generation below the one it names), `log-<generation>.bin` (records of
 * the lattice values merged into keys). Invariants:
 * - An append resolves only once its record is written to the OS (`interval`, `never`) or
 *   also fsynced (`always`); appends made in the same tick share one write() (and one
 *   fsync), and appends arriving while one is in flight form the next batch.
 * - Bytes queued or in flight never exceed `pendingBytesMax` (one larger record excepted);
 *   past it appends wait in order, and past twice it they are refused (UnavailableError).
 * - Compaction: `snapshot()` queues a switch to generation G+1 behind every append made
 *   before the call (the old log is fsynced, the new one created and the directory
 *   fsynced), writes snapshot G+1 from the entries taken at the call to a temporary file,
 *   fsyncs it, renames it into place, fsyncs the directory, and only then deletes the
 *   older logs. A crash between any two steps leaves files from which recovery rebuilds
 *   every acknowledged write (the owner merges into its store before it appends, so the
 *   entries at the call hold every value logged before it).
 * - Recovery changes nothing on disk until everything has been read and judged sound; then
 *   it truncates a torn tail of the newest log, deletes what a compaction left behind,
 *   and fsyncs. Damage anywhere else makes `open` reject with CorruptLogError, which names
 *   the file, the byte offset and what the operator can do (we refuse, we never guess).
 * - A failed write or fsync fails the log for good: after an fsync error the kernel may
 *   have dropped the dirty pages, so no later append could be trusted. The node restarts.
 */
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describeValue, UnavailableError, ValidationError } from '../errors.js';
import type { Lattice } from './lattices/index.js';
import {
  classifyDataDir,
  type DataDirListing,
  decodeLog,
  decodeSnapshot,
  encodeRecord,
  encodeSnapshotHeader,
  FIRST_GENERATION,
  IDENTITY_FILE,
  type LogEnd,
  logFileName,
  mergeRecords,
  type NodeIdentity,
  parseIdentity,
  planRecovery,
  type RecoveryPlan,
  SNAPSHOT_FILE,
  SNAPSHOT_TEMP_FILE,
} from './log_format.js';

export type FsyncPolicy = 'always' | 'interval' | 'never';
const FSYNC_POLICIES: readonly string[] = ['always', 'interval', 'never'];

export const FSYNC_INTERVAL_MS_DEFAULT = 100;
export const SNAPSHOT_LOG_BYTES_DEFAULT = 64 * 1024 * 1024;
/**
 * Below this the logs are not compacted (unless `snapshotLogBytes` is set lower): rewriting
 * a small store is cheap, but not free.
 * Between it and `snapshotLogBytes` the logs are compacted once they hold as many bytes as
 * the last snapshot (docs/ARCHITECTURE.md, "Durability"), so a restart replays at most
 * about twice the live data, not up to 64 MiB of log for a store of a few MiB.
 */
export const SNAPSHOT_LOG_BYTES_MIN = 4 * 1024 * 1024;
export const PENDING_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;
/** Snapshots are encoded and written this many bytes at a time. */
const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

/** The file operations the write path uses; tests inject one to count or fail them. */
export interface LogFileHandle {
  write(bytes: Uint8Array): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(lengthBytes: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens a log (`'a'`: append, create) or a snapshot (`'w'`: create, truncate). */
export type OpenLogFile = (path: string, flags: 'a' | 'w') => Promise<LogFileHandle>;

export interface DurableLogOptions {
  dir: string;
  /** Default `interval`. */
  fsync?: FsyncPolicy | undefined;
  /** For `interval`: how often written appends are fsynced. Default 100. */
  fsyncIntervalMs?: number | undefined;
  /**
   * `snapshotDue` turns true once the live logs hold this many bytes (default 64 MiB), or
   * sooner: once they hold as many as the last snapshot, and `snapshotLogBytesMin`.
   */
  snapshotLogBytes?: number | undefined;
  /** Default SNAPSHOT_LOG_BYTES_MIN (4 MiB). */
  snapshotLogBytesMin?: number | undefined;
  /** Bound on appended bytes queued or being written. Default 64 MiB. */
  pendingBytesMax?: number | undefined;
  /** The file opener for logs and snapshots; default node:fs/promises `open`. */
  openFile?: OpenLogFile | undefined;
  /**
   * Whether a node has run on this dir before (its node.json was there): then a dir with
   * neither a log nor a snapshot lost them, and the node refuses to start instead of
   * serving empty under its old id (found by QA). Default false.
   */
  ranBefore?: boolean | undefined;
}

export interface RecoveryReport {
  /** Entries read from the snapshot (0 without one). */
  snapshotEntries: number;
  /** Log records replayed on top of it. */
  records: number;
  /** Bytes of an interrupted final append dropped from the newest log (0 if none). */
  droppedTornBytes: number;
  /** The log generation appends now go to. */
  generation: number;
}

export interface OpenedLog {
  log: DurableLog;
  entries: Map<string, Lattice>;
  recovered: RecoveryReport;
}

/** The data dir holds damage that recovery will not guess about; nothing was changed. */
export class CorruptLogError extends Error {
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, reason: string, advice: string) {
    super(
      `${file}, byte offset ${offset}: ${reason}. The node refuses to start rather than ` +
        `lose or invent acknowledged writes, and has changed nothing in its data dir. ${advice}`,
    );
    this.name = 'CorruptLogError';
    this.file = file;
    this.offset = offset;
  }
}

const RESYNC =
  'restore the data dir from a backup, or move it aside and start the node with an empty ' +
  'one so that it re-syncs the keys it owns from their replicas';

function logAdvice(file: string, offset: number): string {
  return (
    `To recover, either ${RESYNC}, or keep every record before the damage by truncating ` +
    `the file to ${offset} bytes (truncate -s ${offset} '${file}') and restarting: the ` +
    'writes recorded from that offset on in this file are lost on this node (its replicas, ' +
    'if any, give them back once it has rejoined).'
  );
}

const SNAPSHOT_ADVICE = `To recover, ${RESYNC}. Do not delete the snapshot alone: the logs it replaced are gone.`;
const MISSING_ADVICE = `If the file was moved, put it back; otherwise ${RESYNC}.`;
const IDENTITY_ADVICE =
  'Fix the file, or delete it to give the node a new id (its peers will see a new node).';

interface LogConfig {
  readonly dir: string;
  readonly policy: FsyncPolicy;
  readonly fsyncIntervalMs: number;
  readonly snapshotLogBytes: number;
  readonly snapshotLogBytesMin: number;
  readonly pendingBytesMax: number;
  readonly openFile: OpenLogFile;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const chosen = value ?? fallback;
  if (!(typeof chosen === 'number' && Number.isFinite(chosen) && chosen > 0)) {
    throw new ValidationError(`${name} must be a finite number > 0, got ${describeValue(chosen)}`);
  }
  return chosen;
}

function resolveOptions(options: DurableLogOptions): LogConfig {
  if (typeof options.dir !== 'string' || options.dir === '') {
    throw new ValidationError('the durable log needs a dir: a non-empty path');
  }
  const policy = options.fsync ?? 'interval';
  if (!FSYNC_POLICIES.includes(policy)) {
    throw new ValidationError(
      `fsync must be always, interval or never, got ${describeValue(policy)}`,
    );
  }
  return {
    dir: options.dir,
    policy,
    fsyncIntervalMs: positive(
      'fsyncIntervalMs',
      options.fsyncIntervalMs,
      FSYNC_INTERVAL_MS_DEFAULT,
    ),
    snapshotLogBytes: positive(
      'snapshotLogBytes',
      options.snapshotLogBytes,
      SNAPSHOT_LOG_BYTES_DEFAULT,
    ),
    snapshotLogBytesMin: positive(
      'snapshotLogBytesMin',
      options.snapshotLogBytesMin,
      SNAPSHOT_LOG_BYTES_MIN,
    ),
    pendingBytesMax: positive(
      'pendingBytesMax',
      options.pendingBytesMax,
      PENDING_BYTES_MAX_DEFAULT,
    ),
    openFile: options.openFile ?? ((path, flags) => open(path, flags)),
  };
}

// ---------------------------------------------------------------------------------------
// Small fs helpers

/** Makes renames, creations and deletions in `dir` durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeFully(file: LogFileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await file.write(offset === 0 ? bytes : bytes.subarray(offset));
    if (!(bytesWritten > 0)) throw new Error(`write() wrote ${bytesWritten} bytes`);
    offset += bytesWritten;
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** Writes a small file atomically: temporary file, fsync, rename, directory fsync. */
async function writeFileDurably(dir: string, name: string, text: string): Promise<void> {
  const temp = join(dir, `${name}.tmp`);
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(text);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(temp, join(dir, name));
  await syncDirectory(dir);
}

// ---------------------------------------------------------------------------------------
// Identity

/**
 * The node's persistent identity in `dir/node.json`: created with `newId()` and
 * incarnation 1 on first start; every later call keeps the id and adds one to the
 * incarnation (so peers can tell a restarted node from a stale message of its past life).
 */
export async function loadIdentity(dir: string, newId: () => string): Promise<NodeIdentity> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, IDENTITY_FILE);
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  let identity: NodeIdentity;
  if (text === undefined) {
    const id = newId();
    if (typeof id !== 'string' || id === '') {
      throw new ValidationError('newId must return a non-empty string');
    }
    identity = { id, incarnation: 1 };
  } else {
    const parsed = parseIdentity(text);
    if (typeof parsed === 'string') {
      throw new CorruptLogError(
        file,
        0,
        `the node identity is unreadable: ${parsed}`,
        IDENTITY_ADVICE,
      );
    }
    identity = { id: parsed.id, incarnation: parsed.incarnation + 1 };
  }
  await writeFileDurably(dir, IDENTITY_FILE, `${JSON.stringify(identity)}\n`);
  return identity;
}

// ---------------------------------------------------------------------------------------
// Recovery: read and judge everything first, change the disk only afterwards

interface Recovered {
  readonly entries: Map<string, Lattice>;
  readonly listing: DataDirListing;
  readonly plan: RecoveryPlan;
  readonly snapshotEntries: number;
  /** The snapshot file's size (0 without one). */
  readonly snapshotBytes: number;
  readonly records: number;
  /** The newest log's torn tail, if it had one. */
  readonly tail: { readonly validBytes: number; readonly droppedBytes: number } | undefined;
  /** Intact bytes of each log generation replayed. */
  readonly liveBytes: Map<number, number>;
}

async function readSnapshotInto(
  dir: string,
  entries: Map<string, Lattice>,
): Promise<{ generation: number; count: number; bytes: number }> {
  const file = join(dir, SNAPSHOT_FILE);
  const bytes = await readFile(file);
  const decoded = decodeSnapshot(bytes);
  if ('reason' in decoded) {
    const reason = `the snapshot is damaged: ${decoded.reason}`;
    throw new CorruptLogError(file, decoded.offset, reason, SNAPSHOT_ADVICE);
  }
  const clash = mergeRecords(entries, decoded.records);
  if (clash !== undefined)
    throw new CorruptLogError(file, clash.offset, clash.reason, SNAPSHOT_ADVICE);
  return { generation: decoded.generation, count: decoded.records.length, bytes: bytes.length };
}

/** Throws unless the log ends cleanly, or (newest log only) in a torn append. */
function checkLogEnd(file: string, end: LogEnd, newest: boolean): void {
  if (end.kind === 'ok') return;
  if (end.kind === 'corrupt') {
    throw new CorruptLogError(file, end.offset, end.reason, logAdvice(file, end.offset));
  }
  if (!newest) {
    const reason =
      `${end.reason} ending a log generation that a newer one follows (each generation ` +
      'is fsynced before the next is created, so this is damage, not an interrupted append)';
    throw new CorruptLogError(file, end.offset, reason, logAdvice(file, end.offset));
  }
}

async function replayLogs(
  dir: string,
  generations: readonly number[],
  entries: Map<string, Lattice>,
): Promise<Pick<Recovered, 'records' | 'tail' | 'liveBytes'>> {
  let records = 0;
  let tail: Recovered['tail'];
  const liveBytes = new Map<number, number>();
  for (const [index, generation] of generations.entries()) {
    const file = join(dir, logFileName(generation));
    const bytes = await readFile(file);
    const decoded = decodeLog(bytes);
    const newest = index === generations.length - 1;
    checkLogEnd(file, decoded.end, newest);
    const clash = mergeRecords(entries, decoded.records);
    if (clash !== undefined) {
      throw new CorruptLogError(file, clash.offset, clash.reason, logAdvice(file, clash.offset));
    }
    records += decoded.records.length;
    liveBytes.set(generation, decoded.validBytes);
    if (decoded.end.kind === 'torn') {
      tail = { validBytes: decoded.validBytes, droppedBytes: bytes.length - decoded.validBytes };
    }
  }
  return { records, tail, liveBytes };
}

/** Reads the snapshot and the logs to replay; throws CorruptLogError, writes nothing. */
async function recoverDataDir(dir: string, ranBefore: boolean): Promise<Recovered> {
  const listing = classifyDataDir(await readdir(dir));
  if (ranBefore && !listing.snapshot && listing.logs.length === 0) {
    throw new CorruptLogError(
      join(dir, logFileName(FIRST_GENERATION)),
      0,
      `log generation ${FIRST_GENERATION} is missing: node.json says a node ran on this dir before, and neither a log nor a snapshot is left`,
      MISSING_ADVICE,
    );
  }
  const entries = new Map<string, Lattice>();
  const snapshot = listing.snapshot ? await readSnapshotInto(dir, entries) : undefined;
  const plan = planRecovery(snapshot?.generation, listing.logs);
  if ('missing' in plan) {
    const file = join(dir, logFileName(plan.missing));
    const reason =
      snapshot === undefined && plan.missing < Math.min(...listing.logs)
        ? `snapshot.bin is missing (the logs here begin at generation ${Math.min(...listing.logs)}, and the node deletes older logs only once a snapshot holds them), or log generation ${plan.missing} is`
        : `log generation ${plan.missing} is missing (the snapshot and the logs present need it)`;
    throw new CorruptLogError(file, 0, reason, MISSING_ADVICE);
  }
  const replayed = await replayLogs(dir, plan.replay, entries);
  if (replayed.liveBytes.size === 0) replayed.liveBytes.set(plan.appendGeneration, 0);
  return {
    entries,
    listing,
    plan,
    snapshotEntries: snapshot?.count ?? 0,
    snapshotBytes: snapshot?.bytes ?? 0,
    ...replayed,
  };
}

/** Opens (creating if need be) a log generation and makes its directory entry durable. */
async function openLogFile(config: LogConfig, generation: number): Promise<LogFileHandle> {
  const file = await config.openFile(join(config.dir, logFileName(generation)), 'a');
  try {
    await syncDirectory(config.dir);
  } catch (error) {
    await file.close().catch(() => undefined);
    throw error;
  }
  return file;
}

/** The repairs recovery decided on: truncate a torn tail, delete compaction leftovers. */
async function openAppendFile(config: LogConfig, recovered: Recovered): Promise<LogFileHandle> {
  const { dir } = config;
  for (const generation of recovered.plan.stale) {
    await rm(join(dir, logFileName(generation)), { force: true });
  }
  if (recovered.listing.snapshotTemp) await rm(join(dir, SNAPSHOT_TEMP_FILE), { force: true });
  const file = await openLogFile(config, recovered.plan.appendGeneration);
  if (recovered.tail !== undefined) {
    try {
      await file.truncate(recovered.tail.validBytes);
      await file.datasync();
    } catch (error) {
      await file.close().catch(() => undefined);
      throw error;
    }
  }
  return file;
}

// ---------------------------------------------------------------------------------------
// Snapshots

async function writeSnapshotRecords(
  file: LogFileHandle,
  generation: number,
  list: readonly (readonly [string, Lattice])[],
): Promise<number> {
  let chunk: Uint8Array[] = [encodeSnapshotHeader(generation, list.length)];
  let bytes = chunk[0]?.length ?? 0;
  let total = 0;
  for (const [key, value] of list) {
    const record = encodeRecord(key, value);
    chunk.push(record);
    bytes += record.length;
    if (bytes >= SNAPSHOT_CHUNK_BYTES) {
      await writeFully(file, Buffer.concat(chunk, bytes));
      total += bytes;
      chunk = [];
      bytes = 0;
    }
  }
  if (bytes > 0) await writeFully(file, Buffer.concat(chunk, bytes));
  return total + bytes;
}

/** Temporary file, fsync, rename over the old snapshot, directory fsync; resolves to its size. */
async function writeSnapshotFile(
  config: LogConfig,
  generation: number,
  list: readonly (readonly [string, Lattice])[],
): Promise<number> {
  const temp = join(config.dir, SNAPSHOT_TEMP_FILE);
  const file = await config.openFile(temp, 'w');
  let bytes: number;
  try {
    bytes = await writeSnapshotRecords(file, generation, list);
    await file.datasync();
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await file.close();
  await rename(temp, join(config.dir, SNAPSHOT_FILE));
  await syncDirectory(config.dir);
  return bytes;
}

// ---------------------------------------------------------------------------------------
// The log

interface PendingAppend {
  readonly record: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** A switch to the next log generation, queued behind the appends made before it. */
interface Rotation {
  readonly rotation: true;
  readonly resolve: (generation: number) => void;
  readonly reject: (error: Error) => void;
}

/** A queue with O(1) shift, for queues of millions of small appends. */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head += 1;
    if (this.#head === this.#items.length) this.drain();
    else if (this.#head >= 4096 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  drain(): T[] {
    const rest = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return rest;
  }
}

export class DurableLog {
  readonly #config: LogConfig;
  #file: LogFileHandle;
  #generation: number;
  /** Bytes written to each log generation that no snapshot covers yet. */
  readonly #liveBytes: Map<number, number>;
  /** Appends and rotations in order, for the writer. */
  readonly #queue = new Fifo<PendingAppend | Rotation>();
  /** Appends waiting for room in the queue (backpressure). */
  readonly #blocked = new Fifo<PendingAppend>();
  /** Bytes queued or being written: at most pendingBytesMax, or one record. */
  #bufferedBytes = 0;
  #blockedBytes = 0;
  #writing: Promise<void> | undefined;
  /** Bytes written since the last fsync. */
  #dirty = false;
  #syncDue = false;
  #timer: NodeJS.Timeout | undefined;
  #snapshotting: Promise<void> | undefined;
  /** The last snapshot's size: the logs are compacted once they hold as much. */
  #snapshotBytes: number;
  #closing: Promise<void> | undefined;
  #failure: UnavailableError | undefined;

  private constructor(config: LogConfig, file: LogFileHandle, recovered: Recovered) {
    this.#config = config;
    this.#file = file;
    this.#generation = recovered.plan.appendGeneration;
    this.#liveBytes = recovered.liveBytes;
    this.#snapshotBytes = recovered.snapshotBytes;
    if (config.policy === 'interval') {
      this.#timer = setInterval(() => this.#onSyncTick(), config.fsyncIntervalMs);
      this.#timer.unref();
    }
  }

  /** Recovers the data dir (snapshot, then logs) and opens it for appends. */
  static async open(options: DurableLogOptions): Promise<OpenedLog> {
    const config = resolveOptions(options);
    await mkdir(config.dir, { recursive: true });
    const recovered = await recoverDataDir(config.dir, options.ranBefore === true);
    const file = await openAppendFile(config, recovered);
    const log = new DurableLog(config, file, recovered);
    const report: RecoveryReport = {
      snapshotEntries: recovered.snapshotEntries,
      records: recovered.records,
      droppedTornBytes: recovered.tail?.droppedBytes ?? 0,
      generation: recovered.plan.appendGeneration,
    };
    return { log, entries: recovered.entries, recovered: report };
  }

  /**
   * Logs a lattice value merged into a key (a write, or all of the key). Resolves per the fsync policy; rejects with ValidationError
   * for a bad key or an oversized value, UnavailableError when closed, failed or full.
   */
  append(key: string, value: Lattice): Promise<void> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    let record: Uint8Array;
    try {
      record = encodeRecord(key, value);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => this.#admit({ record, resolve, reject }));
  }

  /** Bytes in the log generations no snapshot covers, including appends not yet written. */
  get logBytes(): number {
    let total = this.#bufferedBytes + this.#blockedBytes;
    for (const bytes of this.#liveBytes.values()) total += bytes;
    return total;
  }

  /**
   * True when no snapshot is under way and the logs hold `snapshotLogBytes`, or as many
   * bytes as the last snapshot and at least `snapshotLogBytesMin`.
   */
  get snapshotDue(): boolean {
    if (this.#snapshotting !== undefined) return false;
    const { snapshotLogBytes, snapshotLogBytesMin } = this.#config;
    const dueBytes = Math.min(snapshotLogBytes, Math.max(snapshotLogBytesMin, this.#snapshotBytes));
    return this.logBytes >= dueBytes;
  }

  /** Why the log refuses appends since a write or fsync failed; undefined while it works. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** The log generation appends go to. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Writes a snapshot of `entries` (taken now, synchronously: pass the store's live
   * entries) and deletes the log generations it covers. While one runs, a second call
   * returns the first's promise: appends after the first call sit in the new generation,
   * which the snapshot does not replace, so nothing is lost.
   */
  snapshot(entries: Iterable<readonly [string, Lattice]>): Promise<void> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    if (this.#snapshotting !== undefined) return this.#snapshotting;
    let list: (readonly [string, Lattice])[];
    try {
      list = Array.from(entries);
    } catch (error) {
      return Promise.reject(error);
    }
    const rotated = new Promise<number>((resolve, reject) => {
      this.#queue.push({ rotation: true, resolve, reject });
      this.#kick();
    });
    const done = this.#compact(list, rotated).finally(() => {
      this.#snapshotting = undefined;
    });
    this.#snapshotting = done;
    return done;
  }

  /** Writes and fsyncs everything appended, then closes; later appends are refused. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#snapshotting?.catch(() => undefined);
    while (this.#writing !== undefined) await this.#writing;
    await this.#sync();
    await this.#file.close();
    if (this.#failure !== undefined) throw this.#failure;
  }

  #refusal(): Error | undefined {
    if (this.#closing !== undefined) {
      return new UnavailableError(`the durable log in ${this.#config.dir} is closed`);
    }
    return this.#failure;
  }

  // -- Admission and backpressure

  #hasRoom(bytes: number): boolean {
    return this.#bufferedBytes === 0 || this.#bufferedBytes + bytes <= this.#config.pendingBytesMax;
  }

  #admit(append: PendingAppend): void {
    const bytes = append.record.length;
    if (this.#blocked.length === 0 && this.#hasRoom(bytes)) {
      this.#enqueue(append);
      return;
    }
    if (this.#blockedBytes > 0 && this.#blockedBytes + bytes > this.#config.pendingBytesMax) {
      const limit = 2 * this.#config.pendingBytesMax;
      const message = `the durable log in ${this.#config.dir} has ${limit} bytes of appends waiting for the disk`;
      append.reject(new UnavailableError(message));
      return;
    }
    this.#blocked.push(append);
    this.#blockedBytes += bytes;
  }

  #enqueue(append: PendingAppend): void {
    this.#queue.push(append);
    this.#bufferedBytes += append.record.length;
    this.#kick();
  }

  #admitBlocked(): void {
    for (let next = this.#blocked.peek(); next !== undefined; next = this.#blocked.peek()) {
      if (!this.#hasRoom(next.record.length)) return;
      this.#blocked.shift();
      this.#blockedBytes -= next.record.length;
      this.#enqueue(next);
    }
  }

  // -- The writer: one loop at a time does every write, fsync and rotation, in order

  #kick(): void {
    if (this.#writing !== undefined) return;
    this.#writing = this.#writeLoop().finally(() => {
      this.#writing = undefined;
      if (this.#failure === undefined && (this.#queue.length > 0 || this.#syncDue)) this.#kick();
    });
  }

  #onSyncTick(): void {
    if (!this.#dirty) return;
    this.#syncDue = true;
    this.#kick();
  }

  async #writeLoop(): Promise<void> {
    // Let the rest of this tick's appends join the batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.#failure === undefined) {
        if (this.#syncDue) {
          this.#syncDue = false;
          await this.#sync();
          continue;
        }
        const front = this.#queue.peek();
        if (front === undefined) break;
        if ('rotation' in front) {
          this.#queue.shift();
          await this.#rotate(front);
        } else await this.#writeBatch(this.#takeBatch());
      }
    } catch (error) {
      this.#fail(error, 'writing');
    }
    if (this.#failure !== undefined) this.#rejectWaiting(this.#failure);
  }

  #takeBatch(): { appends: PendingAppend[]; bytes: number } {
    const appends: PendingAppend[] = [];
    let bytes = 0;
    for (let next = this.#queue.peek(); next !== undefined; next = this.#queue.peek()) {
      if ('rotation' in next) break;
      this.#queue.shift();
      appends.push(next);
      bytes += next.record.length;
    }
    return { appends, bytes };
  }

  async #writeBatch({ appends, bytes }: { appends: PendingAppend[]; bytes: number }) {
    try {
      const only = appends.length === 1 ? appends[0] : undefined;
      const batch =
        only?.record ??
        Buffer.concat(
          appends.map((append) => append.record),
          bytes,
        );
      await writeFully(this.#file, batch);
      this.#liveBytes.set(this.#generation, (this.#liveBytes.get(this.#generation) ?? 0) + bytes);
      this.#dirty = true;
    } catch (error) {
      this.#fail(error, 'writing');
    }
    if (this.#config.policy === 'always') await this.#sync();
    this.#bufferedBytes -= bytes;
    const failure = this.#failure;
    for (const append of appends) {
      if (failure === undefined) append.resolve();
      else append.reject(failure);
    }
    this.#admitBlocked();
  }

  /** Fsyncs the current log if anything was written since the last fsync. Never throws. */
  async #sync(): Promise<void> {
    if (!this.#dirty || this.#failure !== undefined) return;
    this.#dirty = false;
    try {
      await this.#file.datasync();
    } catch (error) {
      this.#fail(error, 'fsyncing');
    }
  }

  /** Fsyncs the current generation, then creates the next and appends go there. */
  async #rotate(rotation: Rotation): Promise<void> {
    await this.#sync();
    if (this.#failure !== undefined) {
      rotation.reject(this.#failure);
      return;
    }
    const next = this.#generation + 1;
    let file: LogFileHandle;
    try {
      file = await openLogFile(this.#config, next);
    } catch (error) {
      // The current generation stays in use: nothing is lost, the snapshot fails.
      rotation.reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const old = this.#file;
    this.#file = file;
    this.#generation = next;
    this.#liveBytes.set(next, 0);
    // The old generation is fsynced already, so a failed close loses nothing.
    await old.close().catch(() => undefined);
    rotation.resolve(next);
  }

  async #compact(list: readonly (readonly [string, Lattice])[], rotated: Promise<number>) {
    const generation = await rotated;
    this.#snapshotBytes = await writeSnapshotFile(this.#config, generation, list);
    for (const old of [...this.#liveBytes.keys()]) {
      if (old >= generation) continue;
      await rm(join(this.#config.dir, logFileName(old)), { force: true });
      this.#liveBytes.delete(old);
    }
    await syncDirectory(this.#config.dir);
  }

  #fail(error: unknown, during: string): void {
    if (this.#failure !== undefined) return;
    const reason = error instanceof Error ? error.message : String(error);
    this.#failure = new UnavailableError(
      `the durable log in ${this.#config.dir} failed while ${during} (${reason}); it refuses ` +
        'appends until the node restarts and recovers from disk',
    );
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  #rejectWaiting(failure: Error): void {
    for (const item of this.#queue.drain()) item.reject(failure);
    for (const item of this.#blocked.drain()) item.reject(failure);
    this.#bufferedBytes = 0;
    this.#blockedBytes = 0;
  }
}
