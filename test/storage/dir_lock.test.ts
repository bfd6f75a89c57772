import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
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
    const atMs = Date.now() + 3000;
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, () =>
        run(process.execPath, ['--import', 'tsx', CONTENDER, dir, String(atMs)]).then(
          ({ stdout }) => stdout.trim(),
        ),
      ),
    );
    t.is(outcomes.filter((o) => o === 'won').length, 1, outcomes.join(' | '));
    for (const o of outcomes.filter((o) => o !== 'won'))
      t.regex(o, /^refused data dir .* is in use by (process \d+|another process)/);
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

test('a killed node not yet reaped by its parent (a zombie) holds no lock', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'squall-lockzombie-'));
  // A node whose parent shell became `sleep`, which never reaps it: killed, it stays a
  // zombie (a child of this process would be reaped by libuv at once).
  const parent = spawn('sh', [
    '-c',
    `"${process.execPath}" -e "setTimeout(() => {}, 30000)" & echo $!; exec sleep 30`,
  ]);
  try {
    const pid = await new Promise<number>((resolve) =>
      parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    process.kill(pid, 'SIGKILL');
    const stateOf = () => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      return stat.charAt(stat.lastIndexOf(')') + 2);
    };
    const deadline = Date.now() + 5000;
    while (stateOf() !== 'Z' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    t.is(stateOf(), 'Z');
    writeFileSync(join(dir, 'LOCK'), `${pid}\n`);
    const lock = await lockDataDir(dir);
    t.is(readFileSync(join(dir, 'LOCK'), 'utf8'), `${process.pid}\n`);
    await lock.release();
  } finally {
    parent.kill('SIGKILL');
  }
});

test('an empty takeover file left by a taker that died before writing its pid goes stale', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'squall-locktake-'));
  writeFileSync(join(dir, 'LOCK'), '4194305\n');
  writeFileSync(join(dir, 'LOCK.takeover'), '');
  const longAgo = new Date(Date.now() - 60_000);
  utimesSync(join(dir, 'LOCK.takeover'), longAgo, longAgo);
  const lock = await lockDataDir(dir);
  t.is(readFileSync(join(dir, 'LOCK'), 'utf8'), `${process.pid}\n`);
  await lock.release();
  // A fresh empty one may be a live taker that is writing its pid: waited for, then refused.
  writeFileSync(join(dir, 'LOCK'), '4194305\n');
  writeFileSync(join(dir, 'LOCK.takeover'), '');
  await t.throwsAsync(lockDataDir(dir), { message: /in use by another process starting on it/ });
});

test('a second node in the same process is refused the dir; after the first lets go it may take it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'squall-lockself-'));
  const first = await lockDataDir(dir);
  await t.throwsAsync(lockDataDir(`${dir}/.`), {
    message: new RegExp(`is in use by process ${process.pid}`),
  });
  t.is(readFileSync(join(dir, 'LOCK'), 'utf8'), `${process.pid}\n`, 'the refusal kept the lock');
  await first.release();
  const second = await lockDataDir(dir);
  await second.release();
  t.pass();
});
