/**
 * The executor threads of one node, owned directly with `worker_threads` (not piscina; see
 * docs/ARCHITECTURE.md): each has a stable index, its own port, the versions of code it
 * was sent, and the calls it is running. A call that overruns its timeout has its thread
 * terminated and replaced; a thread that dies (out of memory, process.exit, an uncaught
 * error) is replaced too. The calls it was running are settled one by one: the culprit
 * fails with TimeoutError or FunctionError, and bystanders are re-dispatched once to a
 * fresh thread, so a runaway call costs only itself.
 */
import { Worker } from 'node:worker_threads';
import {
  errorFromWire,
  errorToWire,
  FunctionError,
  TimeoutError,
  UnavailableError,
} from '../errors.js';
import type { ExecutorThreadData } from './executor_thread.js';
import type {
  ExecutorRequest,
  ExportInfo,
  FromExecutor,
  FunctionDef,
  ModuleCode,
  ToExecutor,
} from './messages.js';

export interface PoolCall {
  callId: string;
  actorId: string;
  def: FunctionDef;
  module?: ModuleCode;
  args: Uint8Array;
  timeoutMs: number;
  /** Pins the call to one executor (class instances live on one). */
  executorIndex?: number;
}

export interface ExecutorPoolOptions {
  size: number;
  cacheBuffer: SharedArrayBuffer;
  nodeId: string;
  memoryMb: number;
  /** Serves a request from a running function (a miss, a write, a message, a call). */
  onRequest(executorIndex: number, request: ExecutorRequest): Promise<unknown> | unknown;
  onThreadFailure?(executorIndex: number, reason: string): void;
}

export interface ExecutorStats {
  index: number;
  state: 'starting' | 'ready';
  inFlight: number;
  calls: number;
  failures: number;
  restarts: number;
  /** Share of the time since start this executor had at least one call running. */
  utilisation: number;
}

/** Attempts a bystander call gets when its thread dies under it. */
const ATTEMPTS_MAX = 2;

interface Pending {
  call: PoolCall;
  attempts: number;
  timer: NodeJS.Timeout;
  resolve(bytes: Uint8Array): void;
  reject(error: Error): void;
}

interface Inspection {
  executorIndex: number;
  resolve(exports: ExportInfo[]): void;
  reject(error: Error): void;
}

interface Slot {
  index: number;
  worker: Worker;
  state: 'starting' | 'ready';
  inFlight: Map<string, Pending>;
  sentVersions: Set<string>;
  sentModules: Set<string>;
  calls: number;
  failures: number;
  restarts: number;
  busyMs: number;
  busySinceMs: number;
  /** Set when we terminate the thread ourselves, with the call that caused it. */
  killedFor?: string;
}

function executorEntry(): { url: URL; entryUrl?: string } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    return {
      url: new URL('./executor_shim.mjs', here),
      entryUrl: new URL('./executor_thread.ts', here).href,
    };
  }
  return { url: new URL('./executor_thread.js', here) };
}

export class ExecutorPool {
  readonly #options: ExecutorPoolOptions;
  readonly #slots: Slot[] = [];
  readonly #inspections = new Map<number, Inspection>();
  readonly #startedMs = performance.now();
  #nextTaskId = 1;
  #nextPick = 0;
  #stopping = false;

  constructor(options: ExecutorPoolOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#slots.length;
  }

  /** Starts every thread and resolves once all report ready. */
  async start(): Promise<void> {
    const ready: Promise<void>[] = [];
    for (let index = 0; index < this.#options.size; index++) {
      const slot = this.#spawn(index, 0);
      this.#slots.push(slot);
      ready.push(this.#whenReady(slot));
    }
    await Promise.all(ready);
  }

  /** The executor a new call should go to: the least busy, ties in turn. */
  pick(): number {
    let best = -1;
    let bestLoad = Number.POSITIVE_INFINITY;
    const count = this.#slots.length;
    for (let i = 0; i < count; i++) {
      const slot = this.#slots[(this.#nextPick + i) % count]!;
      const load = slot.inFlight.size + (slot.state === 'ready' ? 0 : 0.5);
      if (load < bestLoad) {
        bestLoad = load;
        best = slot.index;
      }
    }
    this.#nextPick = (this.#nextPick + 1) % count;
    return best;
  }

  inFlight(): number {
    let total = 0;
    for (const slot of this.#slots) total += slot.inFlight.size;
    return total;
  }

  run(call: PoolCall): Promise<Uint8Array> {
    if (this.#stopping) return Promise.reject(new UnavailableError('node is stopping'));
    return new Promise((resolve, reject) => {
      this.#dispatch({ call, attempts: 0, timer: undefined!, resolve, reject });
    });
  }

  /** Loads a module on one executor and lists its exported functions and classes. */
  inspect(module: ModuleCode): Promise<ExportInfo[]> {
    const taskId = this.#nextTaskId++;
    const slot = this.#slots[this.pick()]!;
    return new Promise((resolve, reject) => {
      this.#inspections.set(taskId, { executorIndex: slot.index, resolve, reject });
      slot.worker.postMessage({ t: 'inspect', taskId, module } satisfies ToExecutor);
    });
  }

  stats(): ExecutorStats[] {
    const now = performance.now();
    const elapsedMs = Math.max(1, now - this.#startedMs);
    return this.#slots.map((slot) => ({
      index: slot.index,
      state: slot.state,
      inFlight: slot.inFlight.size,
      calls: slot.calls,
      failures: slot.failures,
      restarts: slot.restarts,
      utilisation: Math.min(
        1,
        (slot.busyMs + (slot.inFlight.size > 0 ? now - slot.busySinceMs : 0)) / elapsedMs,
      ),
    }));
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#slots.map((slot) => slot.worker.terminate()));
    for (const slot of this.#slots) {
      for (const pending of slot.inFlight.values()) {
        clearTimeout(pending.timer);
        pending.reject(new UnavailableError('node stopped'));
      }
      slot.inFlight.clear();
    }
  }

  #dispatch(pending: Pending): void {
    const { call } = pending;
    const index = call.executorIndex ?? this.pick();
    const slot = this.#slots[index];
    if (slot === undefined) {
      pending.reject(new UnavailableError(`no executor ${index}`));
      return;
    }
    pending.attempts += 1;
    if (slot.inFlight.size === 0) slot.busySinceMs = performance.now();
    slot.inFlight.set(call.callId, pending);
    slot.calls += 1;
    pending.timer = setTimeout(() => this.#onTimeout(slot, call.callId), call.timeoutMs);
    const message: Extract<ToExecutor, { t: 'call' }> = {
      t: 'call',
      callId: call.callId,
      actorId: call.actorId,
      name: call.def.name,
      version: call.def.version,
      args: call.args,
    };
    if (!slot.sentVersions.has(call.def.version)) {
      message.def = call.def;
      slot.sentVersions.add(call.def.version);
    }
    if (call.module !== undefined && !slot.sentModules.has(call.module.id)) {
      message.module = call.module;
      slot.sentModules.add(call.module.id);
    }
    slot.worker.postMessage(message);
  }

  #settle(slot: Slot, callId: string): Pending | undefined {
    const pending = slot.inFlight.get(callId);
    if (pending === undefined) return undefined;
    slot.inFlight.delete(callId);
    clearTimeout(pending.timer);
    if (slot.inFlight.size === 0) slot.busyMs += performance.now() - slot.busySinceMs;
    return pending;
  }

  #onTimeout(slot: Slot, callId: string): void {
    const pending = slot.inFlight.get(callId);
    if (pending === undefined || slot.killedFor !== undefined) return;
    slot.killedFor = callId;
    void slot.worker.terminate();
  }

  #onMessage(slot: Slot, message: FromExecutor): void {
    switch (message.t) {
      case 'ready':
        slot.state = 'ready';
        break;
      case 'done': {
        const pending = this.#settle(slot, message.callId);
        if (pending === undefined) break;
        if (message.ok) pending.resolve(message.bytes);
        else {
          slot.failures += 1;
          pending.reject(errorFromWire(message.error));
        }
        break;
      }
      case 'inspected': {
        const waiter = this.#inspections.get(message.taskId);
        this.#inspections.delete(message.taskId);
        if (waiter === undefined) break;
        if (message.ok) waiter.resolve(message.exports);
        else waiter.reject(errorFromWire(message.error));
        break;
      }
      case 'req':
        void this.#serve(slot, message);
        break;
    }
  }

  async #serve(slot: Slot, message: Extract<FromExecutor, { t: 'req' }>): Promise<void> {
    const { t: _t, reqId, ...request } = message;
    let reply: ToExecutor;
    try {
      const value = await this.#options.onRequest(slot.index, request as ExecutorRequest);
      reply = { t: 'reply', reqId, ok: true, value };
    } catch (error) {
      reply = { t: 'reply', reqId, ok: false, error: errorToWire(error) };
    }
    if (this.#slots[slot.index] === slot) slot.worker.postMessage(reply);
  }

  #spawn(index: number, restarts: number): Slot {
    const entry = executorEntry();
    const data: ExecutorThreadData & { entryUrl?: string } = {
      cacheBuffer: this.#options.cacheBuffer,
      executorIndex: index,
      nodeId: this.#options.nodeId,
    };
    if (entry.entryUrl !== undefined) data.entryUrl = entry.entryUrl;
    const worker = new Worker(entry.url, {
      workerData: data,
      resourceLimits: { maxOldGenerationSizeMb: this.#options.memoryMb },
      name: `squall-executor-${index}`,
    });
    const slot: Slot = {
      index,
      worker,
      state: 'starting',
      inFlight: new Map(),
      sentVersions: new Set(),
      sentModules: new Set(),
      calls: 0,
      failures: 0,
      restarts,
      busyMs: 0,
      busySinceMs: 0,
    };
    let failure: Error | undefined;
    worker.on('message', (message: FromExecutor) => this.#onMessage(slot, message));
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', (code) => this.#onExit(slot, code, failure));
    return slot;
  }

  #whenReady(slot: Slot): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromExecutor) => {
        if (message.t !== 'ready') return;
        slot.worker.off('message', onMessage);
        slot.worker.off('exit', onExit);
        resolve();
      };
      const onExit = (code: number) =>
        reject(new Error(`executor ${slot.index} exited with code ${code} while starting`));
      slot.worker.on('message', onMessage);
      slot.worker.on('exit', onExit);
    });
  }

  #onExit(slot: Slot, code: number, failure: Error | undefined): void {
    if (this.#stopping || this.#slots[slot.index] !== slot) return;
    const reason = describeExit(code, failure, this.#options.memoryMb);
    if (slot.killedFor === undefined) this.#options.onThreadFailure?.(slot.index, reason);
    const replacement = this.#spawn(slot.index, slot.restarts + 1);
    this.#slots[slot.index] = replacement;
    const orphans = [...slot.inFlight.keys()];
    for (const callId of orphans) {
      const pending = this.#settle(slot, callId)!;
      slot.failures += 1;
      if (callId === slot.killedFor) {
        pending.reject(
          new TimeoutError(
            `${pending.call.def.name} ran past its timeout of ${pending.call.timeoutMs} ms and was stopped`,
          ),
        );
      } else if (orphans.length > 1 && pending.attempts < ATTEMPTS_MAX) {
        this.#dispatch(pending);
      } else {
        pending.reject(new FunctionError(`${pending.call.def.name}: ${reason}`, 'ExecutorFailure'));
      }
    }
    for (const [taskId, waiter] of this.#inspections) {
      if (waiter.executorIndex !== slot.index) continue;
      this.#inspections.delete(taskId);
      waiter.reject(new UnavailableError(reason));
    }
  }
}

function describeExit(code: number, failure: Error | undefined, memoryMb: number): string {
  if (failure !== undefined) {
    if ((failure as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return `the executor thread ran out of memory (limit ${memoryMb} MB) and was replaced`;
    }
    return `the executor thread died of an uncaught ${failure.name}: ${failure.message}`;
  }
  return `the executor thread exited with code ${code} and was replaced`;
}
