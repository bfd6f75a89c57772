/**
 * Bad input against a real node process: every mistake gets its typed error, runaway and
 * crashing functions cost only their own call, garbage on the socket closes only that
 * connection, and the node keeps serving with all its data.
 */
import { connect as netConnect, type Socket } from 'node:net';
import anyTest, { type TestFn } from 'ava';
import {
  type Cloud,
  type Context,
  connect,
  FunctionError,
  lattice,
  NotFoundError,
  ref,
  TimeoutError,
  ValidationError,
} from '../../src/index.js';
import { type NodeProcess, startNodeProcess } from '../../src/sim/index.js';
import { decode, encode } from '../../src/storage/index.js';

const test = anyTest.serial as TestFn<{ node: NodeProcess; cloud: Cloud }>;

const KEPT = Array.from(
  { length: 200 },
  (_, i) => [`kept/${i}`, { i, text: `value ${i}` }] as const,
);

test.before(async (t) => {
  const node = await startNodeProcess(['--executors', '2', '--executor-memory-mb', '64']);
  const cloud = await connect(node.address);
  await Promise.all(KEPT.map(([key, value]) => cloud.put(key, value)));
  await cloud.put('kept/set', lattice.set(['a', 'b']));
  t.context = { node, cloud };
});

test.after.always(async (t) => {
  const { cloud } = t.context;
  if (cloud !== undefined) {
    for (const [key, value] of KEPT) t.deepEqual(await cloud.get(key), value);
    t.deepEqual(await cloud.get('kept/set'), ['a', 'b']);
    cloud.close();
  }
  t.is(await t.context.node?.stop(), 0, 'the node stops cleanly after all of it');
});

test('calling an unknown function is NotFoundError', async (t) => {
  const error = await t.throwsAsync(t.context.cloud.call('no-such-function'), {
    instanceOf: NotFoundError,
  });
  t.is(error.code, 'NOT_FOUND');
  t.regex(error.message, /no-such-function/);
  // callAsync and an indirect DAG call say so at once, not first at the Future's get.
  const later = await t.throwsAsync(t.context.cloud.callAsync('no-such-function'), {
    instanceOf: NotFoundError,
  });
  t.regex(later.message, /function no-such-function is not registered/);
  const dag = await t.throwsAsync(t.context.cloud.callDag('no-such-dag', {}, { direct: false }), {
    instanceOf: NotFoundError,
  });
  t.regex(dag.message, /DAG no-such-dag is not registered/);
});

test('a throwing function is FunctionError with the remote name, message and stack', async (t) => {
  await t.context.cloud.register('thrower', function thrower(_ctx: Context, n: number) {
    if (n > 1) throw new RangeError(`n is too big: ${n}`);
    return n;
  });
  const error = await t.throwsAsync(t.context.cloud.call('thrower', [5]), {
    instanceOf: FunctionError,
  });
  t.is(error.code, 'FUNCTION_FAILED');
  t.is(error.remoteName, 'RangeError');
  t.is(error.message, 'n is too big: 5');
  t.regex(error.remoteStack, /squall:function\/thrower/);
  t.regex(error.stack ?? '', /thrown in the function as RangeError: n is too big: 5/);
  t.is(error.remoteCode, undefined);
  t.is(await t.context.cloud.call('thrower', [1]), 1);
  // An error's own code travels with it, also through a nested call.
  await t.context.cloud.register('coded', () => {
    throw Object.assign(new Error('no such order'), { code: 'E_NO_ORDER' });
  });
  await t.context.cloud.register('viaCoded', (ctx: Context) => ctx.call('coded'));
  for (const name of ['coded', 'viaCoded']) {
    const coded = await t.throwsAsync(t.context.cloud.call(name), { instanceOf: FunctionError });
    t.is(coded.remoteCode, 'E_NO_ORDER', name);
  }
});

test('an error no call awaits is logged, and the thread keeps its actors', async (t) => {
  const { cloud } = t.context;
  await cloud.register(
    'Litterer',
    class {
      n = 0;
      run(_ctx: Context, litter: boolean) {
        if (litter) {
          void Promise.reject(new Error('a rejection nobody handles'));
          setTimeout(() => {
            throw new Error('a throw after the call returned');
          }, 1);
        }
        this.n += 1;
        return this.n;
      }
    },
  );
  t.is(await cloud.call('Litterer', [true]), 1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(await cloud.call('Litterer', [false]), 2, 'the instance lived through both errors');
  t.regex(t.context.node.stderr(), /a throw after the call returned/);
  t.regex(t.context.node.stderr(), /a rejection nobody handles/);
});

test('a DAG that runs past its timeout names the function that overran', async (t) => {
  const { cloud } = t.context;
  await cloud.register('quick', (_ctx: Context, x: number) => x * x);
  await cloud.register('endless', (_ctx: Context, _x: number) => {
    for (;;) {
      // runaway on purpose
    }
  });
  await cloud.registerDag('runaway', ['quick', 'endless'], [['quick', 'endless']]);
  const error = await t.throwsAsync(cloud.callDag('runaway', { quick: [2] }, { timeoutMs: 800 }), {
    instanceOf: TimeoutError,
  });
  t.regex(error.message, /^endless ran past its timeout of 800 ms/);
});

test('a module whose top-level code never ends fails to deploy, and its thread is replaced', async (t) => {
  const node = await startNodeProcess([
    '--executors',
    '2',
    '--call-timeout-ms',
    '1500',
    '--http-port',
    'off',
  ]);
  const cloud = await connect(node.address);
  try {
    await cloud.register('add', (_ctx: Context, a: number, b: number) => a + b);
    const error = await t.throwsAsync(
      cloud.deploy('while (true) {}\nexport function never() { return 1; }', {
        filename: 'forever.ts',
      }),
      { instanceOf: TimeoutError },
    );
    t.regex(error.message, /forever\.ts failed to load: its top-level code ran past 1500 ms/);
    await t.throwsAsync(cloud.call('never'), { instanceOf: NotFoundError });
    // Were the looping thread left running, a call that lands on it would never answer.
    const sums = await Promise.all(
      Array.from({ length: 6 }, () => cloud.call('add', [1, 2], { timeoutMs: 10_000 })),
    );
    t.deepEqual(sums, [3, 3, 3, 3, 3, 3]);
    const executors = (await cloud.status()).executors;
    t.is(
      executors.reduce((sum, e) => sum + e.restarts, 0),
      1,
    );
  } finally {
    cloud.close();
    await node.stop();
  }
});

test('SDK arguments of the wrong type are ValidationError', async (t) => {
  const { cloud, node } = t.context;
  await t.throwsAsync(connect(5 as never), { instanceOf: ValidationError });
  await t.throwsAsync(connect(node.address, { timeoutMs: -1 }), { instanceOf: ValidationError });
  await t.throwsAsync(connect(node.address, { timeoutMs: 'soon' as never }), {
    instanceOf: ValidationError,
  });
  await t.throwsAsync(connect(node.address, { token: 7 as never }), {
    instanceOf: ValidationError,
  });
  t.throws(() => ref(5 as never), { instanceOf: ValidationError });
  await t.throwsAsync(cloud.deploy('export function f() {}', { filename: 5 as never }), {
    instanceOf: ValidationError,
  });
  await t.throwsAsync(
    cloud.register('x', () => 1, 5 as never),
    { instanceOf: ValidationError },
  );
  await t.throwsAsync(cloud.call('thrower', [1], { timeoutMs: 0 }), {
    instanceOf: ValidationError,
  });
  await t.throwsAsync(cloud.callDag('runaway', {}, { timeoutMs: 1.5 }), {
    instanceOf: ValidationError,
  });
  // A mistyped option is refused, not silently left at its default.
  const direct = await t.throwsAsync(cloud.callDag('runaway', {}, { direct: 'no' as never }), {
    instanceOf: ValidationError,
  });
  t.regex(direct.message, /direct must be true or false/);
  const typo = await t.throwsAsync(cloud.call('thrower', [1], { timeoutMS: 5 } as never), {
    instanceOf: ValidationError,
  });
  t.regex(typo.message, /unknown call option "timeoutMS": the options are timeoutMs/);
  await t.throwsAsync(cloud.callDag('runaway', {}, { outputkey: 'x' } as never), {
    instanceOf: ValidationError,
  });
  await t.throwsAsync(cloud.put('k', 1, { akc: 'all' } as never), { instanceOf: ValidationError });
  await t.throwsAsync(connect(node.address, { tokn: 'x' } as never), {
    instanceOf: ValidationError,
  });
  const init = await t.throwsAsync(
    cloud.register('typo', () => 1, { int: [1] } as never),
    {
      instanceOf: ValidationError,
    },
  );
  t.regex(init.message, /unknown register option "int": the options are init/);
  await t.throwsAsync(cloud.deploy('export function f() {}', { fileName: 'x.ts' } as never), {
    instanceOf: ValidationError,
  });
  const future = await cloud.callAsync('thrower', [1]);
  await t.throwsAsync(future.get({ timeout: 5 } as never), { instanceOf: ValidationError });
  t.is(await future.get(), 1);
  await cloud.register('recvTypo', async (ctx: Context) => ctx.recv({ timeout: 1000 } as never));
  const recv = await t.throwsAsync(cloud.call('recvTypo'), { instanceOf: FunctionError });
  t.regex(recv.message, /unknown recv option "timeout"/);
  // What would not come back as written is refused, not stored changed.
  const proto = await t.throwsAsync(cloud.put('p', JSON.parse('{"__proto__":{"x":1},"a":1}')), {
    instanceOf: ValidationError,
  });
  t.regex(proto.message, /__proto__/);
  await t.throwsAsync(cloud.put('np', { a: lattice.counter(1) }), { instanceOf: ValidationError });
  await t.throwsAsync(cloud.call('thrower', [lattice.counter(3)]), { instanceOf: ValidationError });
  t.is(await cloud.get('p'), undefined);
  await cloud.put('mm', lattice.map(new Map([['a', lattice.max(1)]])));
  t.deepEqual(await cloud.get('mm'), { a: 1 });
});

test('an infinite loop times out, is stopped, and a bystander call still completes', async (t) => {
  const { cloud } = t.context;
  await cloud.register('spin', () => {
    for (;;) {
      // runaway on purpose
    }
  });
  await cloud.register('nap', async (_ctx: Context, ms: number) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return 'rested';
  });
  const naps = [cloud.call('nap', [1500]), cloud.call('nap', [1500])];
  const error = await t.throwsAsync(cloud.call('spin', [], { timeoutMs: 500 }), {
    instanceOf: TimeoutError,
  });
  t.regex(error.message, /spin ran past its timeout of 500 ms/);
  t.deepEqual(await Promise.all(naps), ['rested', 'rested']);
  t.is(await cloud.call('nap', [1]), 'rested');
  // The replaced thread's executor keeps its counts: its calls, its failure, its busy time.
  const replaced = (await cloud.status()).executors.filter((e) => e.restarts > 0);
  t.true(
    replaced.some((e) => e.calls > 0 && e.failures > 0 && e.utilisation > 0),
    JSON.stringify(replaced),
  );
});

test('a class instance lost with its thread is said so to its callers, never reset in silence', async (t) => {
  const { cloud } = t.context;
  await cloud.register(
    'Account',
    class {
      balance = 0;
      run(_ctx: Context, op: string, amount: number) {
        if (op === 'hang')
          for (;;) {
            // runaway on purpose
          }
        this.balance += amount;
        return this.balance;
      }
    },
  );
  t.is(await cloud.call('Account', ['deposit', 100]), 100);
  t.is(await cloud.call('Account', ['deposit', 50]), 150);
  // Calls queued behind the runaway turn were waiting for the instance that dies with it.
  const hang = cloud.call('Account', ['hang', 0], { timeoutMs: 500 });
  const queued = [cloud.call('Account', ['deposit', 1]), cloud.call('Account', ['deposit', 2])];
  await t.throwsAsync(hang, { instanceOf: TimeoutError });
  for (const call of queued) {
    const error = await t.throwsAsync(call, { instanceOf: FunctionError });
    t.is(error.remoteName, 'InstanceLost');
    t.regex(
      error.message,
      /instance of Account, and its state, was lost: a call of Account ran past/,
    );
  }
  t.is(await cloud.call('Account', ['deposit', 5]), 5, 'then a new instance serves');
  // With no call waiting, the next caller is the one told.
  await t.throwsAsync(cloud.call('Account', ['hang', 0], { timeoutMs: 500 }), {
    instanceOf: TimeoutError,
  });
  const told = await t.throwsAsync(cloud.call('Account', ['deposit', 7]), {
    instanceOf: FunctionError,
  });
  t.is(told.remoteName, 'InstanceLost');
  t.is(await cloud.call('Account', ['deposit', 7]), 7);
});

test('a call that overruns while only waiting fails alone: its thread and actors live on', async (t) => {
  const { cloud } = t.context;
  await cloud.register(
    'Keeper',
    class {
      n = 0;
      run() {
        this.n += 1;
        return this.n;
      }
    },
  );
  t.is(await cloud.call('Keeper'), 1);
  t.is(await cloud.call('Keeper'), 2);
  await cloud.register('doze', async (_ctx: Context, ms: number) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return 'late';
  });
  const before = (await cloud.status()).executors.reduce((sum, e) => sum + e.restarts, 0);
  const dozes = [1, 2, 3].map(() => cloud.call('doze', [3000], { timeoutMs: 300 }));
  for (const doze of dozes) {
    const error = await t.throwsAsync(doze, { instanceOf: TimeoutError });
    t.regex(error.message, /doze ran past its timeout of 300 ms \(still waiting/);
  }
  t.is(await cloud.call('Keeper'), 3, 'the class kept its state');
  // What a timed-out call would still do after waking is refused: the caller was told.
  await cloud.register('lateWriter', async (ctx: Context, key: string) => {
    await new Promise((resolve) => setTimeout(resolve, 600));
    await ctx.put(key, 'written after the timeout');
  });
  await t.throwsAsync(cloud.call('lateWriter', ['late/key'], { timeoutMs: 200 }), {
    instanceOf: TimeoutError,
  });
  await new Promise((resolve) => setTimeout(resolve, 900));
  t.is(await cloud.get('late/key'), undefined, 'its late write never landed');
  const after = (await cloud.status()).executors.reduce((sum, e) => sum + e.restarts, 0);
  t.is(after, before, 'no thread was replaced');
});

test("a nested call gets only what is left of its caller's time, so a runaway is stopped with it", async (t) => {
  const { cloud } = t.context;
  await cloud.register('forever', () => {
    for (;;) {
      // runaway on purpose
    }
  });
  await cloud.register('outerForever', (ctx: Context) => ctx.call('forever', []));
  await cloud.register('same', (_ctx: Context, x: number) => x);
  for (let i = 0; i < 2; i++) {
    await t.throwsAsync(cloud.call('outerForever', [], { timeoutMs: 1000 }), {
      instanceOf: TimeoutError,
    });
  }
  // The inner runaways were stopped at their callers' deadlines: nothing else is blamed.
  // Left running, they would hold both threads for the default call timeout (60 s); their
  // replacement threads start in under a second alone, in seconds on a loaded machine.
  const startedMs = Date.now();
  for (let i = 0; i < 3; i++) t.is(await cloud.call('same', [i], { timeoutMs: 20_000 }), i);
  t.true(
    Date.now() - startedMs < 20_000,
    'served once the threads are replaced, not after the runaways',
  );
});

test('a DAG step that overruns while waiting, or kills its thread, is the one named', async (t) => {
  const { cloud } = t.context;
  await cloud.register('first', (_ctx: Context, x: number) => x);
  await cloud.register('sleepy', async (_ctx: Context, x: number) => {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    return x;
  });
  await cloud.register('quits', () => process.exit(3));
  await cloud.registerDag('dozing', ['first', 'sleepy'], [['first', 'sleepy']]);
  await cloud.registerDag('quitting', ['first', 'quits'], [['first', 'quits']]);
  const dozing = await t.throwsAsync(cloud.callDag('dozing', { first: [1] }, { timeoutMs: 800 }), {
    instanceOf: TimeoutError,
  });
  t.regex(dozing.message, /^sleepy ran past its timeout of 800 ms \(still waiting/);
  const quitting = await t.throwsAsync(cloud.callDag('quitting', { first: [1] }), {
    instanceOf: FunctionError,
  });
  t.is(quitting.remoteName, 'ProcessExit');
  t.regex(quitting.message, /process\.exit\(3\) was called/);
});

test('running out of memory fails the call with FunctionError and the node recovers', async (t) => {
  const { cloud } = t.context;
  await cloud.register('hog', () => {
    const hoard: number[][] = [];
    for (;;) hoard.push(new Array(100_000).fill(Math.random()));
  });
  const error = await t.throwsAsync(cloud.call('hog', [], { timeoutMs: 60_000 }), {
    instanceOf: FunctionError,
  });
  t.regex(error.message, /out of memory/);
  await cloud.register('ok', () => 'fine');
  t.is(await cloud.call('ok'), 'fine');
  // With other calls on its thread, the call that began last is the one failed.
  await cloud.register('dozer', async (_ctx: Context, x: number) => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return x;
  });
  const dozes = Array.from({ length: 20 }, (_, i) => cloud.call('dozer', [i]));
  await new Promise((resolve) => setTimeout(resolve, 50));
  await t.throwsAsync(cloud.call('hog', [], { timeoutMs: 60_000 }), { instanceOf: FunctionError });
  t.deepEqual(
    await Promise.all(dozes),
    Array.from({ length: 20 }, (_, i) => i),
  );
});

test('a function that calls process.exit fails alone; the calls beside it finish', async (t) => {
  const { cloud } = t.context;
  await cloud.register('quitter', () => process.exit(3));
  await cloud.register('napper', async (_ctx: Context, x: number) => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    return x;
  });
  const restarts = async () =>
    (await cloud.status()).executors.reduce((sum, e) => sum + e.restarts, 0);
  const before = await restarts();
  const naps = Array.from({ length: 40 }, (_, i) => cloud.call('napper', [i]));
  const error = await t.throwsAsync(cloud.call('quitter'), { instanceOf: FunctionError });
  t.is(error.remoteName, 'ProcessExit');
  t.regex(error.message, /process\.exit\(3\) was called/);
  t.deepEqual(
    await Promise.all(naps),
    Array.from({ length: 40 }, (_, i) => i),
  );
  t.is(await restarts(), before, 'no thread was lost');
});

test("a timer's error fails the call that set it, not another call in flight", async (t) => {
  const { cloud } = t.context;
  await cloud.register('bomb', () => {
    setTimeout(() => {
      throw new Error('bomb from an earlier call');
    }, 100);
    return 'set';
  });
  await cloud.register('patient', async () => {
    await new Promise((resolve) => setTimeout(resolve, 400));
    return 'fine';
  });
  t.is(await cloud.call('bomb'), 'set');
  t.is(await cloud.call('patient'), 'fine');
  await cloud.register('late', () => {
    setTimeout(() => {
      throw new Error('thrown outside the call');
    }, 5);
    return new Promise(() => undefined);
  });
  const late = await t.throwsAsync(cloud.call('late'), { instanceOf: FunctionError });
  t.regex(late.message, /thrown outside the call/);
  t.is(await cloud.call('thrower', [0]), 0);
});

test('a closure is refused at registration with the names it closes over', async (t) => {
  const limit = 10;
  const error = await t.throwsAsync(
    t.context.cloud.register('closes', (_ctx: Context, x: number) => Math.min(x, limit)),
    { instanceOf: ValidationError },
  );
  t.regex(error.message, /closes over outer variable 'limit'/);
  await t.throwsAsync(t.context.cloud.call('closes', [1]), { instanceOf: NotFoundError });
});

test('bad names and bad arguments are ValidationError', async (t) => {
  const { cloud } = t.context;
  await t.throwsAsync(
    cloud.register('has space', () => 1),
    { instanceOf: ValidationError },
  );
  await t.throwsAsync(
    cloud.register('', () => 1),
    { instanceOf: ValidationError },
  );
  await t.throwsAsync(cloud.register('x', 42 as never), { instanceOf: ValidationError });
  await t.throwsAsync(cloud.call('thrower', 'not-an-array' as never), {
    instanceOf: ValidationError,
  });
  await t.throwsAsync(cloud.call('thrower', [() => 1]), { instanceOf: ValidationError });
  await t.throwsAsync(cloud.get(''), { instanceOf: ValidationError });
  await t.throwsAsync(cloud.get('k'.repeat(2000)), { instanceOf: ValidationError });
  await t.throwsAsync(cloud.deploy('export function broken( {', { filename: 'broken.ts' }), {
    instanceOf: ValidationError,
    message: /broken\.ts:1:/,
  });
  await t.throwsAsync(cloud.deploy('export const x = 1;'), {
    instanceOf: ValidationError,
    message: /exports no functions/,
  });
  await t.throwsAsync(cloud.deploy('throw new Error("at load");\nexport function f() {}'), {
    instanceOf: ValidationError,
    message: /at load/,
  });
});

test('a class without run is refused at registration', async (t) => {
  class NoRun {
    value = 1;
    static run() {
      return 'a static run serves no call';
    }
  }
  const error = await t.throwsAsync(t.context.cloud.register('norun', NoRun as never), {
    instanceOf: ValidationError,
  });
  t.regex(error.message, /no run\(ctx/);
  await t.throwsAsync(t.context.cloud.call('norun'), { instanceOf: NotFoundError });
});

test('writing another lattice type to a key is refused and changes nothing', async (t) => {
  const { cloud } = t.context;
  await t.throwsAsync(cloud.put('kept/set', lattice.counter(1)), { instanceOf: ValidationError });
  await t.throwsAsync(cloud.put('kept/set', 'plain'), { instanceOf: ValidationError });
  await t.throwsAsync(cloud.put('kept/0', lattice.set([1])), { instanceOf: ValidationError });
  t.deepEqual(await cloud.get('kept/set'), ['a', 'b']);
  await cloud.register('wrongType', (ctx: Context) => ctx.put('kept/set', ctx.lattice.max(3)));
  const error = await t.throwsAsync(cloud.call('wrongType'), { instanceOf: FunctionError });
  t.is(error.remoteName, 'ValidationError');
  t.throws(() => lattice.counter(-1), { instanceOf: ValidationError });
  t.throws(() => lattice.max(Number.NaN), { instanceOf: ValidationError });
});

test('ctx.put of a value that cannot be stored fails at once; a put beside it lands', async (t) => {
  const { cloud } = t.context;
  await cloud.register('putUnstorable', async (ctx: Context, key: string) => {
    const good = ctx.put(key, 'written');
    const bad = ctx.put(`${key}/bad`, { s: Symbol('x') });
    await good;
    await bad;
  });
  const started = Date.now();
  const error = await t.throwsAsync(
    cloud.call('putUnstorable', ['unstorable/a'], { timeoutMs: 20_000 }),
    { instanceOf: FunctionError },
  );
  t.is(error.remoteName, 'ValidationError');
  t.regex(error.message, /cannot be stored.*Symbol/);
  t.true(Date.now() - started < 5_000, 'refused at once, not at the deadline');
  t.is(await cloud.get('unstorable/a'), 'written');
  t.is(await cloud.get('unstorable/a/bad'), undefined);
});

test('ctx.send and ctx.call of a value that cannot be encoded are ValidationError', async (t) => {
  const { cloud } = t.context;
  await cloud.register('passesOn', async (ctx: Context, how: string) => {
    try {
      if (how === 'send') await ctx.send(ctx.id, { f: () => 1 });
      else await ctx.call('thrower', [() => 1]);
      return 'sent';
    } catch (error) {
      return `${(error as Error).name}: ${(error as Error).message}`;
    }
  });
  t.regex(await cloud.call('passesOn', ['send']), /^ValidationError: the message cannot be sent/);
  t.regex(
    await cloud.call('passesOn', ['call']),
    /^ValidationError: the arguments of thrower cannot be sent/,
  );
});

test('ctx.get of several keys gives a key named __proto__ as its own entry', async (t) => {
  const { cloud } = t.context;
  await cloud.put('__proto__', { polluted: true });
  await cloud.put('plain/key', 1);
  await cloud.register('readsMany', async (ctx: Context) => {
    const got = await ctx.get(['__proto__', 'plain/key']);
    return [Object.keys(got), 'polluted' in got, Object.getPrototypeOf(got) === Object.prototype];
  });
  t.deepEqual(await cloud.call('readsMany'), [['__proto__', 'plain/key'], false, true]);
});

test('a result nested too deeply to decode is ValidationError at the client', async (t) => {
  const { cloud } = t.context;
  await cloud.register('nests', (_ctx: Context, depth: number) => {
    let value: unknown[] = [];
    for (let i = 0; i < depth; i++) value = [value];
    return value;
  });
  await t.throwsAsync(cloud.call('nests', [3000]), {
    instanceOf: ValidationError,
    message: /nests too deeply to be decoded/,
  });
  t.is(((await cloud.call('nests', [10])) as unknown[]).length, 1);
});

test('reserved keys cannot be written', async (t) => {
  await t.throwsAsync(t.context.cloud.put('__squall/fn/thrower', 'hijack'), {
    instanceOf: ValidationError,
    message: /reserved/,
  });
  t.is(await t.context.cloud.call('thrower', [1]), 1);
});

test('oversized values are ValidationError, from the client and from a function', async (t) => {
  const { cloud } = t.context;
  const big = new Uint8Array(33 * 1024 * 1024);
  await t.throwsAsync(cloud.put('kept/0', big), {
    instanceOf: ValidationError,
    message: /exceeds/,
  });
  await cloud.register('bigPut', (ctx: Context, mb: number) =>
    ctx.put('kept/1', new Uint8Array(mb * 1024 * 1024)),
  );
  const error = await t.throwsAsync(cloud.call('bigPut', [33]), { instanceOf: FunctionError });
  t.regex(error.message, /exceeds/);
  await cloud.register(
    'bigResult',
    (_ctx: Context, mb: number) => new Uint8Array(mb * 1024 * 1024),
  );
  await t.throwsAsync(cloud.call('bigResult', [70]), { instanceOf: ValidationError });
  t.is(((await cloud.call('bigResult', [1])) as Uint8Array).length, 1024 * 1024);
});

function rawSocket(address: string): Promise<Socket> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: host!, port: Number(port) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

async function closedAfter(address: string, bytes: Uint8Array): Promise<boolean> {
  const socket = await rawSocket(address);
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  const closed = new Promise<boolean>((resolve) => {
    socket.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 5000);
  });
  socket.write(bytes);
  const result = await closed;
  socket.destroy();
  return result;
}

function frame(body: Uint8Array): Uint8Array {
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}

test('malformed frames close only their own connection', async (t) => {
  const { address } = t.context.node;
  t.true(await closedAfter(address, Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])), 'huge length');
  t.true(await closedAfter(address, Buffer.from([0, 0, 0, 0])), 'empty frame');
  t.true(await closedAfter(address, frame(Buffer.from([0xff, 0xfe, 0xfd]))), 'not CBOR');
  t.true(await closedAfter(address, frame(encode({ op: 'get', key: 'x' }))), 'no id');
  t.true(await closedAfter(address, frame(encode([1, 2, 3]))), 'not a record');
  t.is(await t.context.cloud.call('thrower', [1]), 1, 'the SDK connection lives on');
});

/** Sends frames on a fresh socket; collects the decoded answers until it closes or idles. */
async function exchange(
  address: string,
  frames: unknown[],
): Promise<Map<number, Record<string, unknown>>> {
  const socket = await rawSocket(address);
  const answers = new Map<number, Record<string, unknown>>();
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
      const length = buffered.readUInt32BE(0);
      const answer = decode(buffered.subarray(4, 4 + length)) as Record<string, unknown>;
      answers.set(answer.id as number, answer);
      buffered = buffered.subarray(4 + length);
    }
  });
  const closed = new Promise((resolve) => socket.once('close', resolve));
  for (const f of frames) socket.write(frame(encode(f)));
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000))]);
  socket.destroy();
  return answers;
}

const codeOf = (answer: Record<string, unknown> | undefined) =>
  (answer?.error as { code?: string } | undefined)?.code;

test('a request before hello is refused and its connection closed', async (t) => {
  const answers = await exchange(t.context.node.address, [
    { id: 1, op: 'get', key: 'kept/0' },
    { id: 2, op: 'hello', version: 1 },
  ]);
  t.is(codeOf(answers.get(1)), 'UNAUTHORIZED');
  t.false(answers.has(2));
});

test('a well-framed bad request gets a typed answer and the connection stays', async (t) => {
  const answers = await exchange(t.context.node.address, [
    { id: 1, op: 'hello', version: 1 },
    { id: 2, op: 'launch-missiles' },
    { id: 3, op: 'get', key: 7 },
    { id: 4, op: 'call', name: 'thrower', args: 'not bytes' },
    { id: 5, op: 'call', name: 'thrower', args: encode({ not: 'an array' }) },
    { id: 6, op: 'put', key: 'kept/0', value: { t: 'lattice', spec: { kind: 'bogus' } } },
    { id: 7, op: 'hello', version: 99 },
    { id: 8, op: 'get', key: 'kept/0' },
  ]);
  t.true(answers.get(1)?.ok);
  t.is(codeOf(answers.get(2)), 'INVALID');
  t.is(codeOf(answers.get(3)), 'INVALID');
  t.is(codeOf(answers.get(4)), 'INVALID');
  t.is(codeOf(answers.get(5)), 'INVALID');
  t.is(codeOf(answers.get(6)), 'INVALID');
  t.is(codeOf(answers.get(7)), 'INVALID');
  t.deepEqual(answers.get(8)?.value, { i: 0, text: 'value 0' });
});

test('values the wire cannot carry, malformed addresses and unknown nodes get typed errors', async (t) => {
  const { cloud } = t.context;
  await t.throwsAsync(
    cloud.put('fn-value', () => 1),
    { instanceOf: ValidationError },
  );
  await t.throwsAsync(cloud.put('symbol-value', Symbol('x')), { instanceOf: ValidationError });
  for (const value of [new WeakMap(), { nested: new WeakSet() }, [Promise.resolve(1)]])
    await t.throwsAsync(cloud.put('uncloneable', value), { instanceOf: ValidationError });
  t.is(await cloud.get('uncloneable'), undefined);
  for (const address of ['notanaddress', '127.0.0.1:99999', 'host:abc'])
    await t.throwsAsync(connect(address), { instanceOf: ValidationError }, address);
  await cloud.register('placed', (_ctx: Context, x: number) => x * 2);
  await cloud.registerDag('placedDag', ['placed'], []);
  const placement = { placed: 'no-such-node' };
  await t.throwsAsync(cloud.callDag('placedDag', { placed: [1] }, { placement } as never), {
    instanceOf: NotFoundError,
  });
  const stray = { placed: (await cloud.status()).node.id, notInTheDag: 'x' };
  await t.throwsAsync(cloud.callDag('placedDag', { placed: [1] }, { placement: stray }), {
    instanceOf: ValidationError,
    message: /notInTheDag/,
  });
  t.is(await cloud.callDag('placedDag', { placed: [21] }), 42);
});
