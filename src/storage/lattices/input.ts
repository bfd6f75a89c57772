/**
 * The user-facing builders (`lattice.set([1, 2])`, `lattice.counter(1)`, ...) and the value
 * they return. A `LatticeInput` only wraps a checked `LatticeSpec`: building validates
 * eagerly, so a bad value fails at the user's call site rather than at a remote node. A
 * brand registered with `Symbol.for` recognises inputs made by another copy of this module
 * (a function bundle and the runtime may load different copies); the spec still goes
 * through `specFromWire` whenever it crosses a thread or the network.
 */
import { ValidationError } from '../../errors.js';
import { checkMaxValue } from './max.js';
import { checkElements, checkIncrement, type LatticeSpec } from './spec.js';

const BRAND = Symbol.for('squall.LatticeInput');

export class LatticeInput {
  readonly spec: LatticeSpec;
  constructor(spec: LatticeSpec) {
    this.spec = spec;
    Object.defineProperty(this, BRAND, { value: true });
    Object.freeze(this);
  }
}

export function isLatticeInput(x: unknown): x is LatticeInput {
  if (x instanceof LatticeInput) return true;
  if (typeof x !== 'object' || x === null) return false;
  const candidate = x as { [BRAND]?: unknown; spec?: unknown };
  return candidate[BRAND] === true && typeof candidate.spec === 'object' && candidate.spec !== null;
}

export const lattice = {
  /** A last-writer-wins value (what a plain `put` stores). */
  lww(value: unknown): LatticeInput {
    return new LatticeInput({ kind: 'lww', value });
  },
  /** Adds the values to a set; `get` returns the set as a sorted array. */
  set(values: Iterable<unknown>): LatticeInput {
    return new LatticeInput({ kind: 'set', values: checkElements(iterableOf(values)) });
  },
  /** Like `set`, kept sorted in the store. */
  orderedSet(values: Iterable<unknown>): LatticeInput {
    return new LatticeInput({ kind: 'orderedSet', values: checkElements(iterableOf(values)) });
  },
  /** Raises the stored maximum to `n` (a number or bigint, not NaN). */
  max(n: number | bigint): LatticeInput {
    return new LatticeInput({ kind: 'max', value: checkMaxValue(n) });
  },
  /** Merges each entry into the same key of a stored map. */
  /** A map of lattices, from an object or a Map with string keys (as `set` takes a Set). */
  map(
    entries: Readonly<Record<string, LatticeInput>> | ReadonlyMap<string, LatticeInput>,
  ): LatticeInput {
    if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) {
      throw new ValidationError('lattice.map takes an object (or a Map) of lattice values');
    }
    const list: [unknown, unknown][] =
      entries instanceof Map
        ? [...entries]
        : Object.keys(entries).map((key) => [key, (entries as Record<string, unknown>)[key]]);
    const pairs: [string, LatticeSpec][] = list.map(([key, value]) => {
      if (typeof key !== 'string')
        throw new ValidationError(`lattice.map keys must be strings, got ${typeof key}`);
      if (!isLatticeInput(value)) {
        throw new ValidationError(`lattice.map entry ${JSON.stringify(key)} is not a lattice.*`);
      }
      return [key, value.spec];
    });
    return new LatticeInput({ kind: 'map', entries: Object.fromEntries(pairs) });
  },
  /** Adds `n` (finite, >= 0) to a grow-only counter; `get` returns the total. */
  counter(n: number): LatticeInput {
    return new LatticeInput({ kind: 'counter', by: checkIncrement(n) });
  },
};

function iterableOf(values: Iterable<unknown>): Iterable<unknown> {
  if (typeof values === 'string' || values == null || !(Symbol.iterator in Object(values))) {
    throw new ValidationError('expected an array (or another iterable) of values');
  }
  return values;
}
