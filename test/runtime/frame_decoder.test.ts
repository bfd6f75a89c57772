/**
 * The frame decoder: any sequence of frames, split into chunks anywhere (one byte at a
 * time, inside the 4-byte header, many KB at once), decodes to exactly the same bodies in
 * order; a length over `frameBytesMax` is a FrameError as soon as the header is read,
 * before any of the body is buffered; a zero length is a FrameError.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
  frameHeader,
} from '../../src/runtime/frame_decoder.js';

const seed =
  Number(process.env.SQUALL_SEED) || (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;

const KB = 1024;
const BODY_BYTES_MAX = 100 * KB;

/** Deterministic bytes to cut frame bodies from (xorshift32, so a seed replays exactly). */
function pool(bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let x = 0x9e3779b9;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
const POOL = pool(2 * BODY_BYTES_MAX);

function frame(body: Buffer): Buffer {
  return Buffer.concat([frameHeader(body.length), body]);
}

const frameSpec = fc.record({
  size: fc.oneof(
    fc.constant(1),
    fc.integer({ min: 1, max: 16 }),
    fc.integer({ min: 1, max: 4 * KB }),
    fc.integer({ min: 1, max: BODY_BYTES_MAX }),
    fc.constant(BODY_BYTES_MAX),
  ),
  /** 1..3 cuts the chunk inside this frame's header at that offset; 0 and 4 do not. */
  headerCut: fc.integer({ min: 0, max: FRAME_HEADER_BYTES }),
  offset: fc.nat({ max: BODY_BYTES_MAX }),
});

const caseArb = fc.record({
  frames: fc.array(frameSpec, { minLength: 1, maxLength: 8 }),
  /** Cut points anywhere in the stream (taken modulo its length). */
  cuts: fc.array(fc.nat(), { maxLength: 40 }),
  /** A run of one-byte chunks somewhere in the stream. */
  ones: fc.record({ start: fc.nat(), length: fc.integer({ min: 0, max: 64 }) }),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function build(c: Case): { bodies: Buffer[]; stream: Buffer; chunks: Buffer[] } {
  const bodies: Buffer[] = [];
  const cutSet = new Set<number>();
  let position = 0;
  c.frames.forEach((spec, index) => {
    const body = Buffer.from(POOL.subarray(spec.offset, spec.offset + spec.size));
    body[0] = index & 0xff;
    bodies.push(body);
    if (spec.headerCut > 0 && spec.headerCut < FRAME_HEADER_BYTES) {
      cutSet.add(position + spec.headerCut);
    }
    position += FRAME_HEADER_BYTES + body.length;
  });
  const stream = Buffer.concat(bodies.map(frame));
  for (const cut of c.cuts) cutSet.add(cut % stream.length);
  const onesStart = c.ones.start % stream.length;
  for (let i = 0; i <= c.ones.length; i++) cutSet.add(onesStart + i);
  const cuts = [...cutSet].filter((p) => p > 0 && p < stream.length).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    chunks.push(stream.subarray(from, cut));
    from = cut;
  }
  return { bodies, stream, chunks };
}

test('frames split into any chunks decode to the same frames in order', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  let headerSplits = 0;
  let oneByteBodies = 0;
  fc.assert(
    fc.property(caseArb, (c) => {
      const { bodies, stream, chunks } = build(c);
      if (Buffer.concat(chunks).compare(stream) !== 0) return false;
      const decoder = new FrameDecoder(BODY_BYTES_MAX);
      const out: Buffer[] = [];
      let start = 0;
      for (const chunk of chunks) {
        out.push(...decoder.push(chunk));
        const end = start + chunk.length;
        if (c.frames.some((_, i) => isInsideHeader(bodies, i, start, end))) headerSplits += 1;
        start = end;
      }
      oneByteBodies += bodies.filter((b) => b.length === 1).length;
      if (out.length !== bodies.length) return false;
      if (!out.every((body, i) => body.equals(bodies[i]!))) return false;
      // Nothing is left over: a fresh frame pushed afterwards comes back alone.
      const after = decoder.push(frame(Buffer.from('after')));
      return after.length === 1 && after[0]!.toString() === 'after';
    }),
    { seed, numRuns: 2_000 },
  );
  t.true(headerSplits > 100, `chunk boundaries fell inside a header ${headerSplits} times`);
  t.true(oneByteBodies > 100, `${oneByteBodies} one-byte bodies`);
});

/** Whether a chunk [start, end) ends strictly inside frame i's header. */
function isInsideHeader(bodies: Buffer[], i: number, start: number, end: number): boolean {
  let headerAt = 0;
  for (let j = 0; j < i; j++) headerAt += FRAME_HEADER_BYTES + bodies[j]!.length;
  return end > headerAt && end < headerAt + FRAME_HEADER_BYTES && start < end;
}

test('one byte at a time decodes a stream of small frames', (t) => {
  const bodies = [Buffer.from([7]), Buffer.from('hello'), Buffer.alloc(300, 1), Buffer.from([0])];
  const stream = Buffer.concat(bodies.map(frame));
  const decoder = new FrameDecoder(1024);
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) out.push(...decoder.push(stream.subarray(i, i + 1)));
  t.deepEqual(
    out.map((b) => b.toString('hex')),
    bodies.map((b) => b.toString('hex')),
  );
});

test('a whole stream in one chunk yields every frame at once', (t) => {
  const bodies = Array.from({ length: 50 }, (_, i) => Buffer.alloc(i + 1, i));
  const out = new FrameDecoder(1024).push(Buffer.concat(bodies.map(frame)));
  t.is(out.length, 50);
  t.true(out.every((b, i) => b.equals(bodies[i]!)));
});

test('an empty chunk changes nothing', (t) => {
  const decoder = new FrameDecoder(1024);
  t.deepEqual(decoder.push(Buffer.alloc(0)), []);
  t.deepEqual(decoder.push(frameHeader(3).subarray(0, 2)), []);
  t.deepEqual(decoder.push(Buffer.alloc(0)), []);
  const out = decoder.push(Buffer.concat([frameHeader(3).subarray(2), Buffer.from('abc')]));
  t.deepEqual(
    out.map((b) => b.toString()),
    ['abc'],
  );
});

test('a frame of exactly frameBytesMax is accepted, one byte more is refused', (t) => {
  const ok = new FrameDecoder(4096).push(frame(Buffer.alloc(4096, 9)));
  t.is(ok.length, 1);
  t.is(ok[0]!.length, 4096);
  const error = t.throws(() => new FrameDecoder(4096).push(frameHeader(4097)), {
    instanceOf: FrameError,
  });
  t.regex(error.message, /4097.*4096/);
});

test('an oversized length throws on the header alone, before any body byte arrives', (t) => {
  t.throws(() => new FrameDecoder(1024).push(frameHeader(0xffffffff)), { instanceOf: FrameError });
  // Header split over two chunks: the second push, still without body, throws.
  const split = new FrameDecoder(1024);
  t.deepEqual(split.push(frameHeader(2048).subarray(0, 3)), []);
  t.throws(() => split.push(frameHeader(2048).subarray(3)), { instanceOf: FrameError });
});

test('HTTP where frames were expected says so, not "frame of 1213486160 bytes"', (t) => {
  for (const text of ['HTTP/1.1 400 Bad Request\r\n', 'GET / HTTP/1.1\r\n']) {
    t.throws(() => new FrameDecoder(64 * KB).push(Buffer.from(text)), {
      instanceOf: FrameError,
      message: /speaks HTTP, not squall/,
    });
  }
});

test('any length over the limit throws FrameError whatever part of the body came with it', (t) => {
  t.log('seed', seed);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1 << 20 }),
      fc.integer({ min: 1, max: 0xffffffff }),
      fc.nat({ max: 64 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 3 }),
      (limit, over, partial, before) => {
        const length = Math.min(limit + over, 0xffffffff);
        const decoder = new FrameDecoder(limit);
        const good = before.filter((n) => n <= limit).map((n) => frame(Buffer.alloc(n, 1)));
        const chunk = Buffer.concat([...good, frameHeader(length), Buffer.alloc(partial, 2)]);
        try {
          decoder.push(chunk);
        } catch (error) {
          return error instanceof FrameError;
        }
        return false;
      },
    ),
    { seed, numRuns: 2_000 },
  );
  t.pass();
});

test('a zero-length frame throws FrameError, also after good frames', (t) => {
  const error = t.throws(() => new FrameDecoder(1024).push(frameHeader(0)), {
    instanceOf: FrameError,
  });
  t.regex(error.message, /empty/);
  const decoder = new FrameDecoder(1024);
  t.is(decoder.push(frame(Buffer.from('x'))).length, 1);
  t.throws(() => decoder.push(Buffer.concat([frame(Buffer.from('y')), frameHeader(0)])), {
    instanceOf: FrameError,
  });
});

test('frameHeader writes a 4-byte big-endian length', (t) => {
  t.is(FRAME_HEADER_BYTES, 4);
  t.deepEqual([...frameHeader(1)], [0, 0, 0, 1]);
  t.deepEqual([...frameHeader(0x01020304)], [1, 2, 3, 4]);
  t.deepEqual([...frameHeader(0xffffffff)], [255, 255, 255, 255]);
});
