/**
 * The messages replicas exchange, and their validation. Entries travel in the lattices'
 * compact wire form and are decoded with `fromWire`, which refuses anything malformed;
 * every count is bounded, so a peer cannot make us allocate without limit.
 */
import { ValidationError } from '../errors.js';
import { fromWire, type Lattice } from '../storage/index.js';
import { isRecord } from './validate.js';

/** A key and its lattice in wire form. */
export type WireEntry = [key: string, wire: unknown];

export type ReplicaMessage =
  /** Merge these. `seq` > 0 asks for a `push-ack` (hand-off batches); 0 is fire-and-forget gossip. */
  | { t: 'push'; seq: number; entries: WireEntry[] }
  | { t: 'push-ack'; seq: number }
  /** Anti-entropy: one sum of entry fingerprints per bucket, over the keys both nodes own. */
  | { t: 'digest'; sums: number[] }
  /** The answer to a digest equal to the receiver's own. */
  | { t: 'in-sync' }
  /**
   * The answer to a digest that differed: the receiver's fingerprint of each key it shares
   * with the sender in the differing `buckets` (all of their keys), or in one bucket too
   * large for a message (`buckets` empty: a run of its keys, compared key by key).
   */
  | {
      t: 'fingerprints';
      buckets: number[];
      fps: [key: string, fp: number][];
      /** Every differing bucket is listed whole. */
      complete: boolean;
    }
  /**
   * Entries to merge, and the keys whose entries the sender wants back; `answer`: this is
   * the answer to such a want.
   */
  | { t: 'repair'; entries: WireEntry[]; want: string[]; answer: boolean };

export const ENTRIES_PER_MESSAGE_MAX = 4096;
export const BUCKETS_MAX = 4096;
export const FINGERPRINTS_PER_MESSAGE_MAX = 65_536;

function requireCount(value: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(value) || value.length > max) {
    throw new ValidationError(`${what} must be an array of at most ${max} items`);
  }
  return value;
}

function requireUint(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(`${what} must be a non-negative integer`);
  }
  return value;
}

function parseEntries(value: unknown): WireEntry[] {
  return requireCount(value, 'entries', ENTRIES_PER_MESSAGE_MAX).map((entry) => {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') {
      throw new ValidationError('an entry must be [key, value]');
    }
    return [entry[0], entry[1]];
  });
}

export function parseReplicaMessage(x: unknown): ReplicaMessage {
  if (!isRecord(x)) throw new ValidationError('replica message must be an object');
  switch (x.t) {
    case 'push':
      return { t: 'push', seq: requireUint(x.seq, 'seq'), entries: parseEntries(x.entries) };
    case 'push-ack':
      return { t: 'push-ack', seq: requireUint(x.seq, 'seq') };
    case 'digest':
      return {
        t: 'digest',
        sums: requireCount(x.sums, 'sums', BUCKETS_MAX).map((s) => requireUint(s, 'sum')),
      };
    case 'in-sync':
      return { t: 'in-sync' };
    case 'fingerprints':
      return {
        t: 'fingerprints',
        buckets: requireCount(x.buckets, 'buckets', BUCKETS_MAX).map((b) =>
          requireUint(b, 'bucket'),
        ),
        fps: requireCount(x.fps, 'fps', FINGERPRINTS_PER_MESSAGE_MAX).map((fp) => {
          if (!Array.isArray(fp) || fp.length !== 2 || typeof fp[0] !== 'string')
            throw new ValidationError('a fingerprint must be [key, fp]');
          return [fp[0], requireUint(fp[1], 'fingerprint')];
        }),
        complete: x.complete === true,
      };
    case 'repair':
      return {
        t: 'repair',
        entries: parseEntries(x.entries),
        want: requireCount(x.want, 'want', ENTRIES_PER_MESSAGE_MAX).map((key) => {
          if (typeof key !== 'string') throw new ValidationError('a wanted key must be a string');
          return key;
        }),
        answer: x.answer === true,
      };
    default:
      throw new ValidationError('unknown replica message');
  }
}

/** Decodes an entry's lattice; undefined (skip it) when it is malformed. */
export function entryLattice(entry: WireEntry): Lattice | undefined {
  try {
    return fromWire(entry[1]);
  } catch {
    return undefined;
  }
}
