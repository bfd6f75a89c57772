/**
 * Function actors on one node talking to each other: direct messages by actor address,
 * waiting receives, nested calls, and the bound on a mailbox.
 */
import { type Context, FunctionError } from '../../src/index.js';
import { testWithNode } from './node_fixture.js';

const test = testWithNode(['--executors', '2']);

test('two running functions exchange messages through their addresses', async (t) => {
  const { cloud } = t.context;
  await cloud.register('ponger', async (ctx: Context, key: string) => {
    await ctx.put(key, ctx.id);
    const [ping] = await ctx.recv({ timeoutMs: 10_000 });
    if (ping === undefined) return 'no ping';
    await ctx.send(ping.from, { pong: (ping.message as { ping: number }).ping + 1 });
    return ping.message;
  });
  await cloud.register('pinger', async (ctx: Context, key: string) => {
    let target: unknown;
    for (let i = 0; i < 200 && target === undefined; i++) {
      target = await ctx.get(key);
      if (target === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await ctx.send(target as string, { ping: 41 });
    const replies = await ctx.recv({ timeoutMs: 10_000 });
    return replies.map((r) => ({ from: r.from === target, message: r.message }));
  });
  const [pong, ping] = await Promise.all([
    cloud.call('ponger', ['msg/pong-address']),
    cloud.call('pinger', ['msg/pong-address']),
  ]);
  t.deepEqual(pong, { ping: 41 });
  t.deepEqual(ping, [{ from: true, message: { pong: 42 } }]);
});

test('recv returns at once with what is there, and keeps order', async (t) => {
  const { cloud } = t.context;
  await cloud.register('selfMail', async (ctx: Context) => {
    const empty = await ctx.recv();
    for (let i = 0; i < 5; i++) await ctx.send(ctx.id, i);
    const all = await ctx.recv();
    const ids = new Set(all.map((m) => m.id).filter((id) => typeof id === 'string' && id !== ''));
    return {
      empty,
      all: all.map((m) => m.message),
      from: all.every((m) => m.from === ctx.id),
      ids: ids.size,
    };
  });
  t.deepEqual(
    await cloud.call('selfMail'),
    { empty: [], all: [0, 1, 2, 3, 4], from: true, ids: 5 },
    'each message carries its own id',
  );
});

test('a class actor keeps its address, and messages wait in its mailbox between calls', async (t) => {
  const { cloud } = t.context;
  class Inbox {
    run(ctx: Context, op: string) {
      return op === 'id' ? ctx.id : ctx.recv().then((m) => m.map((x) => x.message));
    }
  }
  await cloud.register('inbox', Inbox);
  const address = await cloud.call('inbox', ['id']);
  t.is(await cloud.call('inbox', ['id']), address);
  await cloud.register('mailer', async (ctx: Context, to: string, n: number) => {
    for (let i = 0; i < n; i++) await ctx.send(to, `hello ${i}`);
  });
  await cloud.call('mailer', [address, 3]);
  t.deepEqual(await cloud.call('inbox', ['read']), ['hello 0', 'hello 1', 'hello 2']);
  t.deepEqual(await cloud.call('inbox', ['read']), []);
});

test('a full mailbox is a typed error to the sender', async (t) => {
  const { cloud } = t.context;
  // A class actor lives on between calls, so its mail is kept until its mailbox is full.
  await cloud.register(
    'NeverReads',
    class {
      run(ctx: Context) {
        return ctx.id;
      }
    },
  );
  const target = (await cloud.call('NeverReads')) as string;
  await cloud.register('flood', async (ctx: Context, target: string) => {
    let sent = 0;
    try {
      for (;;) {
        await ctx.send(target, sent);
        sent += 1;
      }
    } catch (error) {
      return { sent, code: (error as { code?: string }).code, message: (error as Error).message };
    }
  });
  const result = (await cloud.call('flood', [target])) as {
    sent: number;
    code: string;
    message: string;
  };
  t.is(result.sent, 10_000);
  t.is(result.code, 'UNAVAILABLE');
  t.regex(result.message, /mailbox .* is full/);
});

test('sending to an address on an unknown node fails clearly', async (t) => {
  const { cloud } = t.context;
  await cloud.register('lost', (ctx: Context) => ctx.send('nowhere/lost/call1', 1));
  const error = await t.throwsAsync(cloud.call('lost'), { instanceOf: FunctionError });
  t.regex(error.message, /no node "nowhere"/);
});

test('a malformed address or one naming no function is refused, not kept in a mailbox', async (t) => {
  const { cloud } = t.context;
  const node = (await cloud.status()).node.id;
  await cloud.register('sendTo', (ctx: Context, to: string) => ctx.send(to, 'hi'));
  for (const [to, remoteName] of [
    [node, 'ValidationError'],
    [`${node}/`, 'ValidationError'],
    [`${node}/NoSuchActor`, 'NotFoundError'],
    // A function's actors are its calls; one that is not running would never read.
    [`${node}/sendTo`, 'ValidationError'],
    [`${node}/sendTo/noSuchCall`, 'NotFoundError'],
    [`${node}/sendTo/a/b`, 'ValidationError'],
  ] as const) {
    const error = await t.throwsAsync(cloud.call('sendTo', [to]), { instanceOf: FunctionError });
    t.is(error.remoteName, remoteName, to);
  }
});

test('a class calling itself is refused at once (its calls take turns)', async (t) => {
  const { cloud } = t.context;
  await cloud.register(
    'Recurse',
    class {
      run(ctx: Context, depth: number) {
        return depth > 0 ? ctx.call('Recurse', [depth - 1]) : 'bottom';
      }
    },
  );
  t.is(await cloud.call('Recurse', [0]), 'bottom');
  const error = await t.throwsAsync(cloud.call('Recurse', [1], { timeoutMs: 30_000 }), {
    instanceOf: FunctionError,
  });
  t.is(error.remoteName, 'ValidationError');
  t.regex(error.message, /cannot call itself/);
});

test('a call back into a class whose turn waits up the chain is refused at once', async (t) => {
  const { cloud } = t.context;
  await cloud.register(
    'Ping',
    class {
      run(ctx: Context, via: string) {
        return via === 'none' ? 'ping' : ctx.call(via, ['Ping']);
      }
    },
  );
  await cloud.register(
    'Pong',
    class {
      run(ctx: Context, back: string) {
        return back === 'none' ? 'pong' : ctx.call(back, ['none']);
      }
    },
  );
  await cloud.register('relay', (ctx: Context, back: string) => ctx.call(back, ['none']));
  // Not a cycle: Ping's turn waits for Pong, which calls nothing back.
  t.is(await cloud.call('Pong', ['none']), 'pong');
  t.is(await cloud.call('relay', ['Pong']), 'pong');
  for (const via of ['Pong', 'relay']) {
    const startedMs = Date.now();
    const error = await t.throwsAsync(cloud.call('Ping', [via], { timeoutMs: 30_000 }), {
      instanceOf: FunctionError,
    });
    t.regex(error.message, /cannot call Ping: Ping's turn is waiting, up this call's chain/, via);
    t.true(Date.now() - startedMs < 10_000, 'refused, not timed out');
  }
  t.is(await cloud.call('Ping', ['none']), 'ping', 'Ping serves on');
});

test('functions call functions, and errors travel back typed', async (t) => {
  const { cloud } = t.context;
  await cloud.register('double', (_ctx: Context, x: number) => x * 2);
  await cloud.register('quadruple', async (ctx: Context, x: number) => {
    const twice = (await ctx.call('double', [x])) as number;
    return ctx.call('double', [twice]);
  });
  t.is(await cloud.call('quadruple', [5]), 20);
  await cloud.register('callsMissing', (ctx: Context) => ctx.call('missing-fn', []));
  const error = await t.throwsAsync(cloud.call('callsMissing'), { instanceOf: FunctionError });
  t.is(error.remoteName, 'NotFoundError');
  await cloud.register(
    'deep',
    async (ctx: Context, n: number): Promise<number> =>
      n === 0 ? 0 : 1 + ((await ctx.call('deep', [n - 1])) as number),
  );
  t.is(await cloud.call('deep', [12]), 12, 'nesting deeper than the executor count works');
});

test('ctx.log lines carry the function name and call id', async (t) => {
  const { cloud, node } = t.context;
  await cloud.register('logger', (ctx: Context) => {
    ctx.log.info('hello from a function', { answer: 42 });
    return ctx.callId;
  });
  const callId = (await cloud.call('logger')) as string;
  await new Promise((resolve) => setTimeout(resolve, 200));
  const line = node
    .stderr()
    .split('\n')
    .find((l) => l.includes('hello from a function'));
  t.truthy(line);
  const record = JSON.parse(line!) as Record<string, unknown>;
  t.is(record.fn, 'logger');
  t.is(record.call, callId);
  t.is(record.answer, 42);
});
