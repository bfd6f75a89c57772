/**
 * Turns any stored or returned value into something JSON can carry, for the HTTP gateway
 * and the CLI: bigints become strings (exact), Maps objects, Sets arrays, byte arrays
 * `{"$bytes": base64}`, Dates ISO strings. The mapping is lossy by nature, which is why
 * the SDK speaks CBOR and only the text interfaces use this.
 */
import { setOwn } from '../actors/index.js';
import { describeValue, ValidationError } from '../errors.js';
import { checkWellFormed } from '../storage/index.js';

export function toJsonValue(value: unknown, seen = new Set<object>()): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return null;
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  try {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (ArrayBuffer.isView(value)) {
      const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      return { $bytes: Buffer.from(bytes).toString('base64') };
    }
    if (Array.isArray(value)) return value.map((v) => toJsonValue(v, seen));
    if (value instanceof Set) return [...value].map((v) => toJsonValue(v, seen));
    if (value instanceof Map) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of value)
        setOwn(out, typeof k === 'string' ? k : describeValue(k), toJsonValue(v, seen));
      return out;
    }
    if (value instanceof Error) return { name: value.name, message: value.message };
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, toJsonValue(v, seen));
    return out;
  } finally {
    seen.delete(value);
  }
}

/**
 * The way back for what `toJsonValue` gives out, for values coming in as JSON (HTTP): an
 * object whose only field is `$bytes` (a base64 string) becomes a Uint8Array, so a byte
 * array read over HTTP can be written back as one. Everything else is left as it is.
 */
export function fromJsonValue(value: unknown): unknown {
  if (typeof value === 'string') checkWellFormed(value);
  checkJsonNumber(value);
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = fromJsonValue(value[i]);
    return value;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1 && keys[0] === '$bytes' && typeof record.$bytes === 'string')
    return bytesOf(record.$bytes);
  for (const key of keys) {
    // cbor-x would store an own `__proto__` key as `__proto_`: refused rather than renamed.
    if (key === '__proto__') throw new ValidationError('a key named "__proto__" cannot be stored');
    checkWellFormed(key);
    record[key] = fromJsonValue(record[key]);
  }
  return record;
}

/**
 * A JSON number beyond a double's range (1e400) parses as Infinity, which JSON cannot give
 * back: refused, so what is written reads back as it was given (HTTP bodies, CLI arguments).
 */
export function checkJsonNumber(value: unknown): void {
  if (typeof value === 'number' && !Number.isFinite(value))
    throw new ValidationError('a number is too large for a JSON number (it parses as Infinity)');
}

/** `{"$bytes": base64}`'s bytes; Node's decoder skips bad characters, so they are checked. */
function bytesOf(base64: string): Uint8Array {
  if (base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64))
    throw new ValidationError('$bytes must be base64 (A-Z a-z 0-9 + /, padded with =)');
  return new Uint8Array(Buffer.from(base64, 'base64'));
}

export function toJsonText(value: unknown, indent?: number): string {
  return JSON.stringify(toJsonValue(value), null, indent);
}
