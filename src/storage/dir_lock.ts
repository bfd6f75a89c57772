/**
 * One node per data dir. Two processes appending to one log and renaming each other's
 * snapshots lose acknowledged writes without a word (found by trying it), so a node takes
 * `LOCK` in its data dir when it starts: a file created exclusively, holding its pid. A lock
 * left by a process that is gone (a crash, `kill -9`) is taken over; one held by a live
 * process refuses the start. The lock is removed when the node stops.
 */
import { open, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';

const LOCK_FILE = 'LOCK';

export interface DirLock {
  release(): Promise<void>;
}

export async function lockDataDir(dir: string): Promise<DirLock> {
  const path = join(dir, LOCK_FILE);
  const mine = `${process.pid}\n`;
  try {
    const handle = await open(path, 'wx');
    await handle.writeFile(mine);
    await handle.close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
      throw new ValidationError(
        `data dir ${dir} is in use by process ${holder} (another squall node?): ` +
          'give each node its own data dir',
      );
    }
    await writeFile(path, mine);
  }
  return {
    async release() {
      const now = await readFile(path, 'utf8').catch(() => '');
      if (now === mine) await unlink(path).catch(() => undefined);
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
