/**
 * The registered functions, stored in the KVS itself (`__squall/fn/NAME`, last-writer-wins,
 * and deployed modules under `__squall/module/ID`) so that every node reads the same
 * registry and a restarted node recovers it from its store. This class keeps a decoded
 * index in memory and re-reads a name from the store after writing it, so the winner of
 * concurrent registrations is whatever the lattice says, not whoever wrote last here.
 */
import { createHash } from 'node:crypto';
import type { ExportInfo, FunctionDef, ModuleCode } from '../actors/index.js';
import { analyzeFunctionSource, closureError } from '../actors/index.js';
import { ValidationError } from '../errors.js';
import type { LatticeSpec } from '../storage/index.js';
import type { NodeStore } from './node_store.js';
import { FUNCTION_PREFIX, MODULE_PREFIX } from './placement.js';
import { requireName } from './validate.js';

/** Deployed modules kept decoded in memory (the store holds them all). */
const MODULES_CACHED_MAX = 256;

/** Writes a registry key on every node (resolves once all live nodes merged it). */
export type RegistryWrite = (key: string, spec: LatticeSpec) => Promise<unknown>;

export class Registry {
  readonly #store: NodeStore;
  readonly #write: RegistryWrite;
  readonly #functionsMax: number;
  readonly #newVersion: () => string;
  readonly #modules = new Map<string, ModuleCode>();

  constructor(
    store: NodeStore,
    write: RegistryWrite,
    functionsMax: number,
    newVersion: () => string,
  ) {
    this.#store = store;
    this.#write = write;
    this.#functionsMax = functionsMax;
    this.#newVersion = newVersion;
  }

  get(name: string): FunctionDef | undefined {
    return this.#store.read(FUNCTION_PREFIX + name) as FunctionDef | undefined;
  }

  /** A deployed module's code; the most recently used are kept decoded in memory. */
  module(id: string): ModuleCode | undefined {
    let module = this.#modules.get(id);
    if (module === undefined) {
      module = this.#store.read(MODULE_PREFIX + id) as ModuleCode | undefined;
      if (module !== undefined) this.#remember(module);
    }
    return module;
  }

  #remember(module: ModuleCode): void {
    this.#modules.delete(module.id);
    this.#modules.set(module.id, module);
    if (this.#modules.size > MODULES_CACHED_MAX) {
      this.#modules.delete(this.#modules.keys().next().value as string);
    }
  }

  list(prefix = ''): FunctionDef[] {
    const defs: FunctionDef[] = [];
    for (const key of this.#store.keys(FUNCTION_PREFIX + prefix)) {
      const def = this.#store.read(key) as FunctionDef | undefined;
      if (def !== undefined) defs.push(def);
    }
    return defs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Registers a function or class shipped as source text. */
  async registerSource(name: string, source: string, init: unknown[]): Promise<FunctionDef> {
    requireName(name, 'function name');
    const info = analyzeFunctionSource(source);
    if (info.freeVariables.length > 0) throw closureError(name, info.freeVariables);
    if (!info.canRun)
      throw new ValidationError(
        `class '${name}' has no run(ctx, ...args) method: a registered class serves each call with run`,
      );
    return this.#save({ name, version: this.#newVersion(), kind: info.kind, source, init });
  }

  /** Stores a module's code and registers each export that `inspect` found. */
  async registerModule(
    code: string,
    filename: string,
    exports: ExportInfo[],
  ): Promise<FunctionDef[]> {
    const id = createHash('sha256').update(code).digest('hex').slice(0, 24);
    const module: ModuleCode = { id, filename, code };
    const names = exports.map((e) => exportedName(e.name, filename));
    for (const name of names) requireName(name, `exported name in ${filename}`);
    if (exports.length === 0) {
      throw new ValidationError(`${filename} exports no functions or classes`);
    }
    await this.#write(MODULE_PREFIX + id, { kind: 'lww', value: module });
    this.#remember(module);
    return Promise.all(
      exports.map((entry, i) =>
        this.#save({
          name: names[i]!,
          version: this.#newVersion(),
          kind: entry.kind,
          module: { id, filename },
          exportName: entry.name,
          init: [],
        }),
      ),
    );
  }

  async #save(def: FunctionDef): Promise<FunctionDef> {
    const key = FUNCTION_PREFIX + def.name;
    if (this.#store.lattice(key) === undefined && this.count() >= this.#functionsMax) {
      throw new ValidationError(`the node holds ${this.#functionsMax} functions, its limit`);
    }
    await this.#write(key, { kind: 'lww', value: def });
    return this.get(def.name) ?? def;
  }

  count(): number {
    let count = 0;
    for (const _ of this.#store.keys(FUNCTION_PREFIX)) count += 1;
    return count;
  }
}

/** A default export is registered under the file's name (`hello.ts` → `hello`). */
function exportedName(exportName: string, filename: string): string {
  if (exportName !== 'default') return exportName;
  const base = filename.split(/[\\/]/).pop() ?? filename;
  return base.replace(/\.[^.]*$/, '');
}
