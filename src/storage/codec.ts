/**
 * The one CBOR codec for the wire, the cache segment and the disk. Values are anything
 * structured cloning supports (Map, Set, Date, BigInt, typed arrays, cycles), which is the
 * SPEC's promise for arguments and results. Records are off so every encoding is
 * self-describing: two processes never need to share codec state. `copyBuffers` is on
 * because decoded byte strings must never be views into a reused or shared buffer
 * (TOOLCHAIN.md: cbor-x decodes views into shared memory).
 */
import { addExtension, Encoder } from 'cbor-x';
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

const encoder = new Encoder({
  structuredClone: true,
  useRecords: false,
  mapsAsObjects: true,
  copyBuffers: true,
});

/**
 * Encodes a value. The result may share an ArrayBuffer with earlier results (cbor-x
 * carves them out of one slab) but its own bytes are never overwritten, so callers may
 * keep it; transfer `.slice()` of it, never its `.buffer`.
 */
export function encode(value: unknown): Uint8Array {
  return encoder.encode(value);
}

export function decode(bytes: Uint8Array): unknown {
  return encoder.decode(bytes);
}

/**
 * Encodes into a buffer of its own (`.buffer` holds exactly these bytes), so it can be
 * transferred to another thread instead of cloned, without detaching the codec's slab.
 */
export function encodeOwned(value: unknown): Uint8Array<ArrayBuffer> {
  return encoder.encode(value).slice() as Uint8Array<ArrayBuffer>;
}
