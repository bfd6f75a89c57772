/**
 * The one CBOR codec for the wire, the cache segment and the disk. Values are anything
 * structured cloning supports (Map, Set, Date, BigInt, typed arrays, cycles), which is the
 * SPEC's promise for arguments and results. Records are off so every encoding is
 * self-describing: two processes never need to share codec state. `copyBuffers` is on
 * because decoded byte strings must never be views into a reused or shared buffer
 * (TOOLCHAIN.md: cbor-x decodes views into shared memory).
 */
import { addExtension, Encoder } from 'cbor-x';
import { ValidationError } from '../errors.js';
import { FutureRef, Ref } from './refs.js';

// Tags from the CBOR "first come first served" range, private to squall.
const REF_TAG = 40_100;
const FUTURE_TAG = 40_101;
addExtension({
  Class: Ref,
  tag: REF_TAG,
  encode: (ref: Ref, encodeNext: (value: unknown) => Uint8Array) => encodeNext(ref.key),
  decode: (key: unknown) => new Ref(String(key)),
});
addExtension({
  Class: FutureRef,
  tag: FUTURE_TAG,
  encode: (future: FutureRef, encodeNext: (value: unknown) => Uint8Array) => encodeNext(future.key),
  decode: (key: unknown) => new FutureRef(String(key)),
});

// A Date as its epoch milliseconds, an integer: cbor-x writes tag 1 with float seconds,
// which loses the last millisecond of Dates more than ~137,000 years from 1970 (JS Dates
// reach ±8.64e15 ms; structured cloning keeps them exact). Tag 1 is still read.
const DATE_MS_TAG = 40_102;
addExtension({
  Class: Date,
  tag: DATE_MS_TAG,
  encode: (date: Date, encodeNext: (value: unknown) => Uint8Array) => encodeNext(date.getTime()),
  decode: (ms: unknown) => new Date(typeof ms === 'number' ? ms : Number.NaN),
});

// Values structured cloning refuses, which cbor-x would otherwise write as an empty object
// (losing them silently): refused with the same error a function or a symbol gets.
// biome-ignore lint/suspicious/noExplicitAny: cbor-x types a class as `new (...args: any[]) => T`.
const UNCLONEABLE: (new (...args: any[]) => object)[] = [WeakMap, WeakSet, WeakRef, Promise];
for (const Class of UNCLONEABLE) {
  addExtension({
    Class,
    tag: 40_199,
    encode: () => {
      throw new TypeError(`a ${Class.name} cannot be cloned: it holds no data that can be copied`);
    },
    decode: () => undefined,
  });
}

/**
 * cbor-x writes an Error (and a RegExp) as tag 27 [name, message(, flags)] but gives every
 * error back as a plain Error. Read here instead: a built-in error class comes back as
 * itself, any other name as an Error that keeps it. (The class below is never encoded: it
 * only claims the reading of tag 27.)
 */
const ERROR_CLASSES: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};
class GenericObjectTag {}
addExtension({
  Class: GenericObjectTag,
  tag: 27,
  encode: () => {
    throw new TypeError('GenericObjectTag is never encoded');
  },
  decode: (data: unknown) => {
    const [name, text, flags] = Array.isArray(data) ? data : [];
    if (name === 'RegExp') return new RegExp(String(text), String(flags ?? ''));
    const message = typeof text === 'string' ? text : '';
    if (typeof name === 'string' && Object.hasOwn(ERROR_CLASSES, name))
      return new ERROR_CLASSES[name]!(message);
    const error = new Error(message);
    if (typeof name === 'string') error.name = name;
    return error;
  },
});

const encoder = new Encoder({
  structuredClone: true,
  useRecords: false,
  mapsAsObjects: true,
  copyBuffers: true,
});

/**
 * Encodes a value. The result may share an ArrayBuffer with earlier results (cbor-x
 * carves them out of one slab) but its own bytes are never overwritten, so callers may
 * keep it; to transfer bytes, use `encodeOwned`, never the `.buffer` of these.
 */
export function encode(value: unknown): Uint8Array {
  return encoder.encode(value);
}

export function decode(bytes: Uint8Array): unknown {
  return decodeByteArray(bytes, true) ?? decodeWith(encoder, bytes);
}

/**
 * The decoder recurses once per level of nesting, with more stack per level than the
 * encoder: a value nested a few thousand deep can be encoded (a function's result, say)
 * and then not decoded. That is the caller's ValidationError, not a bare RangeError.
 */
function decodeWith(decoder: Encoder, bytes: Uint8Array): unknown {
  try {
    return decoder.decode(bytes);
  } catch (error) {
    if (error instanceof RangeError && error.message.includes('call stack'))
      throw new ValidationError('the value nests too deeply to be decoded (thousands of levels)');
    throw error;
  }
}

/**
 * Decodes bytes that the caller hands over for good (a buffer no one else holds or will
 * write): a top-level Uint8Array is then a view of them, not a copy — for a large cached
 * value that saves copying it a second time.
 */
export function decodeOwned(bytes: Uint8Array): unknown {
  return decodeByteArray(bytes, false) ?? decodeWith(encoder, bytes);
}

/** The same codec, but byte strings decode as views of the input instead of copies. */
const inPlaceDecoder = new Encoder({
  structuredClone: true,
  useRecords: false,
  mapsAsObjects: true,
  copyBuffers: false,
});

/** Inputs at least this large are decoded in place by `decodeLarge` (smaller: copied). */
export const IN_PLACE_BYTES_MIN = 64 * 1024;

/**
 * Decodes bytes the caller owns for good and that no one will write again (bytes posted to
 * this thread, say). A value that is one large Uint8Array (IN_PLACE_BYTES_MIN or more) is
 * a view of `bytes` rather than a copy, which saves copying it and the garbage collection
 * the copy brings on; it keeps nothing alive but its own bytes and a few header bytes.
 * Anything else is copied out as `decode` does, so that a small byte array inside a larger
 * value never keeps the whole buffer alive.
 */
export function decodeLarge(bytes: Uint8Array): unknown {
  return bytes.length < IN_PLACE_BYTES_MIN ? decode(bytes) : decodeOwned(bytes);
}

/**
 * Whether `frame` ends with one byte string of IN_PLACE_BYTES_MIN or more that starts
 * within its first `prefixMax` bytes: then it is nearly all of the frame, and decoding the
 * frame in place (`decodeInPlace`) keeps no more alive than that byte string needs anyway.
 */
export function endsWithLargeByteString(frame: Uint8Array, prefixMax: number): boolean {
  const last = Math.min(prefixMax, frame.length - 5);
  for (let at = 0; at <= last; at++) {
    if (frame[at] !== 0x5a) continue;
    const length = uint32At(frame, at + 1);
    if (length >= IN_PLACE_BYTES_MIN && at + 5 + length === frame.length) return true;
  }
  return false;
}

/** Decodes bytes nobody else holds with every byte string a view of them (see above). */
export function decodeInPlace(bytes: Uint8Array): unknown {
  return decodeByteArray(bytes, false) ?? decodeWith(inPlaceDecoder, bytes);
}

/** The big-endian 32-bit integer at `at` (a CBOR length). */
function uint32At(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at]! << 24) >>> 0) + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!)
  );
}

/** CBOR tag 64 (a Uint8Array under structured cloning), as its two header bytes. */
const TAG_UINT8_0 = 0xd8;
const TAG_UINT8_1 = 0x40;

/**
 * A top-level Uint8Array (tag 64 + byte string) decoded by slicing its body: the common
 * shape of large cached values, and ten times cheaper than the general decoder's tag path
 * for small ones (1 µs → 0.1 µs for 100 B). Returns undefined for anything else.
 */
function decodeByteArray(bytes: Uint8Array, copy: boolean): Uint8Array | undefined {
  if (bytes.length < 3 || bytes[0] !== TAG_UINT8_0 || bytes[1] !== TAG_UINT8_1) return undefined;
  const head = bytes[2]!;
  let start: number;
  let length: number;
  if (head >= 0x40 && head < 0x58) {
    start = 3;
    length = head - 0x40;
  } else if (head === 0x58 && bytes.length >= 4) {
    start = 4;
    length = bytes[3]!;
  } else if (head === 0x59 && bytes.length >= 5) {
    start = 5;
    length = (bytes[3]! << 8) | bytes[4]!;
  } else if (head === 0x5a && bytes.length >= 7) {
    start = 7;
    length = uint32At(bytes, 3);
  } else {
    return undefined;
  }
  if (start + length !== bytes.length) return undefined;
  // A plain view first: Buffer's own slice() would share memory instead of copying.
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset + start, length);
  return copy ? view.slice() : view;
}

/**
 * Encodes into a buffer of its own (`.buffer` holds exactly these bytes), so it can be
 * transferred to another thread instead of cloned, without detaching the codec's slab.
 */
export function encodeOwned(value: unknown): Uint8Array<ArrayBuffer> {
  if (value instanceof Uint8Array && value.constructor === Uint8Array)
    return encodeByteArray(value);
  const encoded = encoder.encode(value);
  // An explicit copy: cbor-x returns a Buffer, whose slice() is a view, not a copy.
  const owned = new Uint8Array(encoded.length);
  owned.set(encoded);
  return owned;
}

/**
 * A Uint8Array as the codec writes it (tag 64, then a byte string), built directly: one
 * copy of the bytes, where the general encoder copies them into its slab and `encodeOwned`
 * copies them again (an 8 MiB value filling a cache costs milliseconds per copy).
 */
function encodeByteArray(value: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = value.byteLength;
  const head =
    length < 24
      ? [0x40 + length]
      : length < 0x100
        ? [0x58, length]
        : length < 0x10000
          ? [0x59, length >>> 8, length & 0xff]
          : length <= 0xffffffff
            ? [0x5a, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]
            : undefined;
  if (head === undefined) throw new RangeError('a byte array of 4 GiB or more cannot be encoded');
  const out = new Uint8Array(2 + head.length + length);
  out[0] = TAG_UINT8_0;
  out[1] = TAG_UINT8_1;
  out.set(head, 2);
  out.set(value, 2 + head.length);
  return out;
}
