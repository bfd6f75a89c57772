/**
 * The canonical key of a value: a string that two values share exactly when
 * `compareValues` calls them equal (-0 and 0 share one, 1 and 1n do not; object key order,
 * Map and Set insertion order do not matter). Sets index their elements by it, so a merge
 * compares strings instead of walking values, and each element is keyed once, when it
 * enters a set. Every token is self-delimiting (a class letter, then JSON-quoted text, hex
 * or a bracketed list), which is what makes the key injective.
 */
import { checkWellFormed } from '../well_formed.js';
import {
  bytesOf,
  errorMessage,
  RANK_ARRAY,
  RANK_BOOLEAN,
  RANK_BYTES,
  RANK_DATE,
  RANK_ERROR,
  RANK_MAP,
  RANK_NULL,
  RANK_NUMERIC,
  RANK_OBJECT,
  RANK_REGEXP,
  RANK_SET,
  RANK_STRING,
  RANK_TYPED,
  RANK_UNDEFINED,
  rankOf,
  tooDeep,
  typedName,
  VALUE_DEPTH_MAX,
} from './value_rank.js';

/** Throws ValidationError for values that cannot be stored (functions, too deep, cyclic). */
export function canonicalKey(value: unknown): string {
  return keyAt(value, 0);
}

function keyAt(value: unknown, depth: number): string {
  if (depth > VALUE_DEPTH_MAX) throw tooDeep();
  const rank = rankOf(value);
  switch (rank) {
    case RANK_UNDEFINED:
      return 'u';
    case RANK_NULL:
      return 'n';
    case RANK_BOOLEAN:
      return value ? 't' : 'f';
    case RANK_NUMERIC:
      return numericKey(value as number | bigint);
    case RANK_STRING:
      checkWellFormed(value as string);
      return `s${JSON.stringify(value)}`;
    default:
      return objectKey(rank, value as object, depth + 1);
  }
}

function numericKey(value: number | bigint): string {
  if (typeof value === 'bigint') return `b${value}`;
  if (Number.isNaN(value)) return 'N';
  return value === 0 ? 'd0' : `d${value}`;
}

function objectKey(rank: number, value: object, depth: number): string {
  switch (rank) {
    case RANK_BYTES:
      return `x${hex(bytesOf(value))}`;
    case RANK_TYPED:
      return `T${typedName(value)}:${hex(bytesOf(value))}`;
    case RANK_DATE: {
      const time = (value as Date).getTime();
      return Number.isNaN(time) ? 'DN' : `D${time}`;
    }
    case RANK_REGEXP: {
      const re = value as RegExp;
      return `R${JSON.stringify(re.source)}${JSON.stringify(re.flags)}`;
    }
    case RANK_ERROR:
      return `E${JSON.stringify(errorMessage(value as Error))}`;
    case RANK_ARRAY:
      return arrayKey(value as unknown[], depth);
    case RANK_MAP:
      return mapKey(value as Map<unknown, unknown>, depth);
    case RANK_SET:
      return `S[${[...(value as Set<unknown>)].map((v) => keyAt(v, depth)).sort()}]`;
    case RANK_OBJECT:
      return recordKey(value as Record<string, unknown>, depth);
    default:
      throw new Error(`canonicalKey: unexpected rank ${rank}`);
  }
}

function arrayKey(value: readonly unknown[], depth: number): string {
  const parts = new Array<string>(value.length);
  for (let i = 0; i < value.length; i++) parts[i] = keyAt(value[i], depth);
  return `[${parts.join(',')}]`;
}

function mapKey(value: Map<unknown, unknown>, depth: number): string {
  const parts: string[] = [];
  for (const [k, v] of value) parts.push(`${keyAt(k, depth)}=>${keyAt(v, depth)}`);
  return `M[${parts.sort().join(',')}]`;
}

function recordKey(value: Record<string, unknown>, depth: number): string {
  const keys = Object.keys(value).sort();
  const parts = new Array<string>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    parts[i] = `${JSON.stringify(k)}:${keyAt(value[k], depth)}`;
  }
  return `{${parts.join(',')}}`;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
