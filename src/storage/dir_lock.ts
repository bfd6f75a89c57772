/**
 * One node per data dir. Two processes appending to one log and renaming each other's
 * snapshots lose acknowledged writes without a word (found by trying it), so a node takes
 * `LOCK` in its data dir when it starts: a file created exclusively, holding its pid. A lock
 * left by a process that is gone (a crash, `kill -9`) is taken over; one held by a live
 * process refuses the start, and so does a dir another node in this process holds. The
 * lock is removed when the node stops.
 */
import { readFileSync } from 'node:fs';
import { type FileHandle, open, readFile, realpath, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ValidationError } from '../errors.js';

const LOCK_FILE = 'LOCK';
const TAKEOVER_FILE = 'LOCK.takeover';
const TAKEOVER_ATTEMPTS = 20;
const TAKEOVER_PAUSE_MS = 25;
/** An empty takeover file this old was left by a taker that died before writing its pid. */
const EMPTY_TAKEOVER_STALE_MS = 2_000;

export interface DirLock {
  release(): Promise<void>;
}

/**
 * The data dirs held by nodes in this process (real paths). Their lock files all hold this
 * process's pid, so the file alone cannot tell a second node embedded in the same process
 * (startNode twice) that the dir is taken.
 */
const heldHere = new Set<string>();

export async function lockDataDir(dir: string): Promise<DirLock> {
  const held = await realpath(dir).catch(() => resolve(dir));
  if (heldHere.has(held)) throw inUse(dir, process.pid);
  heldHere.add(held);
  try {
    return await lockFile(dir, () => heldHere.delete(held));
  } catch (error) {
    heldHere.delete(held);
    throw error;
  }
}

async function lockFile(dir: string, onRelease: () => void): Promise<DirLock> {
  const path = join(dir, LOCK_FILE);
  const mine = `${process.pid}\n`;
  for (let attempt = 0; ; attempt++) {
    if (await createExclusive(path, mine)) break;
    const holder = await pidIn(path);
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) throw inUse(dir, holder);
    // A stale lock: taken over by one process at a time, through a second exclusive file,
    // so two nodes started together on a crashed node's dir cannot both take it (QA).
    const takeover = join(dir, TAKEOVER_FILE);
    if (await createExclusive(takeover, mine)) {
      try {
        const now = await pidIn(path);
        if (now !== undefined && now !== process.pid && isAlive(now)) throw inUse(dir, now);
        await unlink(path).catch(() => undefined);
        // Someone who found no lock at all in the moment between may hold it now.
        if (!(await createExclusive(path, mine))) throw inUse(dir, await pidIn(path));
      } finally {
        await unlink(takeover).catch(() => undefined);
      }
      break;
    }
    const taker = await pidIn(takeover);
    if (attempt >= TAKEOVER_ATTEMPTS) throw inUse(dir, taker);
    // Another process is taking the lock over. One that died doing it left its file behind:
    // with its pid, or empty when it died (or its disk filled) before writing it — an empty
    // file is stale once older than any live taker takes to write a pid.
    if (taker === undefined ? await olderThan(takeover, EMPTY_TAKEOVER_STALE_MS) : !isAlive(taker))
      await unlink(takeover).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, TAKEOVER_PAUSE_MS));
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      const now = await readFile(path, 'utf8').catch(() => '');
      if (now === mine) await unlink(path).catch(() => undefined);
      onRelease();
    },
  };
}

/** Creates `path` holding `text` if no such file exists; false if one does. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
  return true;
}

/** The pid a lock file holds (undefined: gone, empty or not a number). */
async function pidIn(path: string): Promise<number | undefined> {
  const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function inUse(dir: string, pid: number | undefined): ValidationError {
  const by = pid === undefined ? 'another process starting on it' : `process ${pid}`;
  return new ValidationError(
    `data dir ${dir} is in use by ${by} (another squall node?): give each node its own data dir`,
  );
}

/** Whether the file at `path` was last written more than `ms` ago (false: gone). */
async function olderThan(path: string, ms: number): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs > ms;
}

/**
 * Whether the process that wrote a lock may still hold it: it lives, and — where the
 * system says what a process runs (Linux's /proc) — it is a Node.js process. A crashed
 * node's pid taken over since by some other program would otherwise lock its data dir
 * for good.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, under another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let command: string;
  try {
    // A killed node whose parent has not reaped it yet is a zombie: it holds nothing, and
    // a restart right after a kill -9 was refused as "in use" until it was reaped (QA).
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    if (state === 'Z' || state === 'X') return false;
    command = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return true;
  }
  return command === '' || /node|squall/i.test(command);
}
