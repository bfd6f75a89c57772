/**
 * DAGs on one node, as a user drives them: validation, fan-out and fan-in with arguments in
 * edge order, caller arguments, refs, output keys, futures, failures that are not retried,
 * and the registry of DAGs; plus the gossip-averaging example converging.
 */
import { fileURLToPath } from 'node:url';
import {
  type Context,
  FunctionError,
  NotFoundError,
  ref,
  ValidationError,
} from '../../src/index.js';
import { testWithNode } from './node_fixture.js';

const test = testWithNode(['--executors', '2'], async ({ cloud }) => {
  await cloud.register('double', (_ctx: Context, x: number) => x * 2);
  await cloud.register('inc', (_ctx: Context, x: number, by = 1) => x + by);
  await cloud.register('pair', (_ctx: Context, ...xs: unknown[]) => xs);
  await cloud.register('echo', (_ctx: Context, ...xs: unknown[]) => xs);
});

test('a chain passes each result to the next function, before its own arguments', async (t) => {
  const { cloud } = t.context;
  await cloud.registerDag('chain', ['double', 'inc'], [['double', 'inc']]);
  t.is(await cloud.callDag('chain', { double: [5] }), 11);
  t.is(await cloud.callDag('chain', { double: [5], inc: [100] }), 110);
});

test('fan-out sends a result to every successor; fan-in takes inputs in edge order', async (t) => {
  const { cloud } = t.context;
  await cloud.registerDag(
    'diamond',
    ['double', 'inc', 'echo', 'pair'],
    [
      ['double', 'inc'],
      ['double', 'echo'],
      ['echo', 'pair'],
      ['inc', 'pair'],
    ],
  );
  // pair's edges list echo first, then inc: its inputs come in that order, whatever finishes first.
  t.deepEqual(await cloud.callDag('diamond', { double: [3], pair: ['tail'] }), [[6], 7, 'tail']);
});

test('several sources, refs resolved before a function runs', async (t) => {
  const { cloud } = t.context;
  await cloud.put('dag/ref', 40);
  await cloud.registerDag(
    'sources',
    ['double', 'inc', 'pair'],
    [
      ['double', 'pair'],
      ['inc', 'pair'],
    ],
  );
  t.deepEqual(await cloud.callDag('sources', { double: [ref('dag/ref')], inc: [1] }), [80, 2]);
});

test('outputKey stores the result; direct: false resolves to a future', async (t) => {
  const { cloud } = t.context;
  await cloud.registerDag('chain2', ['double', 'inc'], [['double', 'inc']]);
  t.is(await cloud.callDag('chain2', { double: [1] }, { outputKey: 'dag/out' }), 3);
  t.is(await cloud.get('dag/out'), 3);
  const future = await cloud.callDag(
    'chain2',
    { double: [10] },
    { direct: false, outputKey: 'dag/out2' },
  );
  t.is(await future.get(), 21);
  t.is(await cloud.get('dag/out2'), 21);
});

test('bad DAGs are refused with ValidationError naming the problem', async (t) => {
  const { cloud } = t.context;
  const refuse = (name: string, fns: string[], edges: [string, string][], message: RegExp) =>
    t.throwsAsync(cloud.registerDag(name, fns, edges), { instanceOf: ValidationError, message });
  await refuse(
    'cycle',
    ['double', 'inc'],
    [
      ['double', 'inc'],
      ['inc', 'double'],
    ],
    /cycle/,
  );
  await refuse('unknown', ['double', 'nope'], [['double', 'nope']], /not registered: nope/);
  await refuse(
    'sinks',
    ['double', 'inc', 'echo'],
    [
      ['double', 'inc'],
      ['double', 'echo'],
    ],
    /sink/,
  );
  await refuse('dupes', ['double', 'double'], [], /lists function "double" twice/);
  await refuse('bad name!', ['double'], [], /not valid/);
  await t.throwsAsync(cloud.callDag('never-registered', {}), { instanceOf: NotFoundError });
  await t.throwsAsync(cloud.registerDag('optcheck', ['double'], [], { foo: 1 } as never), {
    instanceOf: ValidationError,
    message: /unknown registerDag option "foo"/,
  });
  await cloud.registerDag('argcheck', ['double'], [], { timeoutMs: 10_000 });
  await t.throwsAsync(cloud.callDag('argcheck', { other: [1] }), { instanceOf: ValidationError });
  await t.throwsAsync(cloud.callDag('argcheck', { double: 5 as never }), {
    instanceOf: ValidationError,
  });
  await t.throwsAsync(
    cloud.callDag('argcheck', { double: [1] }, { consistency: 'serializable' as never }),
    { instanceOf: ValidationError, message: /not one of/ },
  );
});

test('repeatable read: every function of a DAG call sees the version first read', async (t) => {
  const { cloud } = t.context;
  // Reads the key, then has another function overwrite it before answering.
  await cloud.register('bump', async (ctx: Context, key: string) => {
    await ctx.put(key, `${(await ctx.get(key)) as string}+`);
  });
  await cloud.register('readThenBump', async (ctx: Context, key: string) => {
    const seen = await ctx.get(key);
    await ctx.call('bump', [key]);
    return seen;
  });
  await cloud.register('readAgain', async (ctx: Context, first: unknown, key: string) => {
    const many = await ctx.get([key]);
    return [first, await ctx.get(key), many[key]];
  });
  await cloud.register('byRef', (_ctx: Context, first: unknown, value: unknown) => [first, value]);
  await cloud.registerDag('rr', ['readThenBump', 'readAgain'], [['readThenBump', 'readAgain']]);
  await cloud.registerDag('rrRef', ['readThenBump', 'byRef'], [['readThenBump', 'byRef']]);
  await cloud.put('rr/k', 'v');
  const args = { readThenBump: ['rr/k'], readAgain: ['rr/k'] };
  t.deepEqual(await cloud.callDag('rr', args, { consistency: 'repeatable-read' }), ['v', 'v', 'v']);
  // Last-writer-wins reads whatever is there now.
  t.deepEqual(await cloud.callDag('rr', args), ['v+', 'v++', 'v++']);
  // A ref() argument resolves to the pinned version too.
  t.deepEqual(
    await cloud.callDag(
      'rrRef',
      { readThenBump: ['rr/k'], byRef: [ref('rr/k')] },
      { consistency: 'repeatable-read' },
    ),
    ['v++', 'v++'],
  );
  t.is(await cloud.get('rr/k'), 'v+++');
});

test('repeatable read: a DAG that writes a key reads its own write', async (t) => {
  const { cloud } = t.context;
  await cloud.register('writeThenRead', async (ctx: Context, key: string) => {
    const before = await ctx.get(key);
    await ctx.put(key, 'mine');
    return [before, await ctx.get(key), await ctx.get('rr/absent')];
  });
  await cloud.registerDag('rrWrite', ['writeThenRead'], []);
  await cloud.put('rr/w', 'theirs');
  t.deepEqual(
    await cloud.callDag('rrWrite', { writeThenRead: ['rr/w'] }, { consistency: 'repeatable-read' }),
    ['theirs', 'mine', undefined],
  );
});

test('causal: reads see every earlier write, through a chain, a nested call and a session', async (t) => {
  const { cloud } = t.context;
  await cloud.register('causalWrite', async (ctx: Context, key: string, value: string) => {
    await ctx.put(key, value);
    return key;
  });
  await cloud.register('causalRead', async (ctx: Context, key: string) => {
    const direct = await ctx.get(key);
    const nested = await ctx.call('causalPeek', [key]);
    const many = (await ctx.get([key, 'causal/absent'])) as Record<string, unknown>;
    return [direct, nested, many[key], many['causal/absent']];
  });
  await cloud.register('causalPeek', async (ctx: Context, key: string) => ctx.get(key));
  await cloud.registerDag(
    'causalChain',
    ['causalWrite', 'causalRead'],
    [['causalWrite', 'causalRead']],
  );
  await cloud.registerDag('causalOnlyRead', ['causalRead'], []);
  const options = { consistency: 'causal', session: 'session-1' } as const;
  t.deepEqual(await cloud.callDag('causalChain', { causalWrite: ['causal/k', 'one'] }, options), [
    'one',
    'one',
    'one',
    undefined,
  ]);
  // The next call of the session reads what the last one wrote.
  t.deepEqual(await cloud.callDag('causalOnlyRead', { causalRead: ['causal/k'] }, options), [
    'one',
    'one',
    'one',
    undefined,
  ]);
  await cloud.put('causal/k', 'two');
  t.deepEqual(
    (await cloud.callDag<unknown[]>('causalOnlyRead', { causalRead: ['causal/k'] }, options))[0],
    'two',
  );
});

test('a function that throws fails the DAG with FunctionError and is not re-run', async (t) => {
  const { cloud } = t.context;
  await cloud.register('countedFail', async (ctx: Context) => {
    await ctx.put('dag/fail-count', ctx.lattice.counter(1));
    throw new RangeError('dag step broke');
  });
  await cloud.registerDag('failing', ['double', 'countedFail'], [['double', 'countedFail']]);
  const error = await t.throwsAsync(cloud.callDag('failing', { double: [1] }), {
    instanceOf: FunctionError,
  });
  t.is(error.remoteName, 'RangeError');
  t.is(error.message, 'dag step broke');
  t.is(await cloud.get('dag/fail-count'), 1);
});

test('listDags and deleteDag', async (t) => {
  const { cloud } = t.context;
  await cloud.registerDag('temp', ['double'], []);
  t.true((await cloud.listDags()).includes('temp'));
  t.true((await cloud.status()).dags.some((d) => d.name === 'temp'));
  await cloud.deleteDag('temp');
  t.false((await cloud.listDags()).includes('temp'));
  await t.throwsAsync(cloud.callDag('temp', {}), { instanceOf: NotFoundError });
  await t.throwsAsync(cloud.deleteDag('temp'), { instanceOf: NotFoundError });
});

test('the gossip-averaging example converges to within 5% of the mean', async (t) => {
  const { cloud } = t.context;
  await cloud.deployFile(fileURLToPath(new URL('../../examples/averaging.ts', import.meta.url)));
  const values = [10, 20, 30, 40, 50, 60, 70, 80];
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const futures = await Promise.all(
    values.map((v) => cloud.callAsync('pushSum', ['avg/g1', values.length, v, 40])),
  );
  const estimates = (await Promise.all(
    futures.map((f) => f.get({ timeoutMs: 60_000 })),
  )) as number[];
  for (const estimate of estimates)
    t.true(Math.abs(estimate - mean) / mean < 0.05, `${estimate} vs ${mean}`);
});
