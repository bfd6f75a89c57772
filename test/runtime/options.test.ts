/**
 * The options of `startNode`: the documented defaults; every numeric option out of range,
 * fractional or of the wrong type is a ValidationError that names it; `join` takes only
 * host:port seeds; the frame limit must leave room above the value limit.
 */
import { availableParallelism } from 'node:os';
import test from 'ava';
import { ValidationError } from '../../src/errors.js';
import { type NodeOptions, resolveOptions } from '../../src/runtime/options.js';

test('defaults', (t) => {
  const expected = {
    host: '127.0.0.1',
    advertiseHost: '127.0.0.1',
    port: 7700,
    httpPort: 7780,
    join: [],
    executors: availableParallelism(),
    dataDir: undefined,
    fsync: 'interval',
    fsyncIntervalMs: 100,
    replication: undefined,
    cacheBytes: 256 * 1024 * 1024,
    token: undefined,
    callTimeoutMs: 60_000,
    executorMemoryMb: 1024,
    valueBytesMax: 32 * 1024 * 1024,
    frameBytesMax: 64 * 1024 * 1024,
    messageTtlMs: 60_000,
    callsInFlightMax: 4096,
    resultTtlMs: 600_000,
    functionsMax: 10_000,
    spinUs: 100,
    peerTimeoutMs: 5000,
    gossipIntervalMs: 100,
    antiEntropyIntervalMs: 1000,
    probeIntervalMs: 500,
    suspicionTimeoutMs: 2500,
  };
  t.deepEqual(resolveOptions(), expected);
  t.deepEqual(resolveOptions({}), expected);
});

test('given options are kept', (t) => {
  const options: NodeOptions = {
    host: '0.0.0.0',
    advertiseHost: 'node-1.example',
    port: 0,
    httpPort: false,
    join: [],
    executors: 2,
    replication: 3,
    cacheBytes: 1 << 20,
    token: 't0k',
    callTimeoutMs: 1,
    executorMemoryMb: 16,
    valueBytesMax: 1024,
    frameBytesMax: 1024 + 64 * 1024,
    messageTtlMs: 86_400_000,
    callsInFlightMax: 1_000_000,
    resultTtlMs: 86_400_000 * 7,
    functionsMax: 1,
    spinUs: 0,
    peerTimeoutMs: 1,
    gossipIntervalMs: 1,
    antiEntropyIntervalMs: 10,
    probeIntervalMs: 20,
    suspicionTimeoutMs: 10,
  };
  t.deepEqual(resolveOptions(options), {
    ...options,
    dataDir: undefined,
    fsync: 'interval',
    fsyncIntervalMs: 100,
  });
  t.is(resolveOptions({ httpPort: 0 }).httpPort, 0);
  // Listening on every interface, a node gives out an address others can dial, not 0.0.0.0.
  const wildcard = resolveOptions({ host: '0.0.0.0' }).advertiseHost;
  t.not(wildcard, '0.0.0.0');
  t.regex(wildcard, /^\d+\.\d+\.\d+\.\d+$/);
  t.is(resolveOptions({ port: 65535, httpPort: 65535 }).port, 65535);
});

/** [option, smallest allowed, largest allowed] of every integer option. */
const RANGES: [keyof NodeOptions, number, number][] = [
  ['port', 0, 65535],
  ['httpPort', 0, 65535],
  ['executors', 1, 256],
  ['replication', 1, 16],
  ['cacheBytes', 1 << 20, 2 ** 31 - 1],
  ['callTimeoutMs', 1, 86_400_000],
  ['executorMemoryMb', 16, 65536],
  ['valueBytesMax', 1024, 2 ** 30],
  ['frameBytesMax', 4096, 2 ** 30],
  ['messageTtlMs', 1, 86_400_000],
  ['callsInFlightMax', 1, 1_000_000],
  ['resultTtlMs', 1, 86_400_000 * 7],
  ['functionsMax', 1, 1_000_000],
  ['spinUs', 0, 10_000],
  ['peerTimeoutMs', 1, 600_000],
  ['gossipIntervalMs', 1, 60_000],
  ['antiEntropyIntervalMs', 10, 600_000],
  ['probeIntervalMs', 20, 60_000],
  ['suspicionTimeoutMs', 10, 600_000],
];

/** Options that keep the frame/value rule satisfied while one option is probed. */
function withOption(name: keyof NodeOptions, value: unknown): NodeOptions {
  const base: Record<string, unknown> = { valueBytesMax: 1024, frameBytesMax: 2 ** 30 };
  base[name] = value;
  return base as NodeOptions;
}

/**
 * The frame/value rule narrows two ranges: frameBytesMax ≥ 1024 + 64 KiB and
 * valueBytesMax ≤ 2^30 − 64 KiB, whatever the per-option messages say.
 */
const EFFECTIVE: Partial<Record<keyof NodeOptions, [number, number]>> = {
  frameBytesMax: [1024 + 64 * 1024, 2 ** 30],
  valueBytesMax: [1024, 2 ** 30 - 64 * 1024],
};

test('every integer option accepts its bounds', (t) => {
  for (const [name, declaredMin, declaredMax] of RANGES) {
    const [min, max] = EFFECTIVE[name] ?? [declaredMin, declaredMax];
    for (const value of [min, max]) {
      const resolved = resolveOptions(withOption(name, value)) as unknown as Record<
        string,
        unknown
      >;
      t.is(resolved[name], value, `${name}=${value}`);
    }
  }
});

test('every bad integer option is a ValidationError naming it', (t) => {
  for (const [name, min, max] of RANGES) {
    const bad: unknown[] = [
      min - 1,
      max + 1,
      min + 0.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -Number.POSITIVE_INFINITY,
      String(min),
      true,
      [min],
    ];
    for (const value of bad) {
      const error = t.throws(() => resolveOptions(withOption(name, value)), {
        instanceOf: ValidationError,
      });
      t.true(
        error.message.startsWith(`${name} must be an integer between ${min} and ${max}`),
        `${name}=${String(value)}: ${error.message}`,
      );
      t.is(error.code, 'INVALID');
    }
  }
});

test('the declared extremes frameBytesMax=4096 and valueBytesMax=2^30 fail the frame rule', (t) => {
  for (const options of [
    { frameBytesMax: 4096, valueBytesMax: 1024 },
    { frameBytesMax: 2 ** 30, valueBytesMax: 2 ** 30 },
  ]) {
    t.throws(() => resolveOptions(options), {
      instanceOf: ValidationError,
      message: /frameBytesMax must exceed valueBytesMax/,
    });
  }
});

test('without httpPort, HTTP listens on port + 80, so nodes on neighbouring ports do not collide', (t) => {
  t.is(resolveOptions({}).httpPort, 7780);
  t.is(resolveOptions({ port: 7701 }).httpPort, 7781);
  t.is(resolveOptions({ port: 0 }).httpPort, 0, 'ephemeral beside ephemeral');
  t.is(resolveOptions({ port: 65500 }).httpPort, 0, 'out of range: ephemeral');
  t.is(resolveOptions({ port: 7701, httpPort: 9000 }).httpPort, 9000);
});

test('httpPort false turns the gateway off; true is refused', (t) => {
  t.is(resolveOptions({ httpPort: false }).httpPort, false);
  t.throws(() => resolveOptions({ httpPort: true as unknown as false }), {
    instanceOf: ValidationError,
    message: /^httpPort must be an integer/,
  });
});

test('join takes host:port seeds; anything else is a ValidationError naming it', (t) => {
  t.deepEqual(resolveOptions({ join: [] }).join, []);
  t.deepEqual(resolveOptions({ join: ['127.0.0.1:7701', 'a:1'] }).join, ['127.0.0.1:7701', 'a:1']);
  for (const join of [['nope'], [''], [7701], 'a:1', Array.from({ length: 65 }, () => 'a:1')]) {
    const error = t.throws(() => resolveOptions({ join: join as string[] }), {
      instanceOf: ValidationError,
    });
    t.regex(error.message, /^join/);
  }
});

test('dataDir is a path; fsync is one of three policies', (t) => {
  t.is(resolveOptions({ dataDir: '/tmp/squall' }).dataDir, '/tmp/squall');
  t.throws(() => resolveOptions({ dataDir: '' }), {
    instanceOf: ValidationError,
    message: /dataDir/,
  });
  for (const fsync of ['always', 'interval', 'never'] as const)
    t.is(resolveOptions({ fsync }).fsync, fsync);
  t.throws(() => resolveOptions({ fsync: 'sometimes' as never }), {
    instanceOf: ValidationError,
    message: /fsync/,
  });
});

test('frameBytesMax must exceed valueBytesMax by at least 64 KiB', (t) => {
  const valueBytesMax = 1 << 20;
  t.is(
    resolveOptions({ valueBytesMax, frameBytesMax: valueBytesMax + 64 * 1024 }).frameBytesMax,
    valueBytesMax + 64 * 1024,
  );
  const error = t.throws(
    () => resolveOptions({ valueBytesMax, frameBytesMax: valueBytesMax + 64 * 1024 - 1 }),
    { instanceOf: ValidationError },
  );
  t.regex(error.message, /frameBytesMax must exceed valueBytesMax by at least 64 KiB/);
  // The defaults alone trip it when only one side is changed.
  t.throws(() => resolveOptions({ frameBytesMax: 32 * 1024 * 1024 }), {
    instanceOf: ValidationError,
    message: /frameBytesMax/,
  });
  t.throws(() => resolveOptions({ valueBytesMax: 64 * 1024 * 1024 }), {
    instanceOf: ValidationError,
    message: /frameBytesMax/,
  });
});

// Was a bug (options.ts:62 and :76): `host` and `token` are copied without any check, so a
// non-string (from JavaScript callers or a config file) is accepted and fails later and
// far away (in net.listen, or as a token no client can match). Expected: ValidationError
// naming the option, like every other option.
test('a non-string host is a ValidationError naming it', (t) => {
  t.throws(() => resolveOptions({ host: 42 as unknown as string }), {
    instanceOf: ValidationError,
    message: /host/,
  });
});

test('a non-string token is a ValidationError naming it', (t) => {
  t.throws(() => resolveOptions({ token: 42 as unknown as string }), {
    instanceOf: ValidationError,
    message: /token/,
  });
});

test('startNode refuses an option it does not know, and options that are not an object', (t) => {
  t.throws(() => resolveOptions({ tokn: 'secret' } as unknown as NodeOptions), {
    instanceOf: ValidationError,
    message: /unknown startNode option "tokn"/,
  });
  t.throws(() => resolveOptions(null as unknown as NodeOptions), {
    instanceOf: ValidationError,
    message: /startNode options must be an object/,
  });
});
