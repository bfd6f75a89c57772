/**
 * Placeholders that may stand in a call's arguments and are resolved by the executor
 * before the function runs (SPEC.md: `ref(key)`, a `Future` as an argument). They are
 * CBOR-tagged by the codec, so they survive the trip through client, supervisor and
 * executor, and a user value can never be mistaken for one.
 */

import { describeValue, ValidationError } from '../errors.js';

/** `ref(key)`: replaced by the value at `key`, read through the node's cache. */
export class Ref {
  readonly key: string;
  constructor(key: string) {
    this.key = key;
  }
}

/** A pending call result stored at `key`: replaced by that result once it exists. */
export class FutureRef {
  readonly key: string;
  constructor(key: string) {
    this.key = key;
  }
}

export function ref(key: string): Ref {
  if (typeof key !== 'string' || key.length === 0) {
    throw new ValidationError(`ref(key) needs a non-empty string key, got ${describeValue(key)}`);
  }
  return new Ref(key);
}
