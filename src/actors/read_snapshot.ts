/**
 * Repeatable read within one DAG call (REFERENCE.md, "Consistency modes": every read of a
 * key returns the version the DAG's functions first read, unless the DAG itself wrote the
 * key). A call in that mode brings the versions its upstream functions read (`pinned`, as
 * encoded bytes; null for a key that was absent); reads of other keys fetch the current
 * version and pin it, and the call answers with what it pinned (`fresh`), which travels on
 * with its result to the next functions. A key the call writes is read as usual afterwards
 * (read-your-writes beats the snapshot), and the write travels on too (WROTE): a function
 * downstream, perhaps on another node, reads that key at every live owner, where the write
 * has landed, rather than from a replica that may not have it yet. Versions travel as
 * bytes so that every function decodes its own copy.
 */
import { type CacheReader, decode } from '../storage/index.js';
import { type SnapshotEntry, WROTE } from './messages.js';
import type { SupervisorLink } from './supervisor_link.js';

export class ReadSnapshot {
  readonly #pinned: Map<string, Uint8Array | null>;
  /** Keys this function wrote: read as usual here (the node sees its own writes). */
  readonly #written = new Set<string>();
  /**
   * Keys an upstream function wrote, maybe on another node: read at every live owner,
   * since a replica here may not have the write yet.
   */
  readonly #writtenUpstream = new Set<string>();
  readonly fresh: SnapshotEntry[] = [];

  constructor(entries: readonly SnapshotEntry[]) {
    this.#pinned = new Map();
    for (const [key, bytes] of entries) {
      if (bytes === WROTE) this.#writtenUpstream.add(key);
      else this.#pinned.set(key, bytes);
    }
  }

  /** Whether `get` must come here rather than read the cache as usual. */
  covers(key: string): boolean {
    return !this.#written.has(key);
  }

  /** The pinned version of `key`, reading and pinning the current one the first time. */
  async get(key: string, cache: CacheReader, link: SupervisorLink): Promise<unknown> {
    if (this.#writtenUpstream.has(key)) {
      const [fetched] = (await link.request({ op: 'get', keys: [key], fresh: true })) as (
        | Uint8Array
        | undefined
      )[];
      return fetched === undefined ? undefined : decode(fetched);
    }
    let bytes: Uint8Array | null | undefined = this.#pinned.get(key);
    if (bytes === undefined) {
      bytes = cache.getBytes(key) ?? null;
      if (bytes === null) {
        const [fetched] = (await link.request({ op: 'get', keys: [key] })) as (
          | Uint8Array
          | undefined
        )[];
        bytes = fetched ?? null;
      }
      // Another read of the same key may have pinned it while this one waited.
      const raced = this.#pinned.get(key);
      if (raced !== undefined) bytes = raced;
      else {
        this.#pinned.set(key, bytes);
        this.fresh.push([key, bytes]);
      }
    }
    return bytes === null ? undefined : decode(bytes);
  }

  /** The call wrote `key`: later reads, here and downstream, see the store, not the snapshot. */
  wrote(key: string): void {
    if (this.#written.has(key)) return;
    this.#written.add(key);
    this.#writtenUpstream.delete(key);
    this.fresh.push([key, WROTE]);
  }
}
