/**
 * The elements of one version of a grow-only set, by canonical key. A set in the store
 * grows a few elements at a time, and every write makes a new version (lattice values are
 * never changed in place: readers, replicas and the log may hold the old one). Copying the
 * elements for each version made adding one element to a set of n cost n; instead the
 * versions derived one from the next share one Map, each entry tagged with the version
 * that added it, so a version is (that Map, its number, its size) and adding k elements
 * costs k. Extending a version that was already extended (a branch: two writes derived from
 * the same value) copies it first, so no version's elements ever change.
 */

interface Entry {
  readonly value: unknown;
  readonly version: number;
}

interface Shared {
  readonly map: Map<string, Entry>;
  /** The newest version made from this map; only it may add entries to the map. */
  latest: number;
}

export class SetItems {
  readonly #shared: Shared;
  readonly #version: number;
  readonly size: number;

  private constructor(shared: Shared, version: number, size: number) {
    this.#shared = shared;
    this.#version = version;
    this.size = size;
  }

  static of(entries: Iterable<readonly [string, unknown]>): SetItems {
    const map = new Map<string, Entry>();
    for (const [key, value] of entries) if (!map.has(key)) map.set(key, { value, version: 0 });
    return new SetItems({ map, latest: 0 }, 0, map.size);
  }

  has(key: string): boolean {
    const entry = this.#shared.map.get(key);
    return entry !== undefined && entry.version <= this.#version;
  }

  /** Whether every entry of the shared map is in this version (no later one added any). */
  get #whole(): boolean {
    return this.size === this.#shared.map.size;
  }

  *keys(): IterableIterator<string> {
    if (this.#whole) {
      yield* this.#shared.map.keys();
      return;
    }
    for (const [key, entry] of this.#shared.map) if (entry.version <= this.#version) yield key;
  }

  *values(): IterableIterator<unknown> {
    for (const [, value] of this.entries()) yield value;
  }

  *entries(): IterableIterator<[string, unknown]> {
    const version = this.#version;
    for (const [key, entry] of this.#shared.map) {
      if (entry.version <= version) yield [key, entry.value];
    }
  }

  /** This version with `added` (keys it does not hold, none twice) as a new version. */
  plus(added: readonly (readonly [string, unknown])[]): SetItems {
    let shared = this.#shared;
    if (shared.latest !== this.#version) {
      // Another version was already made from this one: branch off a copy.
      shared = { map: new Map(), latest: 0 };
      for (const [key, value] of this.entries()) shared.map.set(key, { value, version: 0 });
    }
    const version = shared.latest + 1;
    for (const [key, value] of added) shared.map.set(key, { value, version });
    shared.latest = version;
    return new SetItems(shared, version, this.size + added.length);
  }
}
