/**
 * Framed CBOR connections over a real loopback socket pair: messages of every CBOR kind the
 * codec carries arrive intact and in order (a 10 MB one too); a message over the frame
 * limit is refused on send with ValidationError and the connection stays usable; bytes
 * that are not frames, or frames that are not CBOR, close only that connection and hand
 * the error to `onClose`; a peer that stops reading turns `send` into UnavailableError.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import test from 'ava';
import fc from 'fast-check';
import { UnavailableError, ValidationError } from '../../src/errors.js';
import {
  Connection,
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
} from '../../src/runtime/connection.js';
import { FrameError, frameHeader } from '../../src/runtime/frame_decoder.js';
import { encode } from '../../src/storage/codec.js';
import { FutureRef, Ref } from '../../src/storage/refs.js';

const seed =
  Number(process.env.SQUALL_SEED) || (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;

/** Collects what one side receives; `next(n)` waits until n messages are in. */
class Inbox {
  readonly messages: unknown[] = [];
  closeError: Error | undefined;
  closedCount = 0;
  #wake: (() => void) | undefined;
  readonly closed: Promise<Error | undefined>;
  #onClosed!: (error: Error | undefined) => void;

  constructor() {
    this.closed = new Promise((resolve) => {
      this.#onClosed = resolve;
    });
  }

  readonly handlers = {
    onMessage: (message: unknown) => {
      this.messages.push(message);
      this.#wake?.();
    },
    onClose: (error: Error | undefined) => {
      this.closedCount += 1;
      this.closeError = error;
      this.#onClosed(error);
      this.#wake?.();
    },
  };

  async next(count: number, timeoutMs = 5_000): Promise<unknown[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count) {
      if (this.closedCount > 0) throw new Error(`closed with ${this.messages.length}/${count}`);
      if (Date.now() > deadline) throw new Error(`timed out at ${this.messages.length}/${count}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.messages.splice(0, count);
  }
}

interface Pair {
  a: Connection;
  b: Connection;
  inA: Inbox;
  inB: Inbox;
  close(): Promise<void>;
}

/** Two Connections joined by a real TCP socket on 127.0.0.1. */
async function pair(
  limitsA: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
  limitsB: ConnectionLimits = limitsA,
): Promise<Pair> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = tcpConnect(address.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const serverSide = await accepted;
  const inA = new Inbox();
  const inB = new Inbox();
  const a = new Connection(client, limitsA, inA.handlers);
  const b = new Connection(serverSide, limitsB, inB.handlers);
  return {
    a,
    b,
    inA,
    inB,
    async close() {
      a.close();
      b.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const SAMPLES: unknown[] = [
  0,
  1,
  -1,
  23,
  24,
  255,
  256,
  65_536,
  2 ** 32,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  0.1,
  -1.5e300,
  Number.MIN_VALUE,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  0n,
  5n,
  2n ** 64n,
  -(2n ** 70n),
  '',
  'ascii',
  'héllo wörld 🌍 𝄞 中文',
  'x'.repeat(70_000),
  true,
  false,
  null,
  undefined,
  [],
  [1, [2, [3, [4]]]],
  [undefined, null, 'a'],
  {},
  { a: 1, nested: { b: [1, 2, { c: 'd' }] }, u: undefined },
  new Map<unknown, unknown>([
    [1, 'one'],
    ['k', { v: 2 }],
    [{ obj: true }, [3]],
  ]),
  new Set([1, 'two', 3n]),
  new Date(1_700_000_000_123),
  new Uint8Array([0, 1, 254, 255]),
  Buffer.from('buffer bytes'),
  new Float64Array([1.5, -0.25, Number.NaN]),
  new Int32Array([-1, 2 ** 31 - 1]),
  new Uint16Array([0, 65535]),
  /ab+c/gi,
  new Ref('some/key'),
  new FutureRef('future:1'),
  { deep: new Map([['set', new Set([new Date(0), new Uint8Array(3)])]]) },
];

test('messages of many CBOR kinds round-trip in order, both ways', async (t) => {
  const p = await pair();
  try {
    for (const value of SAMPLES) p.a.send({ value });
    for (const value of SAMPLES) p.b.send({ value });
    const atB = await p.inB.next(SAMPLES.length);
    const atA = await p.inA.next(SAMPLES.length);
    SAMPLES.forEach((value, i) => {
      t.deepEqual((atB[i] as { value: unknown }).value, value, `a→b #${i}`);
      t.deepEqual((atA[i] as { value: unknown }).value, value, `b→a #${i}`);
    });
    const ref = (atB[SAMPLES.length - 3] as { value: unknown }).value;
    t.true(ref instanceof Ref);
    t.true((atB[SAMPLES.length - 2] as { value: unknown }).value instanceof FutureRef);
    p.a.send(new Error('boom'));
    const [error] = await p.inB.next(1);
    t.true(error instanceof Error);
    t.is((error as Error).message, 'boom');
  } finally {
    await p.close();
  }
});

/** Values the codec carries exactly (no -0, no lone surrogates, no "__proto__" keys). */
const cborValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.double().filter((d) => !Object.is(d, -0)),
    fc.bigInt(),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    // Within ±4e15 ms: farther out the codec loses a millisecond (see the failing test).
    fc.date({ min: new Date(-4e15), max: new Date(4e15), noInvalidDate: true }),
    fc.uint8Array({ maxLength: 32 }),
    fc.float64Array({ maxLength: 4 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'),
      tie('value'),
      { maxKeys: 4 },
    ),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((e) => new Map(e)),
    fc.array(tie('value'), { maxLength: 3 }).map((e) => new Set(e)),
  ),
})).value;

test('random values round-trip in order over one connection', async (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  const p = await pair();
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(cborValue, { minLength: 1, maxLength: 12 }), async (values) => {
        for (const [i, value] of values.entries()) p.a.send({ i, value });
        const got = await p.inB.next(values.length);
        t.deepEqual(
          got,
          values.map((value, i) => ({ i, value })),
        );
      }),
      { seed, numRuns: 300 },
    );
  } finally {
    await p.close();
  }
});

test('a message over frameBytesMax is refused on send and the connection stays usable', async (t) => {
  const payload = new Uint8Array(5_000).fill(7);
  const exact = encode(payload).length;
  const limits = { frameBytesMax: exact, writeBytesMax: 1 << 20 };
  const p = await pair(limits);
  try {
    p.a.send(payload); // exactly at the limit: accepted on both sides
    const [atLimit] = await p.inB.next(1);
    t.deepEqual(atLimit, payload);
    const over = new Uint8Array(5_001);
    const error = t.throws(() => p.a.send(over), { instanceOf: ValidationError });
    t.is(error.code, 'INVALID');
    t.regex(error.message, new RegExp(`exceeds the frame limit of ${exact}`));
    t.throws(() => p.a.sendEncoded(new Uint8Array(exact + 1)), { instanceOf: ValidationError });
    t.false(p.a.closed);
    p.a.send({ after: 'refusal' });
    p.b.send({ reply: true });
    t.deepEqual(await p.inB.next(1), [{ after: 'refusal' }]);
    t.deepEqual(await p.inA.next(1), [{ reply: true }]);
    t.is(p.inA.closedCount + p.inB.closedCount, 0);
  } finally {
    await p.close();
  }
});

test('a 10 MB message arrives intact, in order with small ones around it', async (t) => {
  const p = await pair();
  try {
    const blob = randomBytes(10 * 1024 * 1024);
    p.a.send('before');
    p.a.send({ blob, tag: 'big' });
    p.a.send('after');
    const [before, big, after] = await p.inB.next(3, 20_000);
    t.is(before, 'before');
    t.is(after, 'after');
    const received = big as { blob: Uint8Array; tag: string };
    t.is(received.tag, 'big');
    t.is(received.blob.length, blob.length);
    t.true(Buffer.from(received.blob).equals(blob), 'every byte matches');
  } finally {
    await p.close();
  }
});

test('a frame that is not CBOR closes the connection with an error', async (t) => {
  const p = await pair();
  try {
    p.a.send('fine');
    t.deepEqual(await p.inB.next(1), ['fine']);
    const body = Buffer.from([0xff, 0xfe, 0x1c]);
    p.a.socket.write(Buffer.concat([frameHeader(body.length), body]));
    const error = await p.inB.closed;
    t.true(error instanceof Error);
    t.regex(error!.message, /not CBOR/);
    t.true(p.b.closed);
    t.is(await p.inA.closed, undefined, 'the peer sees a plain close');
    t.throws(() => p.b.send('x'), { instanceOf: UnavailableError });
    t.is(p.inB.closedCount, 1, 'onClose runs once');
  } finally {
    await p.close();
  }
});

test('trailing bytes after a CBOR item in one frame close the connection', async (t) => {
  const p = await pair();
  try {
    const body = Buffer.concat([Buffer.from(encode('ok')), Buffer.from([0x01])]);
    p.a.socket.write(Buffer.concat([frameHeader(body.length), body]));
    t.regex((await p.inB.closed)!.message, /not CBOR/);
    t.is(p.inB.messages.length, 0);
  } finally {
    await p.close();
  }
});

test('a length over the limit or a zero length closes the connection with FrameError', async (t) => {
  for (const header of [frameHeader(0xffffffff), frameHeader(4097), frameHeader(0)]) {
    const p = await pair({ frameBytesMax: 4096, writeBytesMax: 1 << 20 });
    try {
      p.a.socket.write(header.subarray(0, 2));
      await new Promise((resolve) => setTimeout(resolve, 20));
      t.false(p.b.closed, 'half a header is not yet an error');
      p.a.socket.write(header.subarray(2));
      const error = await p.inB.closed;
      t.true(error instanceof FrameError, String(error));
      t.true(p.b.closed);
    } finally {
      await p.close();
    }
  }
});

test('random garbage from the peer closes the connection, never throws', async (t) => {
  for (let i = 0; i < 10; i++) {
    const p = await pair({ frameBytesMax: 1 << 16, writeBytesMax: 1 << 20 });
    try {
      const garbage = randomBytes(5 + ((i * 997) % 3000));
      // Even runs: a header that fits the limit, then random bytes as the body. Odd runs: a
      // header far over the limit.
      garbage.writeUInt32BE(i % 2 === 0 ? garbage.length - 4 : 0x7fffffff, 0);
      p.a.socket.write(garbage);
      p.a.socket.end();
      const error = await p.inB.closed;
      // Either it was refused (an error) or, rarely, random bytes were valid CBOR and the
      // peer simply hung up; both close exactly once.
      t.is(p.inB.closedCount, 1);
      if (i % 2 === 1) t.true(error instanceof FrameError);
    } finally {
      await p.close();
    }
  }
});

test('a peer that stops reading makes send refuse with UnavailableError, nothing lost', async (t) => {
  const p = await pair({ frameBytesMax: 1 << 20, writeBytesMax: 1 << 20 });
  try {
    p.b.socket.pause();
    const chunk = new Uint8Array(256 * 1024).fill(3);
    let sent = 0;
    let refused: unknown;
    for (let i = 0; i < 2_000 && refused === undefined; i++) {
      try {
        p.a.send({ i, chunk });
        sent += 1;
      } catch (error) {
        refused = error;
      }
      // Let the kernel buffers fill up between writes.
      if (i % 8 === 7) await new Promise((resolve) => setImmediate(resolve));
    }
    t.true(refused instanceof UnavailableError, `refused after ${sent} sends`);
    t.regex((refused as Error).message, /backlog/);
    t.true(p.a.socket.writableLength <= (1 << 20) + 300 * 1024, 'the backlog stays bounded');
    p.b.socket.resume();
    const got = (await p.inB.next(sent, 20_000)) as { i: number }[];
    t.deepEqual(
      got.map((m) => m.i),
      Array.from({ length: sent }, (_, i) => i),
    );
  } finally {
    await p.close();
  }
});

test('close() is idempotent and reports no error; send after close is UnavailableError', async (t) => {
  const p = await pair();
  try {
    p.a.close();
    p.a.close();
    t.is(p.inA.closedCount, 1);
    t.is(p.inA.closeError, undefined);
    t.is(await p.inB.closed, undefined);
    t.throws(() => p.a.send(1), { instanceOf: UnavailableError });
    t.throws(() => p.a.sendEncoded(new Uint8Array(1)), { instanceOf: UnavailableError });
  } finally {
    await p.close();
  }
});

// Dates are encoded as integer milliseconds (src/storage/codec.ts): cbor-x's tag 1 with
// float seconds brought new Date(-4398724822988136) back one millisecond off.
test('a far-past Date round-trips to the millisecond', async (t) => {
  const p = await pair();
  try {
    const date = new Date(-4398724822988136);
    p.a.send(date);
    const [got] = await p.inB.next(1);
    t.is((got as Date).getTime(), date.getTime());
  } finally {
    await p.close();
  }
});
