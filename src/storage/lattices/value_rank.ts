/**
 * Sorts user values into the classes of the canonical value order. The classes follow what
 * the codec (cbor-x with structured clone) carries, so a value and its decoded copy land in
 * the same class: every byte container (Uint8Array, Buffer, ArrayBuffer, DataView) is
 * "bytes" because the codec turns the last two into Buffers; other typed arrays keep their
 * element type; an Error is known by its message only because the codec drops its name;
 * any other object is compared as a plain object by its own enumerable string keys (the
 * codec drops prototypes). Functions and symbols cannot be stored and are rejected.
 */
import { ValidationError } from '../../errors.js';

export const RANK_UNDEFINED = 0;
export const RANK_NULL = 1;
export const RANK_BOOLEAN = 2;
export const RANK_NUMERIC = 3;
export const RANK_STRING = 4;
export const RANK_BYTES = 5;
export const RANK_TYPED = 6;
export const RANK_DATE = 7;
export const RANK_REGEXP = 8;
export const RANK_ERROR = 9;
export const RANK_ARRAY = 10;
export const RANK_MAP = 11;
export const RANK_SET = 12;
export const RANK_OBJECT = 13;

/**
 * How deep values may nest before they are refused. Comparison and keying recurse, so this
 * bounds the stack, and it is how a cyclic value (which structured clone allows in LWW
 * values, but which has no canonical form) is recognised when it must be ordered.
 */
export const VALUE_DEPTH_MAX = 200;

export function rankOf(value: unknown): number {
  switch (typeof value) {
    case 'undefined':
      return RANK_UNDEFINED;
    case 'boolean':
      return RANK_BOOLEAN;
    case 'number':
    case 'bigint':
      return RANK_NUMERIC;
    case 'string':
      return RANK_STRING;
    case 'object':
      return value === null ? RANK_NULL : rankOfObject(value);
    default:
      throw new ValidationError(`a ${typeof value} cannot be stored in a lattice`);
  }
}

function rankOfObject(value: object): number {
  if (Array.isArray(value)) return RANK_ARRAY;
  if (value instanceof Uint8Array || value instanceof DataView) return RANK_BYTES;
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return RANK_BYTES;
  if (ArrayBuffer.isView(value)) return RANK_TYPED;
  if (value instanceof Map) return RANK_MAP;
  if (value instanceof Set) return RANK_SET;
  if (value instanceof Date) return RANK_DATE;
  if (value instanceof RegExp) return RANK_REGEXP;
  if (value instanceof Error) return RANK_ERROR;
  return RANK_OBJECT;
}

/** The bytes of a value of class bytes or typed, as a view (no copy). */
export function bytesOf(value: object): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  return new Uint8Array(value as ArrayBuffer);
}

/** The element type of a typed array ('Float64Array', ...). */
export function typedName(value: object): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}

/** An Error's message as the codec carries it: a string (anything else reads as ''). */
export function errorMessage(error: Error): string {
  return typeof error.message === 'string' ? error.message : '';
}

export function tooDeep(): ValidationError {
  return new ValidationError(
    `value nests deeper than ${VALUE_DEPTH_MAX} levels (or is cyclic) and has no canonical form`,
  );
}
