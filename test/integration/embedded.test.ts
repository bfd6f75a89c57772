/**
 * A node embedded in the user's own process (`startNode`), driven through the SDK: the
 * node's own limits are the client's, and a data dir is one node's, in this process too.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type Context, connect, startNode, ValidationError } from '../../src/index.js';

test("a node's smaller frame limit is the client's: too large a request fails alone", async (t) => {
  const node = await startNode({
    port: 0,
    httpPort: false,
    executors: 1,
    valueBytesMax: 1 << 20,
    frameBytesMax: 2 << 20,
  });
  const cloud = await connect(node.address);
  try {
    await cloud.register('size', (_ctx: Context, bytes: Uint8Array) => bytes.length);
    await cloud.register('nap', async (_ctx: Context, ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return 'rested';
    });
    const napping = cloud.call('nap', [500]);
    await t.throwsAsync(cloud.call('size', [new Uint8Array(3 << 20)]), {
      instanceOf: ValidationError,
      message: /exceeds the frame limit of 2097152/,
    });
    await t.throwsAsync(cloud.put('big', new Uint8Array(3 << 20)), { instanceOf: ValidationError });
    t.is(await napping, 'rested', 'the call beside it was not lost with a closed connection');
    t.is(await cloud.call('size', [new Uint8Array(1000)]), 1000);
  } finally {
    cloud.close();
    await node.stop();
  }
});

test('two nodes in one process cannot share a data dir', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'squall-embedded-'));
  const first = await startNode({ port: 0, httpPort: false, executors: 1, dataDir });
  try {
    await t.throwsAsync(startNode({ port: 0, httpPort: false, executors: 1, dataDir }), {
      instanceOf: ValidationError,
      message: /is in use by process/,
    });
  } finally {
    await first.stop();
  }
  // Once the first has stopped, the dir is free again.
  const again = await startNode({ port: 0, httpPort: false, executors: 1, dataDir });
  t.is(again.id, first.id, 'the same node, back from its data dir');
  await again.stop();
});
