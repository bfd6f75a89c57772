/**
 * The shared setup of integration test files: one real node process for the whole file
 * and an SDK connection to it, stopped after the last test.
 */
import anyTest, { type TestFn } from 'ava';
import { type Cloud, connect } from '../../src/index.js';
import { type NodeProcess, startNodeProcess } from '../../src/sim/index.js';

export interface NodeContext {
  node: NodeProcess;
  cloud: Cloud;
}

/**
 * An ava `test` whose context holds a node started with `args` and a client of it;
 * `setup` runs once the client is connected (ava runs `before` hooks concurrently, so
 * setup that needs the client belongs here rather than in another hook).
 */
export function testWithNode(
  args: string[],
  setup?: (context: NodeContext) => Promise<void>,
): TestFn<NodeContext> {
  const test = anyTest as TestFn<NodeContext>;
  test.before(async (t) => {
    const node = await startNodeProcess(args);
    t.context = { node, cloud: await connect(node.address) };
    await setup?.(t.context);
  });
  test.after.always(async (t) => {
    t.context.cloud?.close();
    await t.context.node?.stop();
  });
  return test;
}

/** Polls `check` until it holds (errors count as not yet), or fails after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Starts `size` node processes on 127.0.0.1 (node i with `argsFor(i)`, each after the first
 * joining the first), connects a client to each, and waits until every node sees all of
 * them alive. On failure it stops what it started.
 */
export async function startCluster(
  size: number,
  argsFor: (i: number) => string[],
): Promise<{ nodes: NodeProcess[]; clouds: Cloud[] }> {
  const nodes = [await startNodeProcess(argsFor(0))];
  const clouds: Cloud[] = [];
  try {
    for (let i = 1; i < size; i++)
      nodes.push(await startNodeProcess([...argsFor(i), '--join', nodes[0]!.address]));
    clouds.push(...(await Promise.all(nodes.map((n) => connect(n.address)))));
    await waitFor(`${size} alive members everywhere`, async () =>
      (await Promise.all(clouds.map((c) => c.status()))).every(
        (s) => s.nodes.filter((n) => n.state === 'alive').length === size,
      ),
    );
    return { nodes, clouds };
  } catch (error) {
    for (const cloud of clouds) cloud.close();
    await Promise.all(nodes.map((n) => n.stop()));
    throw error;
  }
}
