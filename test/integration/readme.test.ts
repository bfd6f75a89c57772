/**
 * Keeps the README walkthrough true: its "Try it" commands and its client script run
 * against a node started with the examples, as `npm start` would start it, and print what
 * the README says.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { runCli, startNodeProcess } from '../../src/sim/index.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

test('the quickstart script prints what the README shows', async (t) => {
  const node = await startNodeProcess(['--examples']);
  try {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'examples/clients/quickstart.ts'],
      {
        cwd: root,
        env: { ...process.env, SQUALL_ADDRESS: node.address },
      },
    );
    t.is(
      stdout,
      [
        'square(12) = 144',
        'visits to home: 2',
        'average of 10 and 20: 15',
        "tags: [ 'fast', 'stateful', 'typed' ]",
        '16 + 3 = 19',
        "deployed [ 'shout' ] → HELLO!",
        '',
      ].join('\n'),
    );
  } finally {
    await node.stop();
  }
});

/** The "Try it" commands, each with the JSON its comment says it prints (if it says one). */
function tryItCommands(): { args: string[]; expected: unknown }[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = /## Try it[^\n]*\n+```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  return block
    .split('\n')
    .filter((line) => line.startsWith('npx squall '))
    .map((line) => {
      const [command = '', comment = ''] = line.split(/\s+# /);
      // Arguments are single-quoted JSON or bare words, as a shell would split them.
      const args = [...command.slice('npx squall '.length).matchAll(/'([^']*)'|(\S+)/g)].map(
        (m) => m[1] ?? m[2] ?? '',
      );
      const shown = comment.split(/\s{2,}/)[0] ?? '';
      let expected: unknown;
      try {
        expected = JSON.parse(shown);
      } catch {
        expected = undefined;
      }
      return { args, expected };
    });
}

test('the "Try it" commands print what the README shows', async (t) => {
  const commands = tryItCommands();
  t.true(commands.length >= 8);
  const node = await startNodeProcess(['--examples']);
  try {
    for (const { args, expected } of commands) {
      const result = await runCli(args, { SQUALL_ADDRESS: node.address });
      t.is(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      if (expected !== undefined) t.deepEqual(JSON.parse(result.stdout), expected, args.join(' '));
    }
  } finally {
    await node.stop();
  }
});
