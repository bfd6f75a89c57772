/**
 * Small checks for untrusted records (from sockets and HTTP bodies). Each throws
 * ValidationError naming the field, so a bad request gets a clear typed answer and never
 * reaches the code behind it with the wrong shape.
 */
import { describeValue, ValidationError } from '../errors.js';

export type Record_ = Record<string, unknown>;

export function isRecord(value: unknown): value is Record_ {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requireRecord(value: unknown, what: string): Record_ {
  if (!isRecord(value)) throw new ValidationError(`${what} must be an object`);
  return value;
}

export function requireString(record: Record_, field: string, bytesMax = 1 << 20): string {
  const value = record[field];
  if (typeof value !== 'string') throw new ValidationError(`${field} must be a string`);
  if (value.length > bytesMax || Buffer.byteLength(value) > bytesMax) {
    throw new ValidationError(`${field} is longer than ${bytesMax} bytes`);
  }
  return value;
}

export function optionalString(record: Record_, field: string, bytesMax?: number) {
  return record[field] === undefined ? undefined : requireString(record, field, bytesMax);
}

export function requireBytes(record: Record_, field: string): Uint8Array {
  const value = record[field];
  if (!(value instanceof Uint8Array)) throw new ValidationError(`${field} must be bytes`);
  return value;
}

/** A positive integer number of milliseconds, at most `max`. */
export function optionalTimeoutMs(record: Record_, field: string, max: number): number | undefined {
  const value = record[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > max) {
    throw new ValidationError(`${field} must be an integer between 1 and ${max}`);
  }
  return value;
}

export function requireArray(record: Record_, field: string, lengthMax: number): unknown[] {
  const value = record[field];
  if (!Array.isArray(value)) throw new ValidationError(`${field} must be an array`);
  if (value.length > lengthMax) {
    throw new ValidationError(`${field} has more than ${lengthMax} elements`);
  }
  return value;
}

export function requireStringArray(record: Record_, field: string, lengthMax: number): string[] {
  const values = requireArray(record, field, lengthMax);
  for (const value of values) {
    if (typeof value !== 'string') throw new ValidationError(`${field} must hold strings only`);
  }
  return values as string[];
}

const NAME_PATTERN = /^[A-Za-z_$][\w$.-]{0,127}$/;

/** Function and DAG names: an identifier-like word of at most 128 characters. */
export function requireName(value: unknown, what = 'name'): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw new ValidationError(
      `${what} ${describeValue(value)} is not valid: use ASCII letters, digits, _ $ . - (at most 128, not starting with a digit)`,
    );
  }
  return value;
}

export const KEY_BYTES_MAX = 1024;

export function requireKey(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ValidationError('key must be a non-empty string');
  }
  if (value.length > KEY_BYTES_MAX || Buffer.byteLength(value) > KEY_BYTES_MAX) {
    throw new ValidationError(`key is longer than ${KEY_BYTES_MAX} bytes`);
  }
  return value;
}

/** The largest timeout any request may ask for: one day. */
export const TIMEOUT_QUERY_MS_MAX = 24 * 60 * 60 * 1000;
