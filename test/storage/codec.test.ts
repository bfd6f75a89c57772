/**
 * The codec: round trips of structured-clone values, and the byte-array fast path agreeing
 * exactly with the general decoder (a fresh, unshared Uint8Array; truncation still throws).
 */
import test from 'ava';
import { Encoder } from 'cbor-x';
import fc from 'fast-check';
import {
  decode,
  decodeInPlace,
  decodeLarge,
  encode,
  encodeOwned,
  endsWithLargeByteString,
  FutureRef,
  Ref,
} from '../../src/storage/index.js';

const seed = Number(process.env.SQUALL_SEED) || Date.now() ^ Math.floor(Math.random() * 2 ** 30);
const reference = new Encoder({
  structuredClone: true,
  useRecords: false,
  mapsAsObjects: true,
  copyBuffers: true,
});

test('top-level byte arrays decode like the general decoder, into their own memory', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 70_000 }), (value) => {
      const bytes = encode(value);
      const fast = decode(bytes) as Uint8Array;
      const slow = reference.decode(bytes) as Uint8Array;
      return (
        fast.constructor === Uint8Array &&
        fast.byteOffset === 0 &&
        fast.buffer.byteLength === value.length &&
        Buffer.compare(fast, slow) === 0
      );
    }),
    { seed, numRuns: 500 },
  );
  for (const n of [0, 23, 24, 255, 256, 65_535, 65_536, 1 << 20]) {
    const value = new Uint8Array(n).map((_, i) => i * 31);
    const bytes = encode(value);
    t.deepEqual(decode(bytes), value, `length ${n}`);
    if (n > 0)
      t.throws(() => decode(bytes.subarray(0, bytes.length - 1)), undefined, `truncated ${n}`);
  }
});

test('structured-clone values and refs round-trip', (t) => {
  const value = {
    big: 2n ** 90n,
    when: new Date(5),
    map: new Map([[1, 'a']]),
    set: new Set(['x']),
    nested: [new Uint8Array([1, 2]), new Float64Array([0.5]), null, undefined],
    ref: new Ref('k'),
    future: new FutureRef('f'),
  };
  const back = decode(encode(value)) as typeof value;
  t.deepEqual(back, value);
  t.true(back.ref instanceof Ref);
  t.true(back.future instanceof FutureRef);
  t.log('seed', seed);
  fc.assert(
    // cbor-x renames an own "__proto__" key (prototype-pollution guard): not generated here.
    fc.property(
      fc.jsonValue().filter((json) => !JSON.stringify(json).includes('"__proto__"')),
      // Compared as JSON text, which also reads -0 as 0 (CBOR writes -0 as the integer 0).
      (json) => JSON.stringify(decode(encode(json))) === JSON.stringify(json),
    ),
    { seed, numRuns: 500 },
  );
});

test('every Date round-trips to the millisecond, invalid ones too; tag 1 (float seconds) still reads', (t) => {
  t.log('seed', seed);
  fc.assert(
    fc.property(fc.date({ noInvalidDate: false }), (date) =>
      Object.is((decode(encode(date)) as Date).getTime(), date.getTime()),
    ),
    { seed, numRuns: 10_000 },
  );
  for (const ms of [8.64e15, -8.64e15, -4398724822988136, 0])
    t.is((decode(encode(new Date(ms))) as Date).getTime(), ms);
  // c1 (tag 1) fb (float64) 1600000000.5 seconds: how cbor-x and other encoders write Dates.
  const tagged = Buffer.from('c1fb41d7d78400200000', 'hex');
  t.is((decode(tagged) as Date).getTime(), 1_600_000_000_500);
});

test('encodeOwned gives a buffer of its own that can be transferred', (t) => {
  const first = encode('keep me');
  const owned = encodeOwned({ a: 1 });
  t.is(owned.byteOffset, 0);
  t.is(owned.buffer.byteLength, owned.length);
  structuredClone(owned, { transfer: [owned.buffer] });
  t.is(decode(first), 'keep me');
  t.deepEqual(decode(encode({ a: 1 })), { a: 1 });
});

test('byte arrays encode for the cache exactly as the general encoder does', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: 65_530, maxLength: 65_540 }),
      ),
      (value) => {
        const owned = encodeOwned(value);
        return (
          Buffer.compare(owned, reference.encode(value)) === 0 &&
          owned.byteOffset === 0 &&
          owned.buffer.byteLength === owned.length
        );
      },
    ),
    { seed, numRuns: 2000 },
  );
  for (const n of [0, 23, 24, 255, 256, 65_535, 65_536]) {
    const value = new Uint8Array(n).fill(5);
    t.deepEqual(encodeOwned(value), new Uint8Array(reference.encode(value)), `length ${n}`);
  }
});

test('only a value that is one large byte array is decoded as a view of its input', (t) => {
  const big = new Uint8Array(100_000).fill(9);
  const alone = new Uint8Array(encodeOwned(big));
  t.is((decodeLarge(alone) as Uint8Array).buffer, alone.buffer);
  // Inside an object a small byte array would keep the whole buffer alive: copied.
  const mixed = new Uint8Array(encodeOwned({ tag: new Uint8Array(4), body: big }));
  const decoded = decodeLarge(mixed) as { tag: Uint8Array; body: Uint8Array };
  t.not(decoded.tag.buffer, mixed.buffer);
  t.deepEqual(decoded.body, big);
});

test('a frame is decoded in place only when it is nearly all one large byte string', (t) => {
  const big = new Uint8Array(100_000).fill(3);
  const answer = new Uint8Array(encodeOwned({ id: 7, ok: true, value: big }));
  t.true(endsWithLargeByteString(answer, 64));
  const decoded = decodeInPlace(answer) as { value: Uint8Array };
  t.is(decoded.value.buffer, answer.buffer);
  t.deepEqual(decoded.value, big);
  const notLast = new Uint8Array(encodeOwned({ value: big, more: 'after the bytes' }));
  t.false(endsWithLargeByteString(notLast, 64));
  const small = new Uint8Array(encodeOwned({ id: 1, value: new Uint8Array(1000) }));
  t.false(endsWithLargeByteString(small, 64));
  const text = new Uint8Array(encodeOwned({ id: 1, value: 'x'.repeat(100_000) }));
  t.false(endsWithLargeByteString(text, 64));
});

test('values structured cloning refuses are refused, not written as empty objects', (t) => {
  for (const value of [new WeakMap(), new WeakSet(), new WeakRef({}), Promise.resolve(1)]) {
    t.throws(() => encode({ inside: [value] }), { message: /cannot be cloned/ });
  }
});

test('errors come back as the built-in class they were, or an Error keeping its name; regexps too', (t) => {
  class MyError extends Error {
    override name = 'MyError';
  }
  for (const [value, Class] of [
    [new TypeError('t'), TypeError],
    [new RangeError('r'), RangeError],
    [new SyntaxError('s'), SyntaxError],
    [new Error('e'), Error],
  ] as const) {
    const back = decode(encode(value)) as Error;
    t.true(back instanceof Class, Class.name);
    t.is(back.message, value.message);
  }
  const mine = decode(encode(new MyError('m'))) as Error;
  t.is(mine.name, 'MyError');
  t.is(mine.message, 'm');
  t.deepEqual(decode(encode(/ab+c/gi)), /ab+c/gi);
});
