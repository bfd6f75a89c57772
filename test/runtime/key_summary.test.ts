/**
 * Key summaries (Bloom filters): no false negatives (property); the false-positive rate on
 * 10,000 random keys stays within 2× of the target; `sized` follows the standard formulas
 * and the 1 MiB bound; the wire form round-trips, is pinned byte for byte (so every
 * process sets the same bits), and garbage is refused with ValidationError. Property tests
 * print their seed; replay a failure with SQUALL_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { ValidationError } from '../../src/errors.js';
import {
  BITS_MAX,
  HASHES_MAX,
  KeySummary,
  SUMMARY_BYTES_MAX,
} from '../../src/runtime/key_summary.js';

const seed =
  Number(process.env.SQUALL_SEED) || (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;

/** A seeded xorshift32 source of 32-bit integers, for reproducible random keys. */
function randomSource(salt: number): () => number {
  let state = salt | 0 || 0x2545f491;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

function randomKeys(count: number, prefix: string, salt: number): string[] {
  const next = randomSource(salt);
  const keys = new Set<string>();
  while (keys.size < count) keys.add(`${prefix}${next().toString(36)}/${next().toString(36)}`);
  return [...keys];
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

// ---------------------------------------------------------------------------------------
// Sizing

test('sized follows m = ⌈−n·ln p / ln²2⌉ (whole bytes) and k = round(m/n · ln 2)', (t) => {
  for (const [n, p] of [
    [10_000, 0.01],
    [100_000, 0.01],
    [1_000, 0.001],
    [50, 0.1],
  ] as const) {
    const summary = KeySummary.sized(n, p);
    const ideal = Math.ceil((-n * Math.log(p)) / Math.LN2 ** 2);
    t.is(summary.bits, Math.ceil(ideal / 8) * 8, `bits for ${n} keys at ${p}`);
    t.is(summary.hashes, Math.round((summary.bits / n) * Math.LN2), `hashes for ${n} at ${p}`);
  }
  const tenK = KeySummary.sized(10_000, 0.01);
  t.deepEqual([tenK.bits, tenK.hashes, tenK.toBytes().length], [95_856, 7, 11_988]);
  const hundredK = KeySummary.sized(100_000, 0.01);
  t.deepEqual([hundredK.bits, hundredK.hashes, hundredK.toBytes().length], [958_512, 7, 119_820]);
  t.log('10k keys at 1%: 11,988 bytes, 7 hashes; 100k keys at 1%: 119,820 bytes, 7 hashes');
});

test('sized is bounded to 1 MiB of bits and then picks the best hash count for that size', (t) => {
  t.is(BITS_MAX, 8 * SUMMARY_BYTES_MAX);
  t.is(SUMMARY_BYTES_MAX, 1 << 20);
  const capped = KeySummary.sized(1_000_000, 0.01);
  t.is(capped.bits, BITS_MAX);
  t.is(capped.hashes, Math.round((BITS_MAX / 1_000_000) * Math.LN2));
  t.is(capped.toBytes().length, SUMMARY_BYTES_MAX + 6);
  const huge = KeySummary.sized(1e9, 0.01);
  t.deepEqual([huge.bits, huge.hashes], [BITS_MAX, 1]);
  const tiny = KeySummary.sized(0, 0.5);
  t.deepEqual([tiny.bits, tiny.hashes], [8, 6]);
  const strict = KeySummary.sized(10, 1e-15);
  t.is(strict.hashes, HASHES_MAX);
});

test('sized and the constructor refuse bad arguments', (t) => {
  const invalid = (run: () => unknown, message: string) => {
    const error = t.throws(run, { instanceOf: ValidationError });
    t.is(error?.message, message);
  };
  invalid(
    () => KeySummary.sized(-1, 0.01),
    'expected key count must be a non-negative integer, got -1',
  );
  invalid(
    () => KeySummary.sized(1.5, 0.01),
    'expected key count must be a non-negative integer, got 1.5',
  );
  for (const p of [0, 1, -0.1, 2, Number.NaN]) {
    invalid(
      () => KeySummary.sized(100, p),
      `false-positive rate must be between 0 and 1 (exclusive), got ${p}`,
    );
  }
  for (const bits of [0, 12, 7.5, BITS_MAX + 8, Number.NaN]) {
    invalid(
      () => new KeySummary(bits, 3),
      `key summary bits must be a multiple of 8 between 8 and ${BITS_MAX}, got ${bits}`,
    );
  }
  for (const hashes of [0, HASHES_MAX + 1, 1.5]) {
    invalid(
      () => new KeySummary(64, hashes),
      `key summary hashes must be an integer between 1 and ${HASHES_MAX}, got ${hashes}`,
    );
  }
});

// ---------------------------------------------------------------------------------------
// Membership

test('an empty summary has nothing; an added key is always found', (t) => {
  const summary = new KeySummary(1024, 5);
  t.false(summary.has('user:42'));
  t.is(summary.bitsSet(), 0);
  t.is(summary.estimatedFalsePositiveRate(), 0);
  summary.add('user:42');
  t.true(summary.has('user:42'));
  t.true(summary.bitsSet() >= 1 && summary.bitsSet() <= 5);
  summary.add('user:42');
  t.is(summary.toBytes().length, 6 + 128);
});

test('property: no false negatives, for any keys and any shape', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  let checked = 0;
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 200 }),
      fc.integer({ min: 1, max: 4096 }),
      fc.integer({ min: 1, max: HASHES_MAX }),
      (keys, bytes, hashes) => {
        const summary = new KeySummary(bytes * 8, hashes);
        for (const key of keys) summary.add(key);
        for (const key of keys) assert.ok(summary.has(key), `lost ${JSON.stringify(key)}`);
        const copy = KeySummary.fromBytes(summary.toBytes());
        for (const key of keys) assert.ok(copy.has(key), `lost ${JSON.stringify(key)} in a copy`);
        checked += keys.length;
      },
    ),
    { seed, numRuns: 2_000 },
  );
  t.true(checked > 0);
  t.log('keys checked', checked);
});

test('the false-positive rate on 10,000 random keys is within 2× of the 1% target', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  const target = 0.01;
  const added = randomKeys(10_000, 'user:', seed);
  const absent = randomKeys(100_000, 'item:', seed ^ 0x5bd1e995);
  const summary = KeySummary.sized(added.length, target);
  for (const key of added) summary.add(key);
  t.true(added.every((key) => summary.has(key)));
  const rate = absent.filter((key) => summary.has(key)).length / absent.length;
  const estimate = summary.estimatedFalsePositiveRate();
  t.log(
    `measured ${(rate * 100).toFixed(3)}%, estimated from fill ${(estimate * 100).toFixed(3)}%`,
  );
  t.true(rate <= 2 * target, `rate ${rate}`);
  t.true(estimate <= 2 * target && estimate >= target / 2, `estimate ${estimate}`);
});

test('the false-positive rate holds for short, similar keys too', (t) => {
  const target = 0.01;
  const added = Array.from({ length: 10_000 }, (_, i) => `k${i}`);
  const absent = Array.from({ length: 50_000 }, (_, i) => `k${i + 10_000}`);
  const summary = KeySummary.sized(added.length, target);
  for (const key of added) summary.add(key);
  const rate = absent.filter((key) => summary.has(key)).length / absent.length;
  t.log(`sequential keys: ${(rate * 100).toFixed(3)}%`);
  t.true(rate <= 2 * target, `rate ${rate}`);
});

// ---------------------------------------------------------------------------------------
// Wire form

test('the wire form is pinned: every process sets the same bits for the same keys', (t) => {
  const summary = new KeySummary(64, 3);
  for (const key of ['user:42', 'a', '', 'ключ']) summary.add(key);
  t.is(hex(summary.toBytes()), '010340000000044811084081000a');
  const parsed = KeySummary.fromBytes(Buffer.from('010340000000044811084081000a', 'hex'));
  t.true(parsed.has('user:42') && parsed.has('ключ') && parsed.has(''));
});

test('property: bytes round trip to an identical summary', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  fc.assert(
    fc.property(
      fc.array(fc.string(), { maxLength: 100 }),
      fc.array(fc.string(), { maxLength: 20 }),
      fc.integer({ min: 1, max: 512 }),
      fc.integer({ min: 1, max: HASHES_MAX }),
      fc.nat(16),
      (keys, probes, bytes, hashes, offset) => {
        const summary = new KeySummary(bytes * 8, hashes);
        for (const key of keys) summary.add(key);
        const wire = summary.toBytes();
        // A view into a larger buffer (as a decoded frame would hand over).
        const framed = new Uint8Array(offset + wire.length + 3);
        framed.set(wire, offset);
        const copy = KeySummary.fromBytes(framed.subarray(offset, offset + wire.length));
        assert.equal(copy.bits, summary.bits);
        assert.equal(copy.hashes, summary.hashes);
        assert.deepEqual(copy.toBytes(), wire);
        for (const probe of [...keys, ...probes]) assert.equal(copy.has(probe), summary.has(probe));
        // The copy is independent of the source buffer and of the original.
        framed.fill(0xff);
        copy.add('later');
        assert.deepEqual(summary.toBytes(), wire);
      },
    ),
    { seed, numRuns: 1_000 },
  );
  t.pass();
});

test('fromBytes refuses garbage', (t) => {
  const valid = new KeySummary(64, 3).toBytes();
  const patched = (index: number, value: number) => {
    const copy = valid.slice();
    copy[index] = value;
    return copy;
  };
  const withBits = (bits: number, length: number) => {
    const bytes = new Uint8Array(length);
    bytes[0] = 1;
    bytes[1] = 3;
    new DataView(bytes.buffer).setUint32(2, bits, true);
    return bytes;
  };
  const cases: [unknown, string][] = [
    ['0103', 'key summary must be bytes'],
    [[1, 3, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'key summary must be bytes'],
    [new Uint8Array(0), 'key summary of 0 bytes is shorter than its header'],
    [valid.subarray(0, 5), 'key summary of 5 bytes is shorter than its header'],
    [patched(0, 2), 'key summary has unknown version 2'],
    [patched(0, 0), 'key summary has unknown version 0'],
    [patched(1, 0), `key summary hashes must be an integer between 1 and ${HASHES_MAX}, got 0`],
    [patched(1, 200), `key summary hashes must be an integer between 1 and ${HASHES_MAX}, got 200`],
    [withBits(0, 6), `key summary bits must be a multiple of 8 between 8 and ${BITS_MAX}, got 0`],
    [withBits(12, 8), `key summary bits must be a multiple of 8 between 8 and ${BITS_MAX}, got 12`],
    [
      withBits(0xffffffff, 16),
      `key summary bits must be a multiple of 8 between 8 and ${BITS_MAX}, got 4294967295`,
    ],
    [valid.subarray(0, valid.length - 1), 'key summary of 64 bits must be 14 bytes, got 13'],
    [new Uint8Array([...valid, 0]), 'key summary of 64 bits must be 14 bytes, got 15'],
    [
      withBits(BITS_MAX, 6),
      `key summary of ${BITS_MAX} bits must be ${SUMMARY_BYTES_MAX + 6} bytes, got 6`,
    ],
  ];
  for (const [input, message] of cases) {
    const error = t.throws(() => KeySummary.fromBytes(input as Uint8Array), {
      instanceOf: ValidationError,
    });
    t.is(error?.message, message);
  }
});

test('property: any bytes either parse to a summary that writes them back, or are refused', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  const outcomes = { parsed: 0, refused: 0 };
  // Mostly plausible headers (version 1, a bit count that fits the body) with damage mixed in.
  const frame = fc
    .tuple(
      fc.constantFrom(1, 1, 1, 0, 2),
      fc.oneof(fc.integer({ min: 1, max: HASHES_MAX }), fc.nat(255)),
      fc.oneof(fc.constant('fit' as const), fc.constantFrom(0, 8, 13, 64, 2 ** 31, 2 ** 32 - 1)),
      fc.uint8Array({ maxLength: 12 }),
    )
    .map(([version, hashes, bits, body]) => {
      const bytes = new Uint8Array(6 + body.length);
      bytes[0] = version;
      bytes[1] = hashes;
      new DataView(bytes.buffer).setUint32(2, bits === 'fit' ? body.length * 8 : bits, true);
      bytes.set(body, 6);
      return bytes;
    });
  fc.assert(
    fc.property(frame, (bytes) => {
      let summary: KeySummary;
      try {
        summary = KeySummary.fromBytes(bytes);
      } catch (error) {
        assert.ok(error instanceof ValidationError, String(error));
        outcomes.refused += 1;
        return;
      }
      assert.deepEqual(summary.toBytes(), bytes);
      outcomes.parsed += 1;
    }),
    { seed, numRuns: 3_000 },
  );
  t.log(outcomes);
  t.true(outcomes.parsed > 0 && outcomes.refused > 0);
});

test('measure: summary sizes and add/has cost', (t) => {
  for (const keys of [10_000, 100_000]) {
    const summary = KeySummary.sized(keys, 0.01);
    const names = randomKeys(keys, 'key:', seed);
    const start = process.hrtime.bigint();
    for (const key of names) summary.add(key);
    const addNs = Number(process.hrtime.bigint() - start) / keys;
    const probeStart = process.hrtime.bigint();
    let found = 0;
    for (const key of names) if (summary.has(key)) found += 1;
    const hasNs = Number(process.hrtime.bigint() - probeStart) / keys;
    t.is(found, keys);
    t.log(
      `${keys} keys at 1%: ${summary.toBytes().length} bytes on the wire, ${summary.hashes} hashes, add ${addNs.toFixed(0)} ns, has ${hasNs.toFixed(0)} ns`,
    );
  }
});
