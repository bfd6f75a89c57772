/**
 * What a user does with the SDK against a real node process: register and call functions
 * and classes, deploy modules, futures and refs, plain and lattice state, status.
 */
import { type Context, connect, lattice, ref } from '../../src/index.js';
import { startNodeProcess } from '../../src/sim/index.js';
import { testWithNode } from './node_fixture.js';

const test = testWithNode(['--executors', '2']);

test('register returns a callable handle', async (t) => {
  const add = await t.context.cloud.register('add', (_ctx: Context, a: number, b: number) => a + b);
  t.is(await add(2, 3), 5);
  t.is(await t.context.cloud.call('add', [40, 2]), 42);
  t.is(add.functionName, 'add');
});

test('async functions, rich values and undefined results', async (t) => {
  const { cloud } = t.context;
  await cloud.register('echo', async (_ctx: Context, v: unknown) => v);
  const value = {
    n: 1.5,
    big: 2n ** 80n,
    when: new Date(1000),
    bytes: new Uint8Array([1, 2, 3]),
    map: new Map([['a', 1]]),
    set: new Set(['x']),
    nested: [null, true, 'text'],
  };
  t.deepEqual(await cloud.call('echo', [value]), value);
  await cloud.register('nothing', () => undefined);
  t.is(await cloud.call('nothing'), undefined);
});

test('a handle from register is typed like its function (tsc checks this file)', async (t) => {
  const { cloud } = t.context;
  const square = await cloud.register('square', (_ctx: Context, x: number) => x * x);
  const n: number = await square(12);
  t.is(n, 144);
  const future = await square.callAsync(5);
  const later: number = await future.get();
  t.is(later, 25);
  // Not run: only for tsc, which must refuse a string where the function takes a number.
  // @ts-expect-error: a string is not the number it takes
  const mistyped = () => square('twelve');
  t.is(typeof mistyped, 'function');
});

test('re-registering a name replaces the function', async (t) => {
  const { cloud } = t.context;
  const v1 = await cloud.register('versioned', () => 'one');
  t.is(await cloud.call('versioned'), 'one');
  const v2 = await cloud.register('versioned', () => 'two');
  t.not(v1.version, v2.version);
  t.is(await cloud.call('versioned'), 'two');
});

test('a class keeps its instance between calls and gets its init arguments', async (t) => {
  const { cloud } = t.context;
  class Tally {
    total: number;
    constructor(_ctx: Context, start: number) {
      this.total = start;
    }
    run(_ctx: Context, by: number) {
      this.total += by;
      return this.total;
    }
  }
  const tally = await cloud.register('tally', Tally, { init: [100] });
  // init is typed from the constructor: a string where it takes a number does not compile
  // (tsc fails on an unused @ts-expect-error, so this checks the type; it never runs).
  const typo = () =>
    // @ts-expect-error
    cloud.register('tally-typo', Tally, { init: ['100'] });
  t.is(typeof typo, 'function');
  t.is(await tally(1), 101);
  t.is(await tally(2), 103);
  const results = await Promise.all([tally(1), tally(1), tally(1)]);
  t.deepEqual([...results].sort(), [104, 105, 106]);
});

test('functions read and write state through the context', async (t) => {
  const { cloud } = t.context;
  await cloud.register('remember', async (ctx: Context, key: string, value: unknown) => {
    await ctx.put(key, value);
    const again = await ctx.get(key);
    const many = await ctx.get([key, `${key}-missing`]);
    return { again, many };
  });
  const out = await cloud.call('remember', ['sdk-state', { hello: 'world' }]);
  t.deepEqual(out, {
    again: { hello: 'world' },
    many: { 'sdk-state': { hello: 'world' }, 'sdk-state-missing': undefined },
  });
  t.deepEqual(await cloud.get('sdk-state'), { hello: 'world' });
});

test('a function may take its context apart: each method works on its own', async (t) => {
  const { cloud } = t.context;
  await cloud.register('apart', async ({ get, put, id, name, log }: Context, key: string) => {
    await put(key, 7);
    log.info('taken apart');
    return { value: await get(key), id, name };
  });
  const out = (await cloud.call('apart', ['sdk-apart'])) as { value: number; name: string };
  t.is(out.value, 7);
  t.is(out.name, 'apart');
});

test('a function sees the latest value after a client overwrites a cached key', async (t) => {
  const { cloud } = t.context;
  await cloud.register('read', (ctx: Context, key: string) => ctx.get(key));
  await cloud.put('sdk-fresh', 1);
  t.is(await cloud.call('read', ['sdk-fresh']), 1);
  t.is(await cloud.call('read', ['sdk-fresh']), 1);
  await cloud.put('sdk-fresh', 2);
  t.is(await cloud.call('read', ['sdk-fresh']), 2);
});

test('get and put plain values; a missing key is undefined', async (t) => {
  const { cloud } = t.context;
  t.is(await cloud.get('sdk-missing'), undefined);
  await cloud.put('sdk-plain', [1, 'two', { three: 3 }]);
  t.deepEqual(await cloud.get('sdk-plain'), [1, 'two', { three: 3 }]);
  await cloud.put('sdk-plain', 'replaced');
  t.is(await cloud.get('sdk-plain'), 'replaced');
});

test('lattice values merge', async (t) => {
  const { cloud } = t.context;
  await cloud.put('sdk-set', lattice.set([3, 1]));
  await cloud.put('sdk-set', lattice.set([2, 3]));
  t.deepEqual(await cloud.get('sdk-set'), [1, 2, 3]);
  await cloud.put('sdk-max', lattice.max(5));
  await cloud.put('sdk-max', lattice.max(2));
  t.is(await cloud.get('sdk-max'), 5);
  await cloud.put('sdk-counter', lattice.counter(2));
  await cloud.put('sdk-counter', lattice.counter(3));
  t.is(await cloud.get('sdk-counter'), 5);
  await cloud.put('sdk-map', lattice.map({ seen: lattice.set(['a']), hits: lattice.counter(1) }));
  await cloud.put('sdk-map', lattice.map({ seen: lattice.set(['b']), hits: lattice.counter(1) }));
  t.deepEqual(await cloud.get('sdk-map'), { seen: ['a', 'b'], hits: 2 });
  await cloud.put('sdk-ordered', lattice.orderedSet(['b', 'a']));
  t.deepEqual(await cloud.get('sdk-ordered'), ['a', 'b']);
  await cloud.put('sdk-lww', lattice.lww('x'));
  t.is(await cloud.get('sdk-lww'), 'x');
});

test('functions increment counters concurrently without losing updates', async (t) => {
  const { cloud } = t.context;
  await cloud.register('bump', async (ctx: Context, key: string) => {
    await ctx.put(key, ctx.lattice.counter(1));
    await ctx.put(`${key}-who`, ctx.lattice.set([ctx.callId]));
  });
  await Promise.all(Array.from({ length: 50 }, () => cloud.call('bump', ['sdk-bumps'])));
  t.is(await cloud.get('sdk-bumps'), 50);
  t.is(((await cloud.get('sdk-bumps-who')) as string[]).length, 50);
});

test('callAsync returns a future whose key holds the result', async (t) => {
  const { cloud } = t.context;
  await cloud.register('square', (_ctx: Context, x: number) => x * x);
  const future = await cloud.callAsync('square', [12]);
  t.true(future.key.length > 0);
  t.is(await future.get(), 144);
  t.is(await cloud.get(future.key), 144);
});

test('a future and a ref passed as arguments resolve before the function runs', async (t) => {
  const { cloud } = t.context;
  await cloud.register('plus', (_ctx: Context, a: number, b: number) => a + b);
  await cloud.put('sdk-ref', 10);
  const first = await cloud.callAsync('plus', [1, 2]);
  t.is(await cloud.call('plus', [first, ref('sdk-ref')]), 13);
});

test('a failed async call rejects its future with the typed error', async (t) => {
  const { cloud } = t.context;
  await cloud.register('fails', () => {
    throw new TypeError('nope');
  });
  const future = await cloud.callAsync('fails');
  const error = await t.throwsAsync(future.get());
  t.is((error as { code?: string }).code, 'FUNCTION_FAILED');
  t.regex(error.message, /nope/);
});

test('deploy registers every export of a TypeScript module, with npm imports', async (t) => {
  const { cloud } = t.context;
  const source = `
    import { nanoid } from 'nanoid';
    interface Greeting { text: string; id: number }
    const prefix = 'Hello';
    function shout(s: string): string { return s.toUpperCase(); }
    export function greet(_ctx: unknown, name: string): Greeting {
      return { text: shout(\`\${prefix}, \${name}\`), id: nanoid().length };
    }
    export async function twice(ctx: { call(n: string, a: unknown[]): Promise<unknown> }, name: string) {
      const a = (await ctx.call('greet', [name])) as Greeting;
      return [a.text, a.text];
    }
    export class Accumulator {
      items: string[] = [];
      run(_ctx: unknown, item: string) { this.items.push(item); return this.items.length; }
    }
    export const notAFunction = 42;
  `;
  const names = await cloud.deploy(source, { filename: 'greetings.ts' });
  t.deepEqual([...names].sort(), ['Accumulator', 'greet', 'twice']);
  t.deepEqual(await cloud.call('greet', ['ada']), { text: 'HELLO, ADA', id: 21 });
  t.deepEqual(await cloud.call('twice', ['bo']), ['HELLO, BO', 'HELLO, BO']);
  t.is(await cloud.call('Accumulator', ['x']), 1);
  t.is(await cloud.call('Accumulator', ['y']), 2);
  const listed = await cloud.listFunctions('gre');
  t.deepEqual(listed, ['greet']);
});

test('status reports the node, executors, cache and functions', async (t) => {
  const { cloud, node } = t.context;
  await cloud.register('statusProbe', (ctx: Context) => ctx.get('sdk-status'));
  await cloud.put('sdk-status', 'x');
  await cloud.call('statusProbe');
  await cloud.call('statusProbe');
  const status = await cloud.status();
  t.is(status.node.id, node.id);
  t.is(status.node.address, node.address);
  t.is(status.nodes.length, 1);
  t.is(status.nodes[0]!.state, 'alive');
  t.is(status.executors.length, 2);
  t.true(status.cache.hits >= 1);
  t.true(status.cache.hitRatio > 0 && status.cache.hitRatio <= 1);
  t.true(status.functions.some((f) => f.name === 'statusProbe'));
});

test('status shows each executor busy as it is now, not on average since the start', async (t) => {
  t.timeout(60_000);
  const node = await startNodeProcess(['--executors', '1', '--http-port', 'off']);
  const cloud = await connect(node.address);
  try {
    await cloud.register('spin', (_ctx: Context, ms: number) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        // busy on purpose
      }
      return ms;
    });
    for (let i = 0; i < 3; i++) await cloud.call('spin', [1000]);
    const busy = (await cloud.status()).executors[0]!;
    t.true(busy.utilisation > 0.3, `busy: ${busy.utilisation}`);
    t.true(busy.busyMs >= 3000);
    // Idle past the window: the figure falls to nothing though the busy seconds remain.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    const idle = (await cloud.status()).executors[0]!;
    t.true(idle.utilisation < 0.05, `idle: ${idle.utilisation}`);
    t.true(idle.busyMs >= 3000);
  } finally {
    cloud.close();
    await node.stop();
  }
});
