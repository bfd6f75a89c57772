/**
 * DagRunner across in-memory nodes: each node is a real DagRunner; peer messages go
 * through a queue (delivered on later turns, in order per pair, dropped for a dead node)
 * and functions are small JavaScript functions over CBOR bytes. Checks: results and
 * argument order, the messages a run costs (an input carries the plan, no clean-up after
 * success), linear stretches on one node run as one executor call, a dead node's part is
 * re-run elsewhere, a throwing function is not re-run, and late messages cannot revive an
 * ended run.
 */
import test from 'ava';
import type { SnapshotEntry } from '../../src/actors/index.js';
import { errorToWire, FunctionError, ValidationError } from '../../src/errors.js';
import { buildDag, type DagGraph } from '../../src/runtime/dag_graph.js';
import {
  type DagMessage,
  type DagPlan,
  type DagReply,
  DagRunner,
} from '../../src/runtime/dag_runner.js';
import { decode, encodeOwned } from '../../src/storage/index.js';

type Fn = (...args: unknown[]) => unknown;

/** The largest result passed between nodes in these tests (small, to test the limit). */
const INPUT_BYTES_MAX = 64 * 1024;

interface Net {
  runners: Map<string, DagRunner>;
  dead: Set<string>;
  sent: { from: string; to: string; message: DagMessage }[];
  /** Executor calls per node: [first function, ...chained]. */
  calls: { node: string; fns: string[]; sendKey?: string | undefined }[];
  outputs: Map<string, unknown>;
  /** Repeatable read: the versions each function was handed. */
  snapshots: Map<string, [string, unknown][]>;
  /** Which node each client holds a connection to, and the answers nodes gave them. */
  clients: Map<string, string>;
  answers: { node: string; reply: DagReply; value: unknown }[];
}

function network(nodes: string[], fns: Record<string, Fn>): Net {
  const net: Net = {
    runners: new Map(),
    dead: new Set(),
    sent: [],
    calls: [],
    outputs: new Map(),
    snapshots: new Map(),
    clients: new Map(),
    answers: [],
  };
  for (const node of nodes) {
    const runner: DagRunner = new DagRunner({
      nodeId: node,
      run: async (fn, args, { inputs, chain, snapshot, onReads, sendKey }) => {
        net.calls.push({ node, fns: [fn, ...chain.map((c) => c.name)], sendKey });
        if (snapshot !== undefined) {
          net.snapshots.set(
            fn,
            snapshot.map(([key, bytes]) => [key, bytes && decode(bytes)]),
          );
          // Each function reads `shared` (unless pinned upstream) and a key of its own.
          const fresh: SnapshotEntry[] = [[`own-${fn}`, encodeOwned(fn)]];
          if (!snapshot.some(([key]) => key === 'shared'))
            fresh.push(['shared', encodeOwned(`as ${fn} read it`)]);
          onReads?.(fresh);
        }
        const apply = async (name: string, own: Uint8Array, ins: Uint8Array[]) => {
          const f = fns[name];
          if (f === undefined) throw new Error(`no function ${name}`);
          return encodeOwned(await f(...ins.map((i) => decode(i)), ...(decode(own) as unknown[])));
        };
        let bytes = await apply(fn, args, inputs);
        for (const step of chain) bytes = await apply(step.name, step.args, [bytes]);
        return bytes;
      },
      chainable: () => true,
      send: (to, message) => {
        if (net.dead.has(to)) return false;
        net.sent.push({ from: node, to, message });
        setImmediate(() => {
          if (net.dead.has(to) || net.dead.has(node)) return;
          deliver(net.runners.get(to)!, message);
        });
        return true;
      },
      writeOutput: async (key, bytes) => {
        net.outputs.set(key, decode(bytes));
      },
      answer: (reply, bytes) => {
        if (net.clients.get(reply.client) !== node) return false;
        net.answers.push({ node, reply, value: decode(bytes) });
        return true;
      },
      alive: (n) => !net.dead.has(n),
      inputBytesMax: INPUT_BYTES_MAX,
      nowMs: Date.now,
    });
    net.runners.set(node, runner);
  }
  return net;
}

function deliver(runner: DagRunner, message: DagMessage): void {
  switch (message.op) {
    case 'dag-plan':
      runner.onPlan(message.plan);
      break;
    case 'dag-input':
      runner.onInput(message.runId, message.fn, message.from, message, message.plan);
      break;
    case 'dag-done':
      runner.onDone(message.runId, message.outcome);
      break;
    case 'dag-cancel':
      runner.onCancel(message.runId);
      break;
  }
}

function dag(functions: string[], edges: [string, string][]): DagGraph {
  return buildDag({ name: 'd', functions, edges }, () => true);
}

function call(
  net: Net,
  coordinator: string,
  graph: DagGraph,
  args: Record<string, unknown[]>,
  place: (excluded: Set<string>) => Record<string, string>,
  extra: Partial<DagPlan> = {},
): Promise<unknown> {
  const encoded = Object.fromEntries(
    graph.functions.map((fn) => [fn, encodeOwned(args[fn] ?? [])]),
  );
  return net.runners
    .get(coordinator)!
    .execute('call', { dag: graph, args: encoded, timeoutMs: 5000, ...extra }, place, 3)
    .then((bytes) => (bytes === undefined ? ANSWERED_ELSEWHERE : decode(bytes)));
}

const ANSWERED_ELSEWHERE = Symbol('answered by the sink');

const add = (x: unknown, y: unknown = 1) => (x as number) + (y as number);

test('a chain across two nodes costs one input (with the plan) and one answer', async (t) => {
  const net = network(['a', 'b'], { f: add, g: add, h: add });
  const graph = dag(
    ['f', 'g', 'h'],
    [
      ['f', 'g'],
      ['g', 'h'],
    ],
  );
  const result = await call(net, 'a', graph, { f: [1, 10] }, () => ({ f: 'a', g: 'b', h: 'b' }));
  t.is(result, 13);
  t.deepEqual(
    net.sent.map((s) => [s.from, s.to, s.message.op, 'plan' in s.message]),
    [
      ['a', 'b', 'dag-input', true],
      ['b', 'a', 'dag-done', false],
    ],
  );
  // g and h, adjacent on b, ran as one executor call.
  t.deepEqual(net.calls, [
    { node: 'a', fns: ['f'], sendKey: 'call' },
    { node: 'b', fns: ['g', 'h'], sendKey: 'call' },
  ]);
  t.is(net.runners.get('a')!.runsInFlight, 0);
  t.is(net.runners.get('b')!.runsInFlight, 0);
});

test('fan-in takes inputs in edge order, whatever order they arrive in', async (t) => {
  const net = network(['a', 'b', 'c'], {
    slow: async () => {
      await new Promise((r) => setTimeout(r, 30));
      return 'slow';
    },
    fast: () => 'fast',
    join: (...xs: unknown[]) => xs.join('+'),
  });
  const graph = dag(
    ['slow', 'fast', 'join'],
    [
      ['slow', 'join'],
      ['fast', 'join'],
    ],
  );
  const placement = { slow: 'b', fast: 'c', join: 'a' };
  t.is(await call(net, 'a', graph, { join: ['own'] }, () => placement), 'slow+fast+own');
  // Sources on other nodes got the plan from the coordinator.
  t.is(net.sent.filter((s) => s.message.op === 'dag-plan').length, 2);
});

test('fan-out sends a result to every successor; the sink writes outputKey', async (t) => {
  const net = network(['a', 'b'], { src: () => 2, x: add, y: add, sum: add });
  const graph = dag(
    ['src', 'x', 'y', 'sum'],
    [
      ['src', 'x'],
      ['src', 'y'],
      ['x', 'sum'],
      ['y', 'sum'],
    ],
  );
  const placement = { src: 'a', x: 'b', y: 'a', sum: 'b' };
  t.is(await call(net, 'a', graph, {}, () => placement, { outputKey: 'out' }), 6);
  t.is(net.outputs.get('out'), 6);
});

test('a node that dies mid-run fails the attempt; the DAG re-runs without it', async (t) => {
  const net = network(['a', 'b', 'c'], {
    f: add,
    g: async (x: unknown) => {
      await new Promise((r) => setTimeout(r, 50));
      return add(x);
    },
  });
  const graph = dag(['f', 'g'], [['f', 'g']]);
  const places: Set<string>[] = [];
  const pending = call(net, 'a', graph, { f: [1] }, (excluded) => {
    places.push(new Set(excluded));
    return { f: 'a', g: excluded.has('b') ? 'c' : 'b' };
  });
  setTimeout(() => net.dead.add('b'), 20);
  t.is(await pending, 3);
  t.is(places.length, 2);
  t.true(places[1]!.has('b'));
  // The retry ran g on c.
  t.true(net.calls.some((c) => c.node === 'c' && c.fns[0] === 'g'));
  // Under the same send key as the first attempt: a message g sends again has the same id.
  const keys = new Set(net.calls.map((c) => c.sendKey));
  t.deepEqual([...keys], ['call'], 'every attempt of the call sends under one key');
});

test('a function that throws fails the call with its error and is not re-run', async (t) => {
  const net = network(['a', 'b'], {
    f: add,
    boom: () => {
      throw new FunctionError('no luck', 'RangeError');
    },
  });
  const graph = dag(['f', 'boom'], [['f', 'boom']]);
  let attempts = 0;
  const error = await t.throwsAsync(
    call(net, 'a', graph, { f: [1] }, () => {
      attempts += 1;
      return { f: 'a', boom: 'b' };
    }),
  );
  t.true(error instanceof FunctionError);
  t.is(error?.message, 'no luck');
  t.is(attempts, 1);
  // The failure cancels the run on every node it was placed on.
  await new Promise((r) => setImmediate(r));
  t.is(net.runners.get('b')!.runsInFlight, 0);
});

test('a result too large for a frame between nodes fails the call at once, not re-run', async (t) => {
  const net = network(['a', 'b'], {
    big: () => 'x'.repeat(INPUT_BYTES_MAX + 1),
    len: (s) => (s as string).length,
  });
  const graph = dag(['big', 'len'], [['big', 'len']]);
  let attempts = 0;
  const place = () => {
    attempts += 1;
    return { big: 'a', len: 'b' };
  };
  const error = await t.throwsAsync(call(net, 'a', graph, {}, place), {
    instanceOf: ValidationError,
  });
  t.regex(error.message, /result of big \(\d+ bytes\) is too large to pass to len/);
  t.is(attempts, 1);
  t.deepEqual(
    net.sent.filter((s) => s.message.op === 'dag-input'),
    [],
    'nothing was sent that could not arrive',
  );
  // On one node the same result passes from function to function.
  const oneNode = network(['a', 'b'], {
    big: () => 'x'.repeat(INPUT_BYTES_MAX + 1),
    len: (s) => (s as string).length,
  });
  t.is(await call(oneNode, 'a', graph, {}, () => ({ big: 'a', len: 'a' })), INPUT_BYTES_MAX + 1);
});

test('messages for an ended run do not revive it', async (t) => {
  const net = network(['a', 'b'], { f: add, g: add });
  const graph = dag(['f', 'g'], [['f', 'g']]);
  t.is(await call(net, 'a', graph, { f: [1] }, () => ({ f: 'a', g: 'b' })), 3);
  const input = net.sent.find((s) => s.message.op === 'dag-input')!.message;
  const callsBefore = net.calls.length;
  deliver(net.runners.get('b')!, input);
  deliver(net.runners.get('b')!, {
    op: 'dag-done',
    runId: 'x',
    outcome: { ok: false, error: errorToWire(new Error('late')) },
  });
  await new Promise((r) => setImmediate(r));
  t.is(net.calls.length, callsBefore);
  t.is(net.runners.get('b')!.runsInFlight, 0);
});

test('repeatable read: versions read upstream travel with the results, first reader wins', async (t) => {
  const net = network(['a', 'b'], { left: add, right: add, join: add });
  const graph = dag(
    ['left', 'right', 'join'],
    [
      ['left', 'join'],
      ['right', 'join'],
    ],
  );
  const placement = { left: 'a', right: 'b', join: 'b' };
  t.is(
    await call(net, 'a', graph, { left: [1], right: [2] }, () => placement, {
      consistency: 'repeatable-read',
    }),
    3 + 2,
  );
  t.deepEqual(net.snapshots.get('left'), []);
  t.deepEqual(net.snapshots.get('right'), []);
  // join gets both upstream read sets; for `shared`, left's version (its first edge) wins.
  t.deepEqual(net.snapshots.get('join'), [
    ['own-left', 'left'],
    ['shared', 'as left read it'],
    ['own-right', 'right'],
  ]);
  // In the default mode nothing is tracked.
  const plain = network(['a'], { f: add });
  await call(plain, 'a', dag(['f'], []), { f: [1] }, () => ({ f: 'a' }));
  t.false(plain.snapshots.has('f'));
});

test('a sink on another node answers a client connected there itself, and says so', async (t) => {
  const net = network(['a', 'b'], { f: add, g: add });
  net.clients.set('client-1', 'b');
  const graph = dag(['f', 'g'], [['f', 'g']]);
  const reply = { client: 'client-1', id: 7 };
  const result = await call(net, 'a', graph, { f: [1] }, () => ({ f: 'a', g: 'b' }), { reply });
  t.is(result, ANSWERED_ELSEWHERE);
  t.deepEqual(net.answers, [{ node: 'b', reply, value: 3 }]);
  const done = net.sent.find((s) => s.message.op === 'dag-done');
  t.deepEqual(done?.message, {
    op: 'dag-done',
    runId: 'call.0',
    outcome: { ok: true, answered: true },
  });
});

test('the coordinator answers when the client has no connection at the sink, or the sink is its own', async (t) => {
  const graph = dag(['f', 'g'], [['f', 'g']]);
  const reply = { client: 'client-1', id: 7 };
  for (const [client, coordinator] of [
    ['a', 'a'],
    ['b', 'b'],
  ]) {
    const net = network(['a', 'b'], { f: add, g: add });
    net.clients.set('client-1', client!);
    const placement = () => ({ f: 'a', g: 'b' });
    t.is(await call(net, coordinator!, graph, { f: [1] }, placement, { reply }), 3);
    t.deepEqual(net.answers, []);
  }
});

test('a failing sink is reported through the coordinator, never answered directly', async (t) => {
  const net = network(['a', 'b'], {
    f: add,
    g: () => {
      throw new Error('nope');
    },
  });
  net.clients.set('client-1', 'b');
  const graph = dag(['f', 'g'], [['f', 'g']]);
  const reply = { client: 'client-1', id: 7 };
  await t.throwsAsync(
    call(net, 'a', graph, { f: [1] }, () => ({ f: 'a', g: 'b' }), { reply }),
    {
      message: /nope/,
    },
  );
  t.deepEqual(net.answers, []);
});
