/**
 * Keeps the README walkthrough true: its client script runs against a node started with
 * the examples, as `npm start` would start it, and prints what the README says.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { startNodeProcess } from '../../src/sim/index.js';

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
