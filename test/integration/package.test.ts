/**
 * The package as a user installs it: `npm pack`, install the tarball into a plain Node.js
 * project, import `squall` there, run a node and call it, and run its `squall` command.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

test('npm pack yields a package a plain project installs and uses', async (t) => {
  t.timeout(180_000);
  const project = mkdtempSync(join(tmpdir(), 'squall-consumer-'));
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', project], {
    cwd: root,
    maxBuffer: 1 << 24,
  });
  const tarball = stdout.trim().split('\n').pop()!;
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', type: 'module', private: true }),
  );
  await run('npm', ['install', '--no-audit', '--no-fund', join(project, tarball)], {
    cwd: project,
  });
  writeFileSync(
    join(project, 'main.js'),
    `import { connect, lattice, startNode, ValidationError } from 'squall';
     const node = await startNode({ port: 0, httpPort: false, executors: 1 });
     const cloud = await connect(node.address);
     const twice = await cloud.register('twice', (_ctx, x) => x * 2);
     const out = { twice: await twice(21) };
     out.deployed = await cloud.deploy('export function len(_c, s) { return s.length }');
     out.len = await cloud.call('len', ['four']);
     await cloud.put('s', lattice.set([2, 1]));
     out.set = await cloud.get('s');
     out.typed = await cloud.put('__squall/x', 1).catch((e) => e instanceof ValidationError);
     cloud.close();
     await node.stop();
     console.log(JSON.stringify(out));`,
  );
  const result = await run(process.execPath, ['main.js'], { cwd: project });
  t.deepEqual(JSON.parse(result.stdout.trim().split('\n').pop()!), {
    twice: 42,
    deployed: ['len'],
    len: 4,
    set: [1, 2],
    typed: true,
  });
  const help = await run(join(project, 'node_modules', '.bin', 'squall'), ['--help'], {
    cwd: project,
  });
  t.regex(help.stdout, /Usage: squall/);
});
