/**
 * Small checks for reading untrusted wire data. Each throws ValidationError with the path
 * of the offending field, so that a malformed frame is reported (and its connection
 * closed), never crashes the reader.
 */
import { ValidationError } from '../../errors.js';

export function invalid(what: string, detail: string): ValidationError {
  return new ValidationError(`malformed ${what}: ${detail}`);
}

export function expectArray(x: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(x)) throw invalid(what, `expected an array, got ${describe(x)}`);
  return x;
}

export function expectLength(x: readonly unknown[], min: number, max: number, what: string) {
  if (x.length < min || x.length > max) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    throw invalid(what, `expected ${want} fields, got ${x.length}`);
  }
}

export function expectString(x: unknown, what: string): string {
  if (typeof x !== 'string') throw invalid(what, `expected a string, got ${describe(x)}`);
  return x;
}

export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? 'an object' : `a ${typeof x}`;
}
