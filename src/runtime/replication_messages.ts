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
  /** The sender's entries in buckets whose sums differed; `reply` asks for ours in return. */
  | { t: 'repair'; buckets: number[]; entries: WireEntry[]; reply: boolean };

export const ENTRIES_PER_MESSAGE_MAX = 4096;
export const BUCKETS_MAX = 4096;

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
    case 'repair':
      return {
        t: 'repair',
        buckets: requireCount(x.buckets, 'buckets', BUCKETS_MAX).map((b) =>
          requireUint(b, 'bucket'),
        ),
        entries: parseEntries(x.entries),
        reply: x.reply === true,
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
