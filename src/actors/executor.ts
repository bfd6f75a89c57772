/**
 * The function actors of one executor thread. It compiles each registered function once
 * per version (dropping older versions of the same name), keeps class instances alive
 * between calls, and runs calls concurrently the way Node runs any async work: a function
 * awaiting a cache miss or a message does not hold the thread. Calls to one class
 * instance are serialised (one turn at a time), so an actor's fields never see two calls
 * interleave — the actor model users expect from a stateful function.
 */
import { errorToWire, FunctionError, userErrorToWire, ValidationError } from '../errors.js';
import { decode, encodeOwned, FutureRef, Ref } from '../storage/index.js';
import { type CallInfo, type ContextDeps, createContext, getOne } from './call_context.js';
import type { Context } from './context_types.js';
import type {
  CallStep,
  ExportInfo,
  FunctionDef,
  ModuleCode,
  SnapshotEntry,
  ToExecutor,
} from './messages.js';
import { codeFileOf, compileFunction, isClass, loadModule } from './module_loader.js';
import { ReadSnapshot } from './read_snapshot.js';

/** A call in flight on this thread: where in its chain it is, and what its steps inherit. */
interface Progress {
  tag: number;
  step: number;
  holding: string[] | undefined;
  deadlineMs: number | undefined;
}

type CallMessage = Extract<ToExecutor, { t: 'call' }>;

interface Compiled {
  def: FunctionDef;
  target: unknown;
}

interface Instance {
  version: string;
  object: { run(ctx: Context, ...args: unknown[]): unknown };
  turn: Promise<unknown>;
}

/** Raised for failures outside user code: they keep their own code on the wire. */
class SetupError extends Error {
  override readonly cause: unknown;
  constructor(cause: unknown) {
    super('setup failed');
    this.cause = cause;
  }
}

export class Executor {
  readonly #deps: ContextDeps;
  /** The same, for calls in causal mode (ContextDeps.causal). */
  readonly #causalDeps: ContextDeps;
  readonly #compiled = new Map<string, Compiled>();
  readonly #versionByName = new Map<string, string>();
  readonly #modules = new Map<string, Record<string, unknown>>();
  readonly #instances = new Map<string, Instance>();

  /**
   * Two words the pool reads when it has to stop this thread: the tag of the call whose
   * step started last (resolving its arguments, then running), and that step's index in
   * its chain, so a timeout names the function that overran or waited, not the first.
   */
  readonly #progress: Int32Array | undefined;

  constructor(deps: ContextDeps, progress?: Int32Array) {
    this.#deps = deps;
    this.#progress = progress;
    this.#causalDeps = { ...deps, causal: true };
  }

  /**
   * Runs one call (and the functions chained after it, each fed the previous result as
   * encoded bytes, exactly as if it came from another executor) and returns the encoded
   * result; throws a wire-ready error description.
   */
  async run(
    message: CallMessage,
  ): Promise<{ bytes: Uint8Array<ArrayBuffer>; reads?: SnapshotEntry[] }> {
    // Every step's code is taken now: a later call may carry no code for a step whose code
    // came with this one and reach that step first, and a newer version may replace it.
    const steps = [message, ...(message.chain ?? [])];
    let compiled: Compiled[];
    try {
      compiled = steps.map((step) => this.#prepare(step));
    } catch (error) {
      throw new SetupError(error);
    }
    // One snapshot for the whole chain: its functions are one stretch of the same DAG call.
    const snapshot =
      message.snapshot === undefined ? undefined : new ReadSnapshot(message.snapshot);
    const deps = message.consistency === 'causal' ? this.#causalDeps : this.#deps;
    // Where in the chain each step runs, the class turns its callers hold, and the deadline.
    const deadlineMs = message.timeoutMs === undefined ? undefined : Date.now() + message.timeoutMs;
    const at: Progress = { tag: message.tag, step: 0, holding: message.holding, deadlineMs };
    this.#running.set(message.callId, at);
    try {
      let bytes = await this.#runStep(message, compiled[0]!, message.inputs, snapshot, deps, at);
      for (let i = 1; i < steps.length; i++) {
        at.step = i;
        bytes = await this.#runStep(steps[i]!, compiled[i]!, [bytes], snapshot, deps, at);
      }
      return snapshot === undefined ? { bytes } : { bytes, reads: snapshot.fresh };
    } finally {
      this.#running.delete(message.callId);
    }
  }

  /** The chain step each call in flight is at (a waiting call's overrun names it). */
  steps(): [string, number][] {
    return [...this.#running].map(([callId, at]) => [callId, at.step]);
  }

  readonly #running = new Map<string, Progress>();

  async #runStep(
    message: CallStep,
    compiled: Compiled,
    inputs: Uint8Array[] | undefined,
    snapshot: ReadSnapshot | undefined,
    deps: ContextDeps,
    at: Progress,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const progress = this.#progress;
    if (progress !== undefined) {
      Atomics.store(progress, 0, at.tag);
      Atomics.store(progress, 1, at.step);
    }
    let args: unknown[];
    try {
      args = await this.#resolveArgs(deps, message.args, inputs, snapshot);
    } catch (error) {
      throw new SetupError(error);
    }
    const info: CallInfo = {
      actorId: message.actorId,
      name: message.name,
      callId: message.callId,
      isClass: compiled.def.kind === 'class',
    };
    if (at.holding !== undefined) info.holding = at.holding;
    if (at.deadlineMs !== undefined) info.deadlineMs = at.deadlineMs;
    if (message.sendKey !== undefined) info.sendKey = message.sendKey;
    const ctx = createContext(deps, info, snapshot);
    const result =
      compiled.def.kind === 'class'
        ? await this.#runInstance(compiled, ctx, args)
        : await (compiled.target as (ctx: Context, ...a: unknown[]) => unknown)(ctx, ...args);
    try {
      return encodeOwned(result);
    } catch (error) {
      throw new FunctionError(
        `the result of ${message.name} cannot be encoded: ${(error as Error).message}`,
        'TypeError',
      );
    }
  }

  /** True when `run` failed before user code ran (its code could not be prepared). */
  static isSetupFailure(error: unknown): boolean {
    return error instanceof SetupError;
  }

  /** Maps whatever `run` threw to its wire form. */
  static describeFailure(error: unknown) {
    if (error instanceof SetupError) return errorToWire(error.cause);
    if (error instanceof FunctionError) return errorToWire(error);
    return userErrorToWire(error);
  }

  /** Drops a deployed module (the supervisor bounds how many a thread holds). */
  forgetModule(moduleId: string): void {
    this.#modules.delete(moduleId);
  }

  /** Loads a deployed module and lists the functions and classes it exports. */
  inspect(module: ModuleCode): ExportInfo[] {
    const exports = this.#module(module);
    const found: ExportInfo[] = [];
    for (const [name, value] of Object.entries(exports)) {
      if (typeof value !== 'function') continue;
      found.push({ name, kind: isClass(value) ? 'class' : 'function' });
    }
    return found;
  }

  /** The file that version's frames name in stack traces (module_loader.ts `codeFileOf`). */
  codeFile(version: string): string | undefined {
    const def = this.#compiled.get(version)?.def;
    return def === undefined ? undefined : codeFileOf(def);
  }

  #prepare(message: CallStep): Compiled {
    if (message.module !== undefined) this.#module(message.module);
    if (message.def !== undefined) this.#install(message.def);
    const compiled = this.#compiled.get(message.version);
    if (compiled === undefined) {
      throw new Error(`executor has no code for ${message.name}@${message.version}`);
    }
    return compiled;
  }

  #install(def: FunctionDef): void {
    let target: unknown;
    if (def.source !== undefined) {
      target = compileFunction(def.source, def.name);
    } else {
      const exports = def.module === undefined ? undefined : this.#modules.get(def.module.id);
      if (exports === undefined || def.exportName === undefined) {
        throw new Error(`module of ${def.name} is not loaded`);
      }
      target = exports[def.exportName];
    }
    if (typeof target !== 'function') {
      throw new ValidationError(`${def.name} is not a function or class`);
    }
    const previous = this.#versionByName.get(def.name);
    if (previous !== undefined && previous !== def.version) this.#compiled.delete(previous);
    this.#versionByName.set(def.name, def.version);
    this.#compiled.set(def.version, { def, target });
  }

  #module(module: ModuleCode): Record<string, unknown> {
    let exports = this.#modules.get(module.id);
    if (exports === undefined) {
      exports = loadModule(module.code, module.filename);
      this.#modules.set(module.id, exports);
    }
    return exports;
  }

  async #resolveArgs(
    deps: ContextDeps,
    bytes: Uint8Array,
    inputs: Uint8Array[] = [],
    snapshot?: ReadSnapshot,
  ): Promise<unknown[]> {
    const own = decode(bytes);
    if (!Array.isArray(own)) throw new ValidationError('call arguments must be an array');
    // Loops, not map/some: this runs for every function of a chain, and each arrow made
    // here would cost a `__name` definition under tsx.
    let args: unknown[] = own;
    if (inputs.length > 0) {
      args = [];
      for (const input of inputs) args.push(decode(input));
      for (const arg of own) args.push(arg);
    }
    let refs = false;
    for (const arg of args) if (arg instanceof Ref || arg instanceof FutureRef) refs = true;
    if (!refs) return args;
    return Promise.all(
      args.map(async (arg) => {
        if (arg instanceof Ref) return getOne(deps, arg.key, snapshot);
        if (arg instanceof FutureRef) {
          const result = (await deps.link.request({
            op: 'await',
            key: arg.key,
          })) as Uint8Array;
          return decode(result);
        }
        return arg;
      }),
    );
  }

  async #runInstance(compiled: Compiled, ctx: Context, args: unknown[]): Promise<unknown> {
    const { def } = compiled;
    let instance = this.#instances.get(def.name);
    if (instance === undefined || instance.version !== def.version) {
      const Class = compiled.target as new (ctx: Context, ...init: unknown[]) => Instance['object'];
      const object = new Class(ctx, ...def.init);
      if (typeof object.run !== 'function') {
        throw new ValidationError(`class ${def.name} has no run(ctx, ...args) method`);
      }
      instance = { version: def.version, object, turn: Promise.resolve() };
      this.#instances.set(def.name, instance);
    }
    const current = instance;
    const result = current.turn.then(() => current.object.run(ctx, ...args));
    current.turn = result.catch(() => undefined);
    return result;
  }
}
