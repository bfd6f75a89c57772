/**
 * Replicas for tests of the real Replication core by hand: a shard, the core, and an
 * outbox; messages are delivered through CBOR and the core's parser, as on the wire.
 */
import type { CoreEffect } from '../../src/runtime/index.js';
import {
  HashRing,
  parseReplicaMessage,
  type ReplicaMessage,
  type ReplicaStore,
  Replication,
  type ReplicationConfig,
  type RingView,
} from '../../src/runtime/index.js';
import { decode, encode, type LatticeSpec, StoreShard } from '../../src/storage/index.js';

export const address = (id: string): string => `${id}:7946`;

export class Replica {
  readonly shard = new StoreShard();
  readonly core: Replication;
  readonly outbox: { from: string; to: string; message: ReplicaMessage }[] = [];
  #ts = 0;

  constructor(
    readonly id: string,
    config: Partial<ReplicationConfig> = {},
    random: () => number = () => 0,
  ) {
    const store: ReplicaStore = {
      get: (key) => this.shard.get(key),
      merge: (key, value) => {
        const { changed } = this.shard.merge(key, value);
        if (changed) this.core.changed(key, value);
        return changed;
      },
      keys: () => this.shard.keys(),
      delete: (key) => {
        this.shard.delete(key);
      },
    };
    this.core = new Replication(id, config, store, { random });
  }

  /** A client's write here, reported to the core with the write as its delta. */
  write(key: string, spec: LatticeSpec): void {
    const { changed, incoming } = this.shard.write(key, spec, { ts: ++this.#ts, writer: this.id });
    if (changed) this.core.changed(key, incoming);
  }

  take(effects: CoreEffect<ReplicaMessage>[]): void {
    for (const e of effects) {
      if (e.t === 'send')
        this.outbox.push({ from: address(this.id), to: e.to, message: e.message });
    }
  }
}

export function viewOf(ids: string[], replication: number): RingView {
  return { ring: HashRing.of(ids), replication, addressOf: address };
}

/** Delivers every queued message (and what it provokes) until the replicas are quiet. */
export function deliverAll(replicas: Replica[], nowMs: number): void {
  for (let round = 0; round < 100; round++) {
    const queue = replicas.flatMap((r) => r.outbox.splice(0));
    if (queue.length === 0) return;
    for (const { from, to, message } of queue) {
      const target = replicas.find((r) => address(r.id) === to);
      const parsed = parseReplicaMessage(decode(encode(message)));
      target?.take(target.core.receive(from, parsed, nowMs));
    }
  }
  throw new Error('the replicas never went quiet');
}
