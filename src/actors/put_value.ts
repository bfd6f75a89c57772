/**
 * How a write travels from the SDK or a function to the store: a plain value (stored as
 * last-writer-wins, stamped by the node that accepts the write) or a lattice spec built by
 * `lattice.*` (merged with what is there). `toPutValue` recognises lattice inputs by a
 * registered symbol, not `instanceof`, so a `lattice` imported from another copy of the
 * squall package inside a deployed module still counts.
 */
import { ValidationError } from '../errors.js';
import { checkWellFormed, isLatticeInput, type LatticeSpec, wellFormed } from '../storage/index.js';

export type PutValue = { t: 'plain'; v: unknown } | { t: 'lattice'; spec: LatticeSpec };

export function toPutValue(value: unknown): PutValue {
  if (isLatticeInput(value)) return { t: 'lattice', spec: value.spec };
  checkStorable(value);
  return { t: 'plain', v: value };
}

/**
 * Refuses, in a value about to be stored or passed, what would not come back as written:
 * an own key named `__proto__` (the codec renames it, against prototype pollution) and a
 * `lattice.*` value inside a plain one (it would be stored as its internal form — a
 * lattice is the whole value of a put, or inside `lattice.map`). Byte arrays and other
 * leaves are not walked, so this costs little beside encoding the value.
 */
export function checkStorable(value: unknown): void {
  if (typeof value === 'string') checkWellFormed(value);
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return;
  // The common case on every call, arguments that are all plain scalars, allocates nothing.
  if (Array.isArray(value) && value.every(isPlainScalar)) return;
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const next = stack.pop();
    if (typeof next === 'string') checkWellFormed(next);
    if (typeof next !== 'object' || next === null || ArrayBuffer.isView(next)) continue;
    if (seen.has(next)) continue;
    seen.add(next);
    if (isLatticeInput(next))
      throw new ValidationError(
        'a lattice.* value can only be the whole value of a put, or inside lattice.map',
      );
    // One push per element: spreading a long array into push overflows the call stack.
    if (Array.isArray(next)) for (const item of next) stack.push(item);
    else if (next instanceof Map) for (const [k, v] of next) stack.push(k, v);
    else if (next instanceof Set) for (const v of next) stack.push(v);
    else if (
      Object.getPrototypeOf(next) === Object.prototype ||
      Object.getPrototypeOf(next) === null
    ) {
      for (const key of Object.keys(next)) {
        if (key === '__proto__')
          throw new ValidationError('a key named "__proto__" cannot be stored or passed');
        checkWellFormed(key);
        stack.push((next as Record<string, unknown>)[key]);
      }
    }
  }
}

/** A scalar that needs no walk: anything but an object, or a string that UTF-8 can carry. */
function isPlainScalar(x: unknown): boolean {
  if (typeof x === 'string') return wellFormed(x);
  return typeof x !== 'object' || x === null;
}

/**
 * `target[key] = value` as an own entry, also for a key named `__proto__` (plain assignment
 * would set the prototype instead).
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  else target[key] = value;
}
