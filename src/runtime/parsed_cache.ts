/**
 * Parses a stored registry value (a DAG, its pins) once per version: the store hands back
 * the same object while a key is unchanged, so identity says whether the last parse still
 * holds. An entry goes when its key is gone, so names deleted long ago hold nothing.
 */
export class ParsedCache<T> {
  readonly #parse: (stored: unknown) => T;
  readonly #entries = new Map<string, { stored: unknown; parsed: T }>();

  constructor(parse: (stored: unknown) => T) {
    this.#parse = parse;
  }

  /** `stored` is what the store holds under `name`'s key (null or undefined: nothing). */
  get(name: string, stored: unknown): T | undefined {
    if (stored === undefined || stored === null) {
      this.#entries.delete(name);
      return undefined;
    }
    const cached = this.#entries.get(name);
    if (cached?.stored === stored) return cached.parsed;
    const parsed = this.#parse(stored);
    this.#entries.set(name, { stored, parsed });
    return parsed;
  }
}
