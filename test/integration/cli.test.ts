/**
 * The `squall` command as a user types it: a node started with `--examples`, then deploy,
 * call, get, put and status from other processes; errors as `error CODE: message` with a
 * non-zero exit code.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect as connectTcp, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { type NodeProcess, runCli, startNodeProcess } from '../../src/sim/index.js';
import { waitFor } from './node_fixture.js';

const test = anyTest as TestFn<{ node: NodeProcess; env: NodeJS.ProcessEnv }>;

test.before(async (t) => {
  const node = await startNodeProcess(['--examples', '--executors', '2']);
  t.context = { node, env: { SQUALL_ADDRESS: node.address } };
});

test.after.always(async (t) => {
  t.is(await t.context.node?.stop('SIGINT'), 0, 'SIGINT stops the node cleanly');
});

test('start --examples deploys the examples and names them', async (t) => {
  const first = (t.context.node.child.spawnargs ?? []).join(' ');
  t.regex(first, /--examples/);
  const result = await runCli(['call', 'greet', '"Ada"'], t.context.env);
  t.is(result.code, 0, result.stderr);
  t.is(JSON.parse(result.stdout), 'Hello, Ada!');
  const counter = await runCli(['call', 'Counter', '5'], t.context.env);
  t.is(JSON.parse(counter.stdout), 5);
  const again = await runCli(['call', 'Counter', '2'], t.context.env);
  t.is(JSON.parse(again.stdout), 7);
});

test('deploy a file, then call it with JSON arguments', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'squall-cli-'));
  const file = join(folder, 'maths.ts');
  writeFileSync(
    file,
    `export function mul(_ctx: unknown, a: number, b: number): number { return a * b; }
     export function describe(_ctx: unknown, o: { name: string; tags: string[] }) {
       return \`\${o.name}: \${o.tags.join('+')}\`;
     }`,
  );
  const deployed = await runCli(['deploy', file], t.context.env);
  t.is(deployed.code, 0, deployed.stderr);
  t.deepEqual(JSON.parse(deployed.stdout), ['describe', 'mul']);
  const mul = await runCli(['call', 'mul', '6', '7'], t.context.env);
  t.is(JSON.parse(mul.stdout), 42);
  const desc = await runCli(['call', 'describe', '{"name":"x","tags":["a","b"]}'], t.context.env);
  t.is(JSON.parse(desc.stdout), 'x: a+b');
});

test('put and get through the CLI, with --address', async (t) => {
  const address = ['--address', t.context.node.address];
  const put = await runCli(['put', 'cli/key', '{"a":[1,2]}', ...address]);
  t.is(put.code, 0, put.stderr);
  const get = await runCli(['get', 'cli/key', ...address]);
  t.deepEqual(JSON.parse(get.stdout), { a: [1, 2] });
  const missing = await runCli(['get', 'cli/missing', ...address]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^error NOT_FOUND: key "cli\/missing" is not set/);
  // A key that holds JSON null is not a missing one.
  t.is((await runCli(['put', 'cli/null', 'null', ...address])).code, 0);
  const held = await runCli(['get', 'cli/null', ...address]);
  t.is(held.code, 0);
  t.is(JSON.parse(held.stdout), null);
});

test('status prints text, and JSON with --json', async (t) => {
  const text = await runCli(['status'], t.context.env);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, new RegExp(`node ${t.context.node.id}`));
  t.regex(text.stdout, /executors \(2\)/);
  t.regex(text.stdout, /greet/);
  const json = await runCli(['status', '--json'], t.context.env);
  const status = JSON.parse(json.stdout);
  t.is(status.node.id, t.context.node.id);
  t.is(status.nodes[0].state, 'alive');
});

test('errors are one line on stderr with the code, and a non-zero exit', async (t) => {
  const { env } = t.context;
  const missing = await runCli(['call', 'no-such-fn'], env);
  t.is(missing.code, 1);
  t.is(missing.stdout, '');
  t.regex(missing.stderr, /^error NOT_FOUND: function no-such-fn is not registered\n$/);
  for (const missing of [[], ['dag']]) {
    const help = await runCli(missing, env);
    t.is(help.code, 1, `squall ${missing.join(' ')}`);
    t.regex(help.stderr, /Usage: squall/);
  }
  for (const usage of [['put', 'k'], ['no-such-command'], ['get', 'k', '--no-such-flag']]) {
    const wrong = await runCli(usage, env);
    t.is(wrong.code, 1, usage.join(' '));
    t.regex(wrong.stderr, /^error INVALID: [^\n]+\n$/, usage.join(' '));
  }
  const badJson = await runCli(['call', 'greet', 'Ada'], env);
  t.is(badJson.code, 1);
  t.regex(badJson.stderr, /^error INVALID: argument 1 is not JSON: Ada/);
  const thrown = await runCli(['call', 'add', '"x"', '1'], env);
  t.is(thrown.code, 1);
  t.regex(thrown.stderr, /^error FUNCTION_FAILED: add expects two numbers/);
  const noFile = await runCli(['deploy', '/nonexistent/file.ts'], env);
  t.is(noFile.code, 1);
  t.regex(noFile.stderr, /^error INVALID: /);
  const down = await runCli(['get', 'x', '--address', '127.0.0.1:1']);
  t.is(down.code, 1);
  t.regex(down.stderr, /^error UNAVAILABLE: cannot reach squall node at 127\.0\.0\.1:1/);
  const badPut = await runCli(['put', 'k', '{oops'], env);
  t.is(badPut.code, 1);
  t.regex(badPut.stderr, /^error INVALID: the value is not JSON/);
  const infinite = await runCli(['put', 'k', '[1e400]'], env);
  t.is(infinite.code, 1);
  t.regex(infinite.stderr, /^error INVALID: a number is too large for a JSON number/);
  // The hint's quoting is one shell word that gives back exactly what was typed.
  const quoted = await runCli(['put', 'k', "{'a':1}"], env);
  t.true(quoted.stderr.includes(`quote it: '"{'\\''a'\\'':1}"')`), quoted.stderr);
  // The node's HTTP port, or a URL, as the address: said so, not a timeout.
  const http = await runCli(['get', 'x', '--address', t.context.node.httpAddress!]);
  t.regex(
    http.stderr,
    /^error UNAVAILABLE: cannot use 127\.0\.0\.1:\d+: the other side speaks HTTP/,
  );
  const url = await runCli(['get', 'x', '--address', `http://${t.context.node.address}`]);
  t.regex(url.stderr, /^error INVALID: address "http:\/\/[^"]+" is a URL: give host:port/);
});

test('--version prints the version', async (t) => {
  const version = await runCli(['--version']);
  t.is(version.code, 0);
  t.regex(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('start refuses bad flags with a clear error', async (t) => {
  const result = await runCli(['start', '--port', 'abc']);
  t.is(result.code, 1);
  t.regex(result.stderr, /^error INVALID: --port needs an integer/);
  for (const [args, message] of [
    [['--port', ''], /^error INVALID: --port needs an integer, not ""/],
    [['--port', '0x6D60'], /^error INVALID: --port needs an integer, not "0x6D60"/],
    [
      ['--join', '127.0.0.1:99999'],
      /^error INVALID: join: "127\.0\.0\.1:99999" has no port from 1 to 65535/,
    ],
    [['--cache-mb', '-5'], /^error INVALID: --cache-mb must be from 1 to 2047, not -5/],
    [['--fsync', 'always'], /^error INVALID: --fsync needs --data-dir/],
  ] as const) {
    const refused = await runCli(['start', '--http-port', 'off', ...args]);
    t.is(refused.code, 1, args.join(' '));
    t.regex(refused.stderr, message);
  }
  const busy = await runCli([
    'start',
    '--port',
    t.context.node.address.split(':')[1]!,
    '--http-port',
    '0',
  ]);
  t.is(busy.code, 1);
  t.regex(busy.stderr, /^error UNAVAILABLE: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
});

test('a node that drops a torn last log record says so when it starts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'squall-torn-'));
  const args = ['--executors', '1', '--http-port', 'off', '--data-dir', dir];
  const first = await startNodeProcess(args);
  try {
    const env = { SQUALL_ADDRESS: first.address };
    for (const value of ['1', '2']) t.is((await runCli(['put', 'torn', value], env)).code, 0);
  } finally {
    await first.stop();
  }
  truncateSync(join(dir, 'log-1.bin'), statSync(join(dir, 'log-1.bin')).size - 3);
  const again = await startNodeProcess(args);
  try {
    t.regex(again.stderr(), /the end of log-1\.bin was torn .*dropped its last \d+ bytes/);
    const read = await runCli(['get', 'torn'], { SQUALL_ADDRESS: again.address });
    t.is(read.stdout.trim(), '1', 'the write before the torn one is kept');
  } finally {
    await again.stop();
  }
});

test('start refuses a data dir it cannot use with INVALID', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'squall-cli-')), 'a-file');
  writeFileSync(file, 'not a directory');
  for (const dir of [file, join(file, 'sub')]) {
    const result = await runCli(['start', '--port', '0', '--http-port', 'off', '--data-dir', dir]);
    t.is(result.code, 1);
    t.regex(result.stderr, /^error INVALID: cannot use .* as the data dir: (EEXIST|ENOTDIR)/);
  }
});

test('dag create, call, list and delete from the command line', async (t) => {
  const { env } = t.context;
  const created = await runCli(
    ['dag', 'create', 'cliDag', '--functions', 'add,greet', '--edge', 'add:greet'],
    env,
  );
  t.is(created.code, 0, created.stderr);
  const called = await runCli(['dag', 'call', 'cliDag', '--args', '{"add":[2,3]}'], env);
  t.is(called.code, 0, called.stderr);
  t.is(JSON.parse(called.stdout), 'Hello, world!');
  for (const consistency of ['repeatable-read', 'causal']) {
    const args = ['dag', 'call', 'cliDag', '--args', '{"add":[2,3]}', '--consistency', consistency];
    const again = await runCli(args, env);
    t.is(again.code, 0, again.stderr);
    t.is(JSON.parse(again.stdout), 'Hello, world!');
  }
  const listed = await runCli(['dag', 'list'], env);
  t.true((JSON.parse(listed.stdout) as string[]).includes('cliDag'));
  const cycle = await runCli(
    [
      'dag',
      'create',
      'loop',
      '--functions',
      'add,greet',
      '--edge',
      'add:greet',
      '--edge',
      'greet:add',
    ],
    env,
  );
  t.is(cycle.code, 1);
  t.regex(cycle.stderr, /^error INVALID: DAG "loop" has a cycle/);
  // --functions may be repeated; an empty name is a mistake.
  const repeated = await runCli(
    ['dag', 'create', 'twice', '--functions', 'add', '--functions', 'greet', '--edge', 'add:greet'],
    env,
  );
  t.is(repeated.code, 0, repeated.stderr);
  t.deepEqual(JSON.parse(repeated.stdout).functions, ['add', 'greet']);
  const empty = await runCli(['dag', 'create', 'holes', '--functions', 'add,,greet'], env);
  t.regex(empty.stderr, /^error INVALID: --functions add,,greet has an empty name/);
  t.is((await runCli(['dag', 'delete', 'cliDag'], env)).code, 0);
  const gone = await runCli(['dag', 'call', 'cliDag'], env);
  t.regex(gone.stderr, /^error NOT_FOUND: DAG cliDag is not registered/);
});

test('a node whose seeds never answer serves alone and says so in status', async (t) => {
  const free = createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const seed = `127.0.0.1:${(free.address() as AddressInfo).port}`;
  await new Promise((resolve) => free.close(resolve));
  const node = await startNodeProcess(['--executors', '1', '--http-port', 'off', '--join', seed]);
  try {
    const status = await runCli(['status', '--json'], { SQUALL_ADDRESS: node.address });
    t.deepEqual(JSON.parse(status.stdout).seedsUnanswered, [seed]);
    const text = await runCli(['status'], { SQUALL_ADDRESS: node.address });
    t.regex(text.stdout, /warning: no seed has answered yet \(127\.0\.0\.1:\d+\); serving alone/);
    const put = await runCli(['put', 'alone', '1'], { SQUALL_ADDRESS: node.address });
    t.is(put.code, 0, 'it serves meanwhile');
  } finally {
    await node.stop();
  }
});

test('a node whose seed refuses its token says which seed and why in status', async (t) => {
  // Another token, and none at all: a cluster without one must not take in a node that has
  // one (it would hand that node's data to anyone).
  for (const seedToken of [['--token', 'one'], []]) {
    await refusedBySeed(t, seedToken);
  }
});

async function refusedBySeed(t: ExecutionContext, seedToken: string[]): Promise<void> {
  const seed = await startNodeProcess(['--executors', '1', '--http-port', 'off', ...seedToken]);
  try {
    const node = await startNodeProcess([
      ...['--executors', '1', '--http-port', 'off', '--token', 'two', '--join', seed.address],
    ]);
    try {
      const env = { SQUALL_ADDRESS: node.address };
      await waitFor('the refusal to be seen', async () => {
        const status = await runCli(['status', '--json', '--token', 'two'], env);
        return JSON.parse(status.stdout).seedsRefused?.[0]?.address === seed.address;
      });
      const text = await runCli(['status', '--token', 'two'], env);
      t.regex(
        text.stdout,
        /warning: seed 127\.0\.0\.1:\d+ refused this node, which serves alone: .*token/,
      );
      t.notRegex(text.stdout, /no seed has answered/);
    } finally {
      await node.stop();
    }
  } finally {
    await seed.stop();
  }
}

test("a node given a seed's HTTP port says in status that it is not a squall port", async (t) => {
  const seed = await startNodeProcess(['--executors', '1']);
  try {
    const http = seed.httpAddress!;
    const node = await startNodeProcess([
      ...['--executors', '1', '--http-port', 'off', '--join', http],
    ]);
    try {
      const env = { SQUALL_ADDRESS: node.address };
      await waitFor('the refusal to be seen', async () => {
        const status = await runCli(['status', '--json'], env);
        return JSON.parse(status.stdout).seedsRefused?.[0]?.address === http;
      });
      const text = await runCli(['status'], env);
      t.regex(text.stdout, /seed 127\.0\.0\.1:\d+ refused this node.*speaks HTTP/);
    } finally {
      await node.stop();
    }
  } finally {
    await seed.stop();
  }
});

test('a node run through npx stops when npx is sent SIGTERM (its shell does not pass it on)', async (t) => {
  t.timeout(60_000);
  const npx = spawn(
    'npx',
    ['--yes', 'squall', 'start', '--port', '0', '--http-port', 'off', '--executors', '1'],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  let stdout = '';
  npx.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  try {
    await waitFor('the node to serve', async () => /serving on \S+:\d+/.test(stdout), 30_000);
    const [, host, port] = /serving on (\S+):(\d+)/.exec(stdout)!;
    const listening = () =>
      new Promise<boolean>((resolve) => {
        const socket = connectTcp(Number(port), host!);
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
    t.true(await listening());
    npx.kill('SIGTERM');
    await waitFor('the node to stop', async () => !(await listening()), 15_000);
  } finally {
    // Whatever is left of the group, should the test fail.
    try {
      process.kill(-npx.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

test('a node started with another replication factor than the cluster is refused and told which', async (t) => {
  const base = ['--executors', '1', '--http-port', 'off'];
  const seed = await startNodeProcess([...base, '--replication', '3']);
  try {
    const odd = await startNodeProcess([...base, '--replication', '1', '--join', seed.address]);
    try {
      await waitFor('the refusal to be seen', async () => {
        const status = await runCli(['status', '--json'], { SQUALL_ADDRESS: odd.address });
        return /keeps 3 copies .*restart it with --replication 3/.test(
          JSON.parse(status.stdout).seedsRefused?.[0]?.error ?? '',
        );
      });
      const members = await runCli(['status', '--json'], { SQUALL_ADDRESS: seed.address });
      t.is(JSON.parse(members.stdout).nodes.length, 1, 'the cluster did not take it in');
    } finally {
      await odd.stop();
    }
    const same = await startNodeProcess([...base, '--replication', '3', '--join', seed.address]);
    try {
      await waitFor('a node with the same factor to join', async () => {
        const status = await runCli(['status', '--json'], { SQUALL_ADDRESS: seed.address });
        return JSON.parse(status.stdout).ring.members.length === 2;
      });
      t.pass();
    } finally {
      await same.stop();
    }
  } finally {
    await seed.stop();
  }
});

test("a second node on a data dir in use is refused; a dead node's lock is taken over", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'squall-lock-'));
  const args = ['--executors', '1', '--http-port', 'off', '--data-dir', dir];
  const first = await startNodeProcess(args);
  try {
    const second = await runCli(['start', '--port', '0', ...args]);
    t.is(second.code, 1);
    t.regex(second.stderr, /^error INVALID: data dir .* is in use by process \d+/);
  } finally {
    await first.stop('SIGKILL');
  }
  const again = await startNodeProcess(args);
  const code = await again.stop();
  t.is(code, 0, `after a crash the lock left behind does not stop a restart:\n${again.stderr()}`);
});
