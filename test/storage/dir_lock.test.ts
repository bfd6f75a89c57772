import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { lockDataDir } from '../../src/storage/dir_lock.js';

const run = promisify(execFile);
const CONTENDER = new URL('./fixtures/lock_contender.ts', import.meta.url).pathname;

test("processes started together on a dead node's lock: exactly one takes it over", async (t) => {
  t.timeout(60_000);
  for (let round = 0; round < 3; round++) {
    const dir = mkdtempSync(join(tmpdir(), 'squall-lockrace-'));
    // A pid no live process has (above the kernel's default pid_max).
    writeFileSync(join(dir, 'LOCK'), '4194305\n');
    const atMs = Date.now() + 1500;
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, () =>
        run(process.execPath, ['--import', 'tsx', CONTENDER, dir, String(atMs)]).then(
          ({ stdout }) => stdout.trim(),
        ),
      ),
    );
    t.is(outcomes.filter((o) => o === 'won').length, 1, outcomes.join(' | '));
    for (const o of outcomes.filter((o) => o !== 'won'))
      t.regex(o, /^refused data dir .* is in use by process \d+/);
  }
});

test('a lock whose pid now belongs to another program is taken over; a live node keeps its own', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'squall-lockpid-'));
  const other = spawn('sleep', ['30']);
  const node = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
  try {
    writeFileSync(join(dir, 'LOCK'), `${node.pid}\n`);
    await t.throwsAsync(lockDataDir(dir), { message: /is in use by process \d+/ });
    // The crashed node's pid reused by `sleep`: not a node, so the lock is stale.
    writeFileSync(join(dir, 'LOCK'), `${other.pid}\n`);
    const lock = await lockDataDir(dir);
    t.is(readFileSync(join(dir, 'LOCK'), 'utf8'), `${process.pid}\n`);
    await lock.release();
  } finally {
    other.kill();
    node.kill();
  }
});
