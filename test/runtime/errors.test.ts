/**
 * The typed errors of the public contract: every class survives errorToWire → (CBOR) →
 * parseWireError → errorFromWire with its class, code and message, and FunctionError with
 * its remote name and stack; parseWireError refuses anything that is not a WireError;
 * user code that throws something other than an Error is still described; unknown faults
 * travel as UNAVAILABLE.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  AuthError,
  type ErrorCode,
  errorFromWire,
  errorToWire,
  FunctionError,
  isErrorCode,
  NotFoundError,
  parseWireError,
  SquallError,
  TimeoutError,
  UnavailableError,
  userErrorToWire,
  ValidationError,
  type WireError,
} from '../../src/errors.js';
import { decode, encode } from '../../src/storage/codec.js';

const seed =
  Number(process.env.SQUALL_SEED) || (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;

const CLASSES: [new (message: string) => SquallError, ErrorCode, string][] = [
  [NotFoundError, 'NOT_FOUND', 'NotFoundError'],
  [ValidationError, 'INVALID', 'ValidationError'],
  [TimeoutError, 'TIMEOUT', 'TimeoutError'],
  [UnavailableError, 'UNAVAILABLE', 'UnavailableError'],
  [AuthError, 'UNAUTHORIZED', 'AuthError'],
  [FunctionError, 'FUNCTION_FAILED', 'FunctionError'],
];

/** The whole trip: to wire form, through the codec (a socket), checked, rebuilt. */
function roundTrip(error: unknown): SquallError {
  const wire = parseWireError(decode(encode(errorToWire(error))));
  if (wire === undefined) throw new Error('wire form did not parse');
  return errorFromWire(wire);
}

test('each class has its code and name and is a SquallError and an Error', (t) => {
  for (const [Class, code, name] of CLASSES) {
    const error = new Class('msg');
    t.true(error instanceof SquallError);
    t.true(error instanceof Error);
    t.is(error.code, code);
    t.is(error.name, name);
    t.is(error.message, 'msg');
    t.true(isErrorCode(code));
  }
});

test('every class round-trips keeping class, code and message', (t) => {
  for (const [Class, code] of CLASSES) {
    for (const message of ['', 'plain', 'ünïcødé 🌍 "quoted"\nnewline', 'x'.repeat(10_000)]) {
      const back = roundTrip(new Class(message));
      t.true(back instanceof Class, `${Class.name}: ${back.constructor.name}`);
      t.is(back.constructor, Class);
      t.is(back.code, code);
      t.is(back.message, message);
      t.is(back.name, Class.name);
    }
  }
});

test('FunctionError keeps its remote name and stack', (t) => {
  const original = new FunctionError('bad input', 'RangeError', 'RangeError: bad input\n  at f');
  t.deepEqual(errorToWire(original), {
    code: 'FUNCTION_FAILED',
    message: 'bad input',
    name: 'RangeError',
    stack: 'RangeError: bad input\n  at f',
  });
  const back = roundTrip(original);
  t.true(back instanceof FunctionError);
  const fn = back as FunctionError;
  t.is(fn.name, 'FunctionError');
  t.is(fn.remoteName, 'RangeError');
  t.is(fn.remoteStack, 'RangeError: bad input\n  at f');
  t.is(fn.message, 'bad input');
  // Defaults when the wire omits them.
  const bare = errorFromWire({ code: 'FUNCTION_FAILED', message: 'm' }) as FunctionError;
  t.is(bare.remoteName, 'Error');
  t.is(bare.remoteStack, '');
  t.is(new FunctionError('m').remoteName, 'Error');
});

test('property: any message, name and stack round-trip', (t) => {
  t.log('seed', seed);
  fc.assert(
    fc.property(
      fc.constantFrom(...CLASSES),
      fc.string({ unit: 'grapheme' }),
      fc.string({ unit: 'grapheme' }),
      fc.string({ unit: 'grapheme' }),
      ([Class, code], message, remoteName, remoteStack) => {
        const error =
          Class === FunctionError
            ? new FunctionError(message, remoteName, remoteStack)
            : new Class(message);
        const back = roundTrip(error);
        if (back.constructor !== Class || back.code !== code || back.message !== message) {
          return false;
        }
        if (back instanceof FunctionError) {
          return back.remoteName === remoteName && back.remoteStack === remoteStack;
        }
        return true;
      },
    ),
    { seed, numRuns: 2_000 },
  );
  t.pass();
});

test('a wire error without name/stack for a non-function class carries only code and message', (t) => {
  t.deepEqual(errorToWire(new TimeoutError('slow')), { code: 'TIMEOUT', message: 'slow' });
  t.deepEqual(parseWireError({ code: 'TIMEOUT', message: 'slow', name: 'X', stack: 's' }), {
    code: 'TIMEOUT',
    message: 'slow',
    name: 'X',
    stack: 's',
  });
  t.true(errorFromWire({ code: 'TIMEOUT', message: 'slow', name: 'X' }) instanceof TimeoutError);
});

test('unknown faults travel as UNAVAILABLE with their message', (t) => {
  t.deepEqual(errorToWire(new TypeError('oops')), { code: 'UNAVAILABLE', message: 'oops' });
  t.deepEqual(errorToWire('a string'), { code: 'UNAVAILABLE', message: 'a string' });
  t.deepEqual(errorToWire(42), { code: 'UNAVAILABLE', message: '42' });
  t.deepEqual(errorToWire(undefined), { code: 'UNAVAILABLE', message: 'undefined' });
  t.deepEqual(errorToWire(null), { code: 'UNAVAILABLE', message: 'null' });
  // A SquallError of the base class keeps its code and maps to that code's class.
  const base = new SquallError('NOT_FOUND', 'gone');
  t.true(roundTrip(base) instanceof NotFoundError);
  t.true(roundTrip(new TypeError('x')) instanceof UnavailableError);
});

test('parseWireError rejects malformed input', (t) => {
  const bad: unknown[] = [
    undefined,
    null,
    0,
    'NOT_FOUND',
    [],
    ['NOT_FOUND', 'm'],
    {},
    { code: 'NOT_FOUND' },
    { message: 'm' },
    { code: 'NOPE', message: 'm' },
    { code: 'not_found', message: 'm' },
    { code: 'toString', message: 'm' },
    { code: '__proto__', message: 'm' },
    { code: 'hasOwnProperty', message: 'm' },
    { code: 1, message: 'm' },
    { code: 'NOT_FOUND', message: 1 },
    { code: 'NOT_FOUND', message: null },
    { code: 'NOT_FOUND', message: ['m'] },
    { code: ['NOT_FOUND'], message: 'm' },
  ];
  for (const value of bad) t.is(parseWireError(value), undefined, JSON.stringify(value));
  for (const code of ['toString', 'constructor', '__proto__', '', 'valueOf']) {
    t.false(isErrorCode(code), code);
  }
  t.false(isErrorCode(undefined));
});

test('parseWireError drops name and stack that are not strings, and any other field', (t) => {
  const wire = parseWireError({
    code: 'FUNCTION_FAILED',
    message: 'm',
    name: 5,
    stack: { s: 1 },
    extra: 'x',
  });
  t.deepEqual(wire, { code: 'FUNCTION_FAILED', message: 'm' });
  const fn = errorFromWire(wire as WireError) as FunctionError;
  t.is(fn.remoteName, 'Error');
  t.is(fn.remoteStack, '');
});

test('property: parseWireError returns a valid WireError or undefined, never throws', (t) => {
  t.log('seed', seed);
  const codes = CLASSES.map(([, code]) => code);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.anything({ withBigInt: true, withMap: true, withSet: true, withNullPrototype: true }),
        fc.record(
          {
            code: fc.oneof(fc.constantFrom(...codes), fc.anything()),
            message: fc.oneof(fc.string(), fc.anything()),
            name: fc.oneof(fc.string(), fc.anything()),
            stack: fc.oneof(fc.string(), fc.anything()),
          },
          { requiredKeys: [] },
        ),
      ),
      (value) => {
        const wire = parseWireError(value);
        if (wire === undefined) return true;
        const keys = Object.keys(wire).every((k) =>
          ['code', 'message', 'name', 'stack'].includes(k),
        );
        return (
          keys &&
          isErrorCode(wire.code) &&
          typeof wire.message === 'string' &&
          (wire.name === undefined || typeof wire.name === 'string') &&
          (wire.stack === undefined || typeof wire.stack === 'string') &&
          errorFromWire(wire).code === wire.code
        );
      },
    ),
    { seed, numRuns: 3_000 },
  );
  t.pass();
});

test('userErrorToWire describes thrown Errors with their own name, message and stack', (t) => {
  const error = new RangeError('too big');
  t.deepEqual(userErrorToWire(error), {
    code: 'FUNCTION_FAILED',
    message: 'too big',
    name: 'RangeError',
    stack: error.stack!,
  });
  class MyError extends Error {
    override name = 'MyError';
  }
  const mine = userErrorToWire(new MyError('custom'));
  t.is(mine.name, 'MyError');
  t.is(mine.message, 'custom');
  t.regex(mine.stack!, /custom/);
  const noStack = new Error('no stack');
  delete noStack.stack;
  t.is(userErrorToWire(noStack).stack, '');
  const back = errorFromWire(userErrorToWire(error)) as FunctionError;
  t.true(back instanceof FunctionError);
  t.is(back.remoteName, 'RangeError');
  t.is(back.message, 'too big');
});

test('userErrorToWire describes thrown values that are not Errors', (t) => {
  const cases: [unknown, string, string][] = [
    ['just a string', 'just a string', 'string'],
    [42, '42', 'number'],
    [10n, '10', 'bigint'],
    [undefined, 'undefined', 'undefined'],
    [null, 'null', 'object'],
    [false, 'false', 'boolean'],
    [{ code: 1 }, '{ code: 1 }', 'Object'],
    [[1, 2], '1,2', 'Array'],
    [Symbol('s'), 'Symbol(s)', 'symbol'],
    [{ toString: () => 'custom text' }, 'custom text', 'Object'],
    [new Map([['a', 1]]), "Map(1) { 'a' => 1 }", 'Map'],
  ];
  for (const [thrown, message, name] of cases) {
    const wire = userErrorToWire(thrown);
    t.deepEqual(wire, { code: 'FUNCTION_FAILED', message, name, stack: '' }, message);
    const back = roundTrip(errorFromWire(wire)) as FunctionError;
    t.true(back instanceof FunctionError);
    t.is(back.message, message);
    t.is(back.remoteName, name);
  }
});

// Was a bug (errors.ts:117, and errors.ts:103 for errorToWire): `String(error)` throws TypeError
// "Cannot convert object to primitive value" when user code throws an object that has no
// string form: `throw Object.create(null)`, or `throw { toString: 1 }`. userErrorToWire is
// called from Executor.describeFailure inside the catch of runCall (executor_thread.ts:53),
// so the TypeError escapes as an unhandled rejection in the executor thread instead of
// the call failing with FUNCTION_FAILED. Expected: a FUNCTION_FAILED wire error (any
// message); actual: TypeError thrown.
test('userErrorToWire of a null-prototype object does not throw', (t) => {
  const wire = userErrorToWire(Object.create(null));
  t.is(wire.code, 'FUNCTION_FAILED');
});

test('userErrorToWire of an object with a non-callable toString does not throw', (t) => {
  const wire = userErrorToWire({ toString: 1, valueOf: 2 });
  t.is(wire.code, 'FUNCTION_FAILED');
});

test('errorToWire of a null-prototype object does not throw', (t) => {
  t.is(errorToWire(Object.create(null)).code, 'UNAVAILABLE');
});
