/**
 * The executor threads of one node, owned directly with `worker_threads` (not piscina; see
 * docs/ARCHITECTURE.md): each has a stable index, its own port, the versions of code it
 * was sent, and the calls it is running. A call that overruns its timeout has its thread
 * terminated and replaced; a thread that dies (out of memory, process.exit, an uncaught
 * error) is replaced too. The calls it was running are settled one by one: the culprit
 * fails with TimeoutError or FunctionError, and bystanders are re-dispatched once to a
 * fresh thread, so a runaway call costs only itself.
 */
import {
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  Worker,
} from 'node:worker_threads';
import {
  errorFromWire,
  errorToWire,
  FunctionError,
  TimeoutError,
  UnavailableError,
  ValidationError,
} from '../errors.js';
import type { ExecutorThreadData } from './executor_thread.js';
import type {
  CallStep,
  ExecutorRequest,
  ExportInfo,
  FromExecutor,
  FunctionDef,
  ModuleCode,
  SnapshotEntry,
  ToExecutor,
} from './messages.js';
import { type Batched, PortOutbox, unbatch } from './port_outbox.js';
import { SpinBackoff } from './spin_backoff.js';

/** One function to run: its code and its encoded arguments. */
export interface PoolStep {
  callId: string;
  actorId: string;
  def: FunctionDef;
  module?: ModuleCode;
  args: Uint8Array;
  /** CallStep.sendKey. */
  sendKey?: string;
}

export interface PoolCall extends PoolStep {
  /** Upstream DAG results, passed before `args`. */
  inputs?: Uint8Array[];
  /** Functions run after this one on the same thread, each fed the previous result. */
  chain?: PoolStep[];
  /**
   * False when this node's next call cannot come soon after this one ends (a DAG part
   * whose result goes on to another node): the thread then does not stay awake for it.
   */
  awaitNext?: boolean;
  /** Repeatable read: the versions upstream functions read (read_snapshot.ts). */
  snapshot?: SnapshotEntry[];
  /** Told what a repeatable-read call read for the first time, before it resolves. */
  onReads?: (reads: SnapshotEntry[]) => void;
  /** Causal mode (call_context.ts `ContextDeps.causal`). */
  consistency?: 'causal';
  /** The class turns held up the call's chain (call_context.ts `CallInfo.holding`). */
  holding?: string[];
  timeoutMs: number;
  /** Pins the call to one executor (class instances live on one). */
  executorIndex?: number;
}

export interface ExecutorPoolOptions {
  size: number;
  cacheBuffer: SharedArrayBuffer;
  nodeId: string;
  memoryMb: number;
  /** How long the supervisor polls for a lone call's answer before sleeping; 0 = never. */
  spinUs: number;
  /** Serves a request from a running function (a miss, a write, a message, a call). */
  onRequest(executorIndex: number, request: ExecutorRequest): Promise<unknown> | unknown;
  onThreadFailure?(executorIndex: number, reason: string): void;
  /**
   * Class instances that died with their thread and that no waiting call was told about
   * (so the class's next call can be).
   */
  onInstancesLost?(names: string[], because: string): void;
}

export interface ExecutorStats {
  index: number;
  state: 'starting' | 'ready';
  inFlight: number;
  calls: number;
  failures: number;
  restarts: number;
  /** Share of the last UTILISATION_WINDOW_MS (or less, just after a start) that this thread had a call running. */
  utilisation: number;
  /** Milliseconds this thread has had a call running, since it started. */
  busyMs: number;
}

/**
 * How much longer than the supervisor an executor stays awake after a lone call: the next
 * call from a client in another process arrives a network round trip later.
 */
const WORKER_SPIN_FACTOR = 4;

/** Deployed modules an executor thread keeps loaded at once. */
const MODULES_HELD_MAX = 256;

/** How long a thread has to answer a ping before it counts as stuck in code. */
const PING_TIMEOUT_MS = 250;

/** Attempts a bystander call gets when its thread dies under it. */
const ATTEMPTS_MAX = 2;

/**
 * How long a deployed module's top-level code may run when it is first loaded; past it the
 * thread is stopped and the deploy fails (module code runs once, and should be quick).
 */
export const MODULE_LOAD_TIMEOUT_MS = 10_000;

interface Pending {
  call: PoolCall;
  attempts: number;
  /** This dispatch's name in the thread's progress words (Executor's `progress`). */
  tag: number;
  timer: NodeJS.Timeout;
  resolve(bytes: Uint8Array): void;
  reject(error: Error): void;
}

interface Inspection {
  executorIndex: number;
  timer: NodeJS.Timeout;
  resolve(exports: ExportInfo[]): void;
  reject(error: Error): void;
}

interface Slot {
  index: number;
  worker: Worker;
  /** The supervisor's end of the thread's channel. */
  port: MessagePort;
  /** What the supervisor sends on it, a turn's messages at a time. */
  outbox: PortOutbox<ToExecutor>;
  state: 'starting' | 'ready';
  inFlight: Map<string, Pending>;
  /** The version of each function this thread holds (it keeps one per name). */
  sentVersions: Map<string, string>;
  /** Deployed modules this thread holds, oldest first; mirrored by the thread. */
  sentModules: Set<string>;
  /** Classes with an instance on this thread. */
  classes: Set<string>;
  /** What to do when the thread answers a ping, by ping number. */
  pings: Map<number, (steps: Map<string, number>) => void>;
  calls: number;
  failures: number;
  restarts: number;
  busyMs: number;
  busySinceMs: number;
  /** When this thread last took a call (performance.now), for warm-first picking. */
  lastCallMs: number;
  startedMs: number;
  /** The tag and chain step of the call that last entered user code (written by the thread). */
  progress: Int32Array;
  /**
   * Set when we terminate the thread ourselves: the call that overran (its id), or a
   * module load that did (INSPECTION_CULPRIT); the thread's other calls are bystanders.
   */
  killedFor?: string;
}

const INSPECTION_CULPRIT = '(module load)';

interface UtilisationSample {
  atMs: number;
  /** Busy ms by executor index: a replaced thread's count goes on in its replacement. */
  busy: Map<number, number>;
}

/** How far back `utilisation` in stats looks. */
const UTILISATION_WINDOW_MS = 10_000;

function busyMsOf(slot: Slot, now: number): number {
  return slot.busyMs + (slot.inFlight.size > 0 ? now - slot.busySinceMs : 0);
}

function slotLoad(slot: Slot): number {
  return slot.inFlight.size + (slot.state === 'ready' ? 0 : 0.5);
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
  readonly #spinUs: number;
  /** Calls dispatched and not yet settled, over all threads. */
  #running = 0;
  #spinScheduled = false;
  readonly #spins = new SpinBackoff();
  #nextTaskId = 1;
  #nextTag = 1;
  readonly #samples: UtilisationSample[] = [];
  #stopping = false;

  constructor(options: ExecutorPoolOptions) {
    this.#options = options;
    this.#spinUs = options.spinUs;
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

  /**
   * The executor a new call should go to: the least busy; among equals, the one that last
   * took a call. A thread that just worked wakes in a few µs while one left idle sleeps
   * deeper, so at low load one warm thread serves, and load spreads as soon as it queues.
   */
  pick(): number {
    let best: Slot | undefined;
    for (const slot of this.#slots) {
      if (best === undefined || slotLoad(slot) < slotLoad(best)) best = slot;
      else if (slotLoad(slot) === slotLoad(best) && slot.lastCallMs > best.lastCallMs) best = slot;
    }
    return best?.index ?? 0;
  }

  inFlight(): number {
    return this.#running;
  }

  /** Whether the call `callId` is running on one of the threads. */
  isRunning(callId: string): boolean {
    return this.#slots.some((slot) => slot.inFlight.has(callId));
  }

  run(call: PoolCall): Promise<Uint8Array> {
    if (this.#stopping) return Promise.reject(new UnavailableError('node is stopping'));
    return new Promise((resolve, reject) => {
      this.#dispatch({ call, attempts: 0, tag: 0, timer: undefined!, resolve, reject });
    });
  }

  /**
   * Loads a module on one executor and lists its exported functions and classes. Top-level
   * code that runs past `timeoutMs` gets the thread stopped and replaced (its calls are
   * re-run elsewhere), and the load fails with TimeoutError.
   */
  inspect(module: ModuleCode, timeoutMs = MODULE_LOAD_TIMEOUT_MS): Promise<ExportInfo[]> {
    const taskId = this.#nextTaskId++;
    const slot = this.#slots[this.pick()]!;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.#inspections.delete(taskId)) return;
        reject(
          new TimeoutError(
            `its top-level code ran past ${timeoutMs} ms; the thread running it was stopped`,
          ),
        );
        if (this.#slots[slot.index] !== slot || slot.killedFor !== undefined) return;
        slot.killedFor = INSPECTION_CULPRIT;
        void slot.worker.terminate();
      }, timeoutMs);
      this.#inspections.set(taskId, { executorIndex: slot.index, timer, resolve, reject });
      slot.outbox.post({ t: 'inspect', taskId, module } satisfies ToExecutor);
    });
  }

  stats(): ExecutorStats[] {
    const now = performance.now();
    const busy = new Map(this.#slots.map((slot) => [slot.index, busyMsOf(slot, now)]));
    const since = this.#utilisationSince(now, busy);
    return this.#slots.map((slot) => {
      const busyMs = busy.get(slot.index) ?? 0;
      const from = since.busy.get(slot.index) ?? 0;
      const spanMs = Math.max(1, now - Math.max(since.atMs, slot.startedMs));
      return {
        index: slot.index,
        state: slot.state,
        inFlight: slot.inFlight.size,
        calls: slot.calls,
        failures: slot.failures,
        restarts: slot.restarts,
        utilisation: Math.min(1, Math.max(0, (busyMs - from) / spanMs)),
        busyMs,
      };
    });
  }

  /**
   * The busy time of each thread as it was about UTILISATION_WINDOW_MS ago, from samples
   * taken (at most one a second) whenever stats are asked for — the supervisor asks every
   * second for its load report, so the window slides without a timer of its own.
   */
  #utilisationSince(now: number, busy: Map<number, number>): UtilisationSample {
    const samples = this.#samples;
    if (samples.length === 0 || now - samples[samples.length - 1]!.atMs >= 1000)
      samples.push({ atMs: now, busy });
    while (samples.length > 1 && now - samples[1]!.atMs >= UTILISATION_WINDOW_MS) samples.shift();
    const oldest = samples[0]!;
    return oldest.atMs < now ? oldest : { atMs: this.#startedMs, busy: new Map() };
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
      slot.port.close();
    }
    this.#running = 0;
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
    if (call.def.kind === 'class') slot.classes.add(call.def.name);
    if (slot.inFlight.size === 0) slot.busySinceMs = performance.now();
    slot.inFlight.set(call.callId, pending);
    slot.lastCallMs = performance.now();
    this.#running += 1;
    slot.calls += 1;
    pending.tag = this.#nextTag;
    this.#nextTag = this.#nextTag >= 0x7fffffff ? 1 : this.#nextTag + 1;
    // Callbacks made once, given their arguments: no closure per call (under tsx each costs
    // a `__name` definition; docs/ARCHITECTURE.md, "Latency").
    pending.timer = setTimeout(this.#onTimeoutOf, call.timeoutMs, slot, call.callId);
    const message = this.#step(slot, call) as Extract<ToExecutor, { t: 'call' }>;
    message.t = 'call';
    message.tag = pending.tag;
    if (call.inputs !== undefined) message.inputs = call.inputs;
    if (call.chain !== undefined) {
      message.chain = [];
      for (const step of call.chain) message.chain.push(this.#step(slot, step));
    }
    if (call.snapshot !== undefined) message.snapshot = call.snapshot;
    if (call.consistency !== undefined) message.consistency = call.consistency;
    if (call.holding !== undefined) message.holding = call.holding;
    message.timeoutMs = call.timeoutMs;
    const lone = this.#spinUs > 0 && this.#running === 1;
    if (lone && call.awaitNext !== false) message.spinUs = this.#spinUs * WORKER_SPIN_FACTOR;
    slot.outbox.post(message);
    if (lone && !this.#spinScheduled && this.#spins.shouldSpin()) {
      this.#spinScheduled = true;
      setImmediate(this.#spinIfLoneNow);
    }
  }

  readonly #onTimeoutOf = (slot: Slot, callId: string): void => this.#onTimeout(slot, callId);
  readonly #spinIfLoneNow = (): void => this.#spinIfLone();

  /** A function as this thread needs it: with its code the first time the thread sees it. */
  #step(slot: Slot, step: PoolStep): CallStep {
    const message: CallStep = {
      callId: step.callId,
      actorId: step.actorId,
      name: step.def.name,
      version: step.def.version,
      args: step.args,
    };
    if (step.sendKey !== undefined) message.sendKey = step.sendKey;
    if (slot.sentVersions.get(step.def.name) !== step.def.version) {
      message.def = step.def;
      slot.sentVersions.set(step.def.name, step.def.version);
    }
    if (step.module !== undefined && !slot.sentModules.has(step.module.id)) {
      message.module = step.module;
      this.#rememberModule(slot, step.module.id);
    }
    return message;
  }

  /** Runs after the I/O of this turn, so frames that arrived together are all dispatched first. */
  #spinIfLone(): void {
    this.#spinScheduled = false;
    if (this.#running !== 1) return;
    const slot = this.#slots.find((s) => s.inFlight.size === 1);
    if (slot !== undefined) this.#spin(slot);
  }

  /**
   * Waits for a lone call's answer by polling the port for at most `spinUs`. On this kind
   * of machine a sleeping thread takes tens of µs to wake while a busy one answers in a few
   * (docs/ARCHITECTURE.md, "Latency"), so when exactly one call is in flight the supervisor
   * stays awake for it rather than going back to its event loop. Any message ends the spin:
   * requests from the function are served by the event loop as usual.
   */
  #spin(slot: Slot): void {
    const deadline = performance.now() + this.#spinUs / 1000;
    while (performance.now() < deadline) {
      const received = receiveMessageOnPort(slot.port);
      if (received === undefined) continue;
      this.#spins.record(true);
      unbatch(received.message as Batched<FromExecutor>, (message) =>
        this.#onMessage(slot, message),
      );
      return;
    }
    this.#spins.record(false);
  }

  /**
   * Records that a thread now holds a module; past MODULES_HELD_MAX the oldest is dropped
   * here and the thread is told to drop it too, so both sides agree on what it holds.
   */
  #rememberModule(slot: Slot, moduleId: string): void {
    slot.sentModules.add(moduleId);
    if (slot.sentModules.size <= MODULES_HELD_MAX) return;
    const oldest = slot.sentModules.values().next().value as string;
    slot.sentModules.delete(oldest);
    slot.outbox.post({ t: 'forget', moduleId: oldest } satisfies ToExecutor);
  }

  /** The thread could not prepare this call's code: send it again with the next call. */
  #forgetSent(slot: Slot, call: PoolCall): void {
    for (const step of [call, ...(call.chain ?? [])]) {
      slot.sentVersions.delete(step.def.name);
      if (step.module !== undefined) slot.sentModules.delete(step.module.id);
    }
  }

  #settle(slot: Slot, callId: string): Pending | undefined {
    const pending = slot.inFlight.get(callId);
    if (pending === undefined) return undefined;
    slot.inFlight.delete(callId);
    this.#running -= 1;
    clearTimeout(pending.timer);
    if (slot.inFlight.size === 0) slot.busyMs += performance.now() - slot.busySinceMs;
    return pending;
  }

  /**
   * A call ran past its deadline. A plain function that is only waiting (a timer, a Future,
   * `recv`) leaves its thread's event loop free: then the call alone fails and the thread,
   * with the class instances on it, lives on (the function's late result is dropped). A
   * thread that does not answer within PING_TIMEOUT_MS is stuck in code and is replaced; so
   * is the thread of a class's overrunning call, whose turn would otherwise block every
   * later call of that instance.
   */
  #onTimeout(slot: Slot, callId: string): void {
    const pending = slot.inFlight.get(callId);
    if (pending === undefined || slot.killedFor !== undefined) return;
    const kill = () => {
      if (slot.killedFor !== undefined || !slot.inFlight.has(callId)) return;
      slot.killedFor = callId;
      void slot.worker.terminate();
    };
    if (pending.call.def.kind === 'class') {
      kill();
      return;
    }
    const seq = this.#nextTaskId++;
    const timer = setTimeout(() => {
      slot.pings.delete(seq);
      kill();
    }, PING_TIMEOUT_MS);
    slot.pings.set(seq, (steps) => {
      clearTimeout(timer);
      const waiting = this.#settle(slot, callId);
      waiting?.reject(
        new TimeoutError(
          `${stepName(pending.call, steps.get(callId) ?? 0)} ran past its timeout of ${pending.call.timeoutMs} ms (still waiting; its result will be dropped)`,
        ),
      );
    });
    slot.outbox.post({ t: 'ping', seq } satisfies ToExecutor);
  }

  /**
   * A message to a thread that structured clone refused: the call or the request it
   * belonged to fails with the reason instead of waiting out its deadline.
   */
  #unsendable(slot: Slot, message: ToExecutor, error: Error): void {
    const reason = `cannot be passed to the executor: ${error.message}`;
    if (message.t === 'reply') {
      slot.outbox.post({
        t: 'reply',
        reqId: message.reqId,
        ok: false,
        error: errorToWire(new ValidationError(`the answer ${reason}`)),
      });
    } else if (message.t === 'call') {
      this.#settle(slot, message.callId)?.reject(new ValidationError(`the call ${reason}`));
    } else {
      throw error;
    }
  }

  #onMessage(slot: Slot, message: FromExecutor): void {
    switch (message.t) {
      case 'ready':
        slot.state = 'ready';
        break;
      case 'done': {
        const pending = this.#settle(slot, message.callId);
        if (pending === undefined) break;
        if (message.ok) {
          if (message.reads !== undefined) pending.call.onReads?.(message.reads);
          pending.resolve(message.bytes);
        } else {
          slot.failures += 1;
          if (message.resend) this.#forgetSent(slot, pending.call);
          pending.reject(errorFromWire(message.error));
        }
        break;
      }
      case 'pong': {
        const answered = slot.pings.get(message.seq);
        slot.pings.delete(message.seq);
        answered?.(new Map(message.steps));
        break;
      }
      case 'inspected': {
        const waiter = this.#inspections.get(message.taskId);
        this.#inspections.delete(message.taskId);
        if (waiter === undefined) break;
        clearTimeout(waiter.timer);
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
    let transfer: ArrayBuffer[] = [];
    try {
      const value = await this.#options.onRequest(slot.index, request as ExecutorRequest);
      reply = { t: 'reply', reqId, ok: true, value };
      // A read's values are fresh encodings made for this answer: large ones are moved to
      // the thread, not copied.
      if (request.op === 'get') transfer = largeOwnedBuffers(value);
    } catch (error) {
      reply = { t: 'reply', reqId, ok: false, error: errorToWire(error) };
    }
    if (this.#slots[slot.index] === slot) slot.outbox.post(reply, transfer);
  }

  #spawn(index: number, restarts: number): Slot {
    const entry = executorEntry();
    const progress = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
    const data: Omit<ExecutorThreadData, 'port'> & { port?: MessagePort; entryUrl?: string } = {
      cacheBuffer: this.#options.cacheBuffer,
      executorIndex: index,
      nodeId: this.#options.nodeId,
      progress,
    };
    if (entry.entryUrl !== undefined) data.entryUrl = entry.entryUrl;
    const channel = new MessageChannel();
    data.port = channel.port2;
    const worker = new Worker(entry.url, {
      workerData: data,
      transferList: [channel.port2],
      resourceLimits: { maxOldGenerationSizeMb: this.#options.memoryMb },
      name: `squall-executor-${index}`,
    });
    const slot: Slot = {
      index,
      worker,
      port: channel.port1,
      outbox: new PortOutbox(channel.port1, (message, error) =>
        this.#unsendable(slot, message, error),
      ),
      state: 'starting',
      inFlight: new Map(),
      sentVersions: new Map(),
      sentModules: new Set(),
      classes: new Set(),
      pings: new Map(),
      calls: 0,
      failures: 0,
      restarts,
      busyMs: 0,
      busySinceMs: 0,
      lastCallMs: 0,
      startedMs: performance.now(),
      progress,
    };
    let failure: Error | undefined;
    channel.port1.on('message', (received: Batched<FromExecutor>) =>
      unbatch(received, (message) => this.#onMessage(slot, message)),
    );
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', (code) => this.#onExit(slot, code, failure));
    return slot;
  }

  #whenReady(slot: Slot): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (received: Batched<FromExecutor>) => {
        let ready = false;
        unbatch(received, (message) => {
          ready ||= message.t === 'ready';
        });
        if (!ready) return;
        slot.port.off('message', onMessage);
        slot.worker.off('exit', onExit);
        resolve();
      };
      const onExit = (code: number) =>
        reject(new Error(`executor ${slot.index} exited with code ${code} while starting`));
      slot.port.on('message', onMessage);
      slot.worker.on('exit', onExit);
    });
  }

  #onExit(slot: Slot, code: number, failure: Error | undefined): void {
    slot.port.close();
    if (this.#stopping || this.#slots[slot.index] !== slot) return;
    const reason = describeExit(code, failure, this.#options.memoryMb);
    if (slot.killedFor === undefined) this.#options.onThreadFailure?.(slot.index, reason);
    const replacement = this.#spawn(slot.index, slot.restarts + 1);
    this.#slots[slot.index] = replacement;
    const orphans = [...slot.inFlight.keys()];
    const suspect = slot.killedFor === undefined ? suspectOf(slot, orphans) : undefined;
    const lost = lostBecause(slot, reason);
    const told = new Set<string>();
    for (const callId of orphans) {
      const pending = this.#settle(slot, callId)!;
      slot.failures += 1;
      const { def } = pending.call;
      if (callId !== slot.killedFor && def.kind === 'class') {
        // It was waiting for an instance that is gone: run now, it would see a fresh one.
        told.add(def.name);
        pending.reject(new FunctionError(instanceLost(def.name, lost), 'InstanceLost'));
      } else if (callId === slot.killedFor) {
        pending.reject(
          new TimeoutError(
            `${overran(pending, slot.progress)} ran past its timeout of ${pending.call.timeoutMs} ms and was stopped`,
          ),
        );
      } else if (callId !== suspect && pending.attempts < ATTEMPTS_MAX) {
        this.#dispatch(pending);
      } else {
        // The culprit is named by the step it was at.
        const name = callId === suspect ? overran(pending, slot.progress) : def.name;
        pending.reject(new FunctionError(`${name}: ${reason}`, 'ExecutorFailure'));
      }
    }
    // The executor's counts go on across its threads: calls, failures, busy time (the
    // runaway's time included), and the span its utilisation is measured over.
    replacement.calls += slot.calls;
    replacement.failures += slot.failures;
    replacement.busyMs += slot.busyMs;
    replacement.startedMs = slot.startedMs;
    const untold = [...slot.classes].filter((name) => !told.has(name));
    if (untold.length > 0) this.#options.onInstancesLost?.(untold, lost);
    for (const [taskId, waiter] of this.#inspections) {
      if (waiter.executorIndex !== slot.index) continue;
      this.#inspections.delete(taskId);
      clearTimeout(waiter.timer);
      waiter.reject(new UnavailableError(reason));
    }
  }
}

/**
 * Which of the calls on a thread that died by itself (out of memory, say) killed it: a lone
 * call, else the one that last entered user code, if it is still in flight — a thread
 * dies while running code, and most often in the call that began last. Only the suspect
 * fails; the others run again on another thread, so a runaway costs only itself (were the
 * guess wrong, the culprit kills one more thread and is then alone or the suspect).
 */
function suspectOf(slot: Slot, orphans: string[]): string | undefined {
  if (orphans.length === 1) return orphans[0];
  const tag = Atomics.load(slot.progress, 0);
  return orphans.find((callId) => slot.inFlight.get(callId)?.tag === tag);
}

/** Why a thread's class instances are gone, in words for their callers. */
function lostBecause(slot: Slot, reason: string): string {
  if (slot.killedFor === INSPECTION_CULPRIT)
    return "a deployed module's top-level code overran on its executor thread, which was replaced";
  const culprit = slot.killedFor === undefined ? undefined : slot.inFlight.get(slot.killedFor);
  if (culprit !== undefined)
    return `a call of ${culprit.call.def.name} ran past its timeout on the same executor thread, which was replaced`;
  return reason;
}

/** What a caller of a class whose instance was lost is told. */
export function instanceLost(name: string, because: string): string {
  return `the instance of ${name}, and its state, was lost: ${because}; the next call starts a new one`;
}

/** The function of a call (or of its chain) that was running user code when it timed out. */
function overran(pending: Pending, progress: Int32Array): string {
  const { call } = pending;
  if (call.chain === undefined || Atomics.load(progress, 0) !== pending.tag) return call.def.name;
  return stepName(call, Atomics.load(progress, 1));
}

/** The function at `step` of a call's chain (0: the call's own function). */
function stepName(call: PoolCall, step: number): string {
  return step === 0 ? call.def.name : (call.chain?.[step - 1]?.def.name ?? call.def.name);
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

/** Values of at least 64 KiB that own their whole (non-shared) buffer, to transfer. */
function largeOwnedBuffers(values: unknown): ArrayBuffer[] {
  if (!Array.isArray(values)) return [];
  const buffers: ArrayBuffer[] = [];
  for (const value of values) {
    if (
      value instanceof Uint8Array &&
      value.byteLength >= 64 * 1024 &&
      value.buffer instanceof ArrayBuffer &&
      value.byteOffset === 0 &&
      value.byteLength === value.buffer.byteLength &&
      !buffers.includes(value.buffer)
    )
      buffers.push(value.buffer);
  }
  return buffers;
}
