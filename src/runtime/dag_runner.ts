/**
 * Runs DAG calls across the cluster. The node that accepts `callDag` coordinates: it places
 * every function (the scheduler), starts the functions placed on it, and sends the plan to
 * the other nodes that run a source function. Each node runs its functions as soon as all
 * their inputs arrived and sends each result straight to the nodes of the successors (same
 * node: no message at all; another node: one one-way peer message that carries the plan
 * along the first time) — never through the client or the KVS. A function's arguments are
 * its predecessors' results in edge order, then the caller's arguments for it. The sink
 * writes `outputKey` (a last-writer-wins write, so a re-run writes the same value again)
 * and answers the coordinator.
 *
 * Why one-way messages: a 2-function DAG across two nodes then costs two peer frames (the
 * input there, the answer back) instead of a request and a reply for each of plan, input,
 * answer and clean-up; on a small machine every frame is a process wake-up. A node forgets
 * a run as soon as its own functions finished, so a successful call needs no clean-up
 * message; ended runs are remembered briefly so a straggling message cannot revive one.
 * A linear stretch placed on one node runs as one executor call (`chain`).
 *
 * Repeatable read (`consistency: 'repeatable-read'`): each result carries the versions read
 * up to it (actors/read_snapshot.ts), and a function with several inputs reads each key as
 * its first predecessor in edge order saw it.
 *
 * Failures: a function that throws fails the call with its typed error and is not re-run.
 * A node that dies or cannot be reached during a run fails that attempt; the coordinator
 * cancels it everywhere and runs the DAG again on live nodes, at most `attemptsMax` times.
 * Inputs that arrive before their plan wait (bounded); every run's state expires.
 */

import assert from 'node:assert/strict';
import { type SnapshotEntry, WROTE } from '../actors/index.js';
import {
  errorFromWire,
  errorToWire,
  TimeoutError,
  UnavailableError,
  ValidationError,
  type WireError,
} from '../errors.js';
import type { DagGraph } from './dag_graph.js';

export interface DagPlan {
  runId: string;
  dag: DagGraph;
  /** Each function's caller arguments, encoded (an encoded empty array when none). */
  args: Record<string, Uint8Array>;
  placement: Record<string, string>;
  coordinator: string;
  outputKey?: string;
  timeoutMs: number;
  /**
   * Repeatable read: the versions read so far travel with each result (read_snapshot.ts).
   * Causal: every function reads at the keys' live owners and writes to all of them.
   */
  consistency?: 'repeatable-read' | 'causal';
  /** The client request this call answers: a sink on another node may answer it directly. */
  reply?: DagReply;
  /** A nested call's: the class turns held up its chain (call_context.ts `CallInfo.holding`). */
  holding?: string[];
  /**
   * Where the functions' message ids derive from when not the run's id: a client's call,
   * the same when the client sends the call again to another node (client_server.ts).
   */
  sendKey?: string;
}

/** A client's request, by the client's id (its hello) and the request's id. */
export interface DagReply {
  client: string;
  id: number;
}

/** A predecessor's result, and in repeatable-read mode the versions read up to it. */
export interface UpstreamResult {
  bytes: Uint8Array;
  snapshot?: SnapshotEntry[];
}

export type DagOutcome =
  | { ok: true; bytes: Uint8Array }
  /** The sink answered the client itself (`DagPlan.reply`); the coordinator must not. */
  | { ok: true; answered: true }
  /** `lostNode`: the attempt failed because that node could not be reached (re-run it). */
  | { ok: false; error: WireError; lostNode?: string };

export type DagMessage =
  | { op: 'dag-plan'; plan: DagPlan }
  | ({ op: 'dag-input'; runId: string; fn: string; from: string; plan?: DagPlan } & UpstreamResult)
  | { op: 'dag-done'; runId: string; outcome: DagOutcome }
  | { op: 'dag-cancel'; runId: string };

export interface RunOptions {
  inputs: Uint8Array[];
  timeoutMs: number;
  chain: { name: string; args: Uint8Array }[];
  /** Whether this node's next call may follow soon (the result is answered from here). */
  awaitNext: boolean;
  /** Repeatable read: the versions read upstream; `onReads` hears the ones read here. */
  snapshot?: SnapshotEntry[];
  onReads?: (reads: SnapshotEntry[]) => void;
  /** Causal mode (docs/ARCHITECTURE.md, "Consistency"). */
  consistency?: 'causal';
  holding?: string[];
  /** Supervisor CallOptions.sendKey. */
  sendKey?: string;
}

export interface DagRunnerDeps {
  nodeId: string;
  /**
   * Runs one function here, then each of `options.chain` on the same executor thread fed
   * the previous result; resolves to the last encoded result.
   */
  run(fn: string, args: Uint8Array, options: RunOptions): Promise<Uint8Array>;
  /** Whether a function can run chained on the thread of the one before it. */
  chainable(fn: string): boolean;
  /** Sends a one-way DAG message to another node; false when it is not a live member. */
  send(nodeId: string, message: DagMessage): boolean;
  writeOutput(key: string, bytes: Uint8Array): Promise<void>;
  /** Answers a client connected to this node; false when it is not connected here. */
  answer(reply: DagReply, bytes: Uint8Array): boolean;
  /** The largest result that can be passed to a function on another node. */
  inputBytesMax: number;
  alive(nodeId: string): boolean;
  nowMs(): number;
  /**
   * Told of each attempt that failed and is run again: a re-run repeats what the functions
   * of the failed attempt already did (a message sent, a counter bumped), so it is logged.
   */
  onRerun?(runId: string, error: Error): void;
}

interface Run {
  plan: DagPlan;
  /** This node's functions not yet finished. */
  open: Set<string>;
  inputs: Map<string, Map<string, UpstreamResult>>;
  started: Set<string>;
  /** Nodes this node sent the plan to (they need it only once). */
  planSentTo: Set<string>;
  expiresMs: number;
}

interface Waiting {
  nodes: string[];
  deadlineMs: number;
  /** What a timeout names: `DAG name`, or the function of a one-function plan (a class call). */
  label: string;
  resolve(bytes: Uint8Array | undefined): void;
  reject(error: Error): void;
}

/** Why an attempt ended without a result: retried on live nodes (and not on `node`). */
class AttemptFailed extends Error {
  readonly node: string | undefined;
  /** False when the attempt failed before any of its functions could start (its plan was not sent). */
  readonly started: boolean;
  constructor(message: string, node?: string, started = true) {
    super(message);
    this.node = node;
    this.started = started;
  }
}

const EARLY_INPUTS_MAX = 10_000;
const RUNS_MAX = 10_000;
const WATCH_INTERVAL_MS = 250;
/** How long a run's state outlives its deadline before it is dropped. */
const EXPIRY_GRACE_MS = 5000;
/** How long an ended run is remembered, so late messages for it are ignored. */
const ENDED_MEMORY_MS = 30_000;
const ENDED_MAX = 100_000;

export class DagRunner {
  readonly #deps: DagRunnerDeps;
  readonly #runs = new Map<string, Run>();
  /**
   * Runs that ended, so late messages cannot revive them: two generations of sets, the
   * older dropped when the newer is half of ENDED_MEMORY_MS old or ENDED_MAX / 2 large —
   * O(1) per run, where evicting the oldest entry of one big Map is not (V8 skips the
   * holes that deletions leave at its front).
   */
  #ended = new Set<string>();
  #endedBefore = new Set<string>();
  #endedSinceMs = 0;
  readonly #early = new Map<
    string,
    { fn: string; from: string; input: UpstreamResult; atMs: number }[]
  >();
  #earlyCount = 0;
  readonly #waiting = new Map<string, Waiting>();
  #watcher: NodeJS.Timeout | undefined;
  /** Functions of DAGs run on this node, by name (shown in status). */
  readonly functionsRun = new Map<string, number>();
  /** Milliseconds spent running each function since the last `takeBusyMs` (the autoscaler's input). */
  #busyMs = new Map<string, number>();

  constructor(deps: DagRunnerDeps) {
    this.#deps = deps;
  }

  get runsInFlight(): number {
    return this.#runs.size;
  }

  /** Time spent per function since the last call of this method. */
  takeBusyMs(): Map<string, number> {
    const busy = this.#busyMs;
    this.#busyMs = new Map();
    return busy;
  }

  /**
   * Coordinates one DAG call: plans, runs, re-runs after node failures. Resolves to the
   * sink's encoded result, or to undefined when the sink answered `base.reply` itself.
   */
  async execute(
    callId: string,
    base: Omit<DagPlan, 'runId' | 'placement' | 'coordinator'>,
    place: (excluded: Set<string>) => Record<string, string>,
    attemptsMax: number,
  ): Promise<Uint8Array | undefined> {
    const excluded = new Set<string>();
    const deadlineMs = this.#deps.nowMs() + base.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const plan: DagPlan = {
        ...base,
        runId: `${callId}.${attempt}`,
        placement: place(excluded),
        coordinator: this.#deps.nodeId,
        timeoutMs: Math.max(1, deadlineMs - this.#deps.nowMs()),
      };
      try {
        return await this.#attempt(plan, deadlineMs);
      } catch (error) {
        this.#cancelEverywhere(plan);
        if (!(error instanceof AttemptFailed) || attempt + 1 >= attemptsMax) {
          throw error instanceof AttemptFailed ? new UnavailableError(error.message) : error;
        }
        if (error.started) this.#deps.onRerun?.(plan.runId, error);
        if (error.node !== undefined) excluded.add(error.node);
        for (const node of new Set(Object.values(plan.placement))) {
          if (!this.#deps.alive(node)) excluded.add(node);
        }
      }
    }
  }

  /**
   * A linear DAG placed wholly on this node, coordinated here: one executor call runs the
   * whole chain, with no run state, plan or watcher, since there is nothing to route and no
   * other node whose loss would call for a re-run. The executor pool enforces the deadline.
   */
  async runHere(base: Omit<DagPlan, 'runId' | 'placement' | 'coordinator'>): Promise<Uint8Array> {
    const [first, ...rest] = base.dag.order;
    assert(first !== undefined && base.dag.linear, 'runHere needs a linear DAG');
    const fns = base.dag.order;
    this.#countRuns(fns);
    const startMs = this.#deps.nowMs();
    const options: RunOptions = {
      inputs: [],
      timeoutMs: base.timeoutMs,
      chain: chainOf(rest, base.args),
      awaitNext: true,
    };
    if (base.sendKey !== undefined) options.sendKey = base.sendKey;
    const bytes = await this.#deps.run(first, base.args[first]!, options);
    this.#countBusy(fns, this.#deps.nowMs() - startMs);
    if (base.outputKey !== undefined) await this.#deps.writeOutput(base.outputKey, bytes);
    return bytes;
  }

  /**
   * Whether `runHere` can run this DAG: linear, every later function chainable. Loops, not
   * closures, on this path: under tsx each closure made costs a `__name` definition.
   */
  canRunHere(dag: DagGraph): boolean {
    if (!dag.linear) return false;
    for (let i = 1; i < dag.order.length; i++)
      if (!this.#deps.chainable(dag.order[i]!)) return false;
    return true;
  }

  #attempt(plan: DagPlan, deadlineMs: number): Promise<Uint8Array | undefined> {
    const nodes = [...new Set(Object.values(plan.placement))];
    const { dag } = plan;
    const single = dag.functions.length === 1 && dag.functions[0] === dag.name;
    const label = single ? dag.name : `DAG ${dag.name}`;
    const result = new Promise<Uint8Array | undefined>((resolve, reject) => {
      this.#waiting.set(plan.runId, { nodes, deadlineMs, label, resolve, reject });
    });
    this.#watch();
    const self = this.#deps.nodeId;
    const sourceNodes = new Set(plan.dag.sources.map((fn) => plan.placement[fn]!));
    for (const node of sourceNodes) {
      if (node !== self && !this.#deps.send(node, { op: 'dag-plan', plan })) {
        this.#fail(
          plan.runId,
          // Its only node never got the plan: nothing ran, and a re-run repeats nothing.
          new AttemptFailed(`node ${node} is not a live member`, node, nodes.length > 1),
        );
      }
    }
    if (nodes.includes(self)) this.onPlan(plan);
    return result;
  }

  /**
   * The link to `node` was lost (its connection closed, or could not be made with messages
   * waiting): the attempts it takes part in may have lost messages, or — when it restarted
   * at once, never to be seen dead — all of its part of the run. They are run again now
   * rather than waiting out their deadline (found by QA: a node killed and restarted within
   * the failure detector's time left its calls hanging to their timeout).
   */
  onNodeLost(node: string): void {
    for (const [runId, waiting] of this.#waiting) {
      if (waiting.nodes.includes(node))
        this.#fail(
          runId,
          new AttemptFailed(`the link to node ${node} was lost during the DAG call`, node),
        );
    }
  }

  /** One timer watches every coordinated call for dead nodes and deadlines. */
  #watch(): void {
    if (this.#watcher !== undefined) return;
    this.#watcher = setInterval(() => {
      const nowMs = this.#deps.nowMs();
      for (const [runId, waiting] of this.#waiting) {
        const dead = waiting.nodes.find((node) => !this.#deps.alive(node));
        if (dead !== undefined)
          this.#fail(runId, new AttemptFailed(`node ${dead} died during the DAG call`, dead));
        else if (nowMs > waiting.deadlineMs)
          this.#fail(runId, new TimeoutError(`${waiting.label} ran past its timeout`));
      }
      if (this.#waiting.size === 0) {
        clearInterval(this.#watcher);
        this.#watcher = undefined;
      }
    }, WATCH_INTERVAL_MS);
  }

  #fail(runId: string, error: Error): void {
    const waiting = this.#waiting.get(runId);
    if (waiting === undefined) return;
    this.#waiting.delete(runId);
    waiting.reject(error);
  }

  #cancelEverywhere(plan: DagPlan): void {
    for (const node of new Set(Object.values(plan.placement))) {
      if (node === this.#deps.nodeId) this.onCancel(plan.runId);
      else this.#deps.send(node, { op: 'dag-cancel', runId: plan.runId });
    }
  }

  /** A plan arrived (or came along with an input): keep this node's part, start what can. */
  onPlan(plan: DagPlan): void {
    if (this.#runs.has(plan.runId) || this.#isEnded(plan.runId)) return;
    if (this.#runs.size >= RUNS_MAX) {
      this.#report(plan, {
        ok: false,
        error: errorToWire(new UnavailableError(`node runs ${RUNS_MAX} DAG calls, its limit`)),
      });
      return;
    }
    const self = this.#deps.nodeId;
    const fns = plan.dag.order.filter((fn) => plan.placement[fn] === self);
    const run: Run = {
      plan,
      open: new Set(fns),
      inputs: new Map(fns.map((fn) => [fn, new Map()])),
      started: new Set(),
      planSentTo: new Set(plan.dag.sources.map((fn) => plan.placement[fn]!)),
      expiresMs: this.#deps.nowMs() + plan.timeoutMs + EXPIRY_GRACE_MS,
    };
    this.#runs.set(plan.runId, run);
    if (fns.length === 0) this.#end(plan.runId);
    const early = this.#early.get(plan.runId);
    if (early !== undefined) {
      this.#early.delete(plan.runId);
      this.#earlyCount -= early.length;
      for (const e of early) this.onInput(plan.runId, e.fn, e.from, e.input);
    }
    for (const fn of fns) this.#maybeStart(run, fn);
  }

  /** A predecessor's result for `fn` of run `runId`. */
  onInput(runId: string, fn: string, from: string, input: UpstreamResult, plan?: DagPlan): void {
    if (this.#isEnded(runId)) return;
    if (!this.#runs.has(runId) && plan !== undefined) this.onPlan(plan);
    const run = this.#runs.get(runId);
    const inputs = run?.inputs.get(fn);
    if (run === undefined || inputs === undefined) {
      if (run === undefined) this.#keepEarly(runId, fn, from, input);
      return;
    }
    inputs.set(from, input);
    this.#maybeStart(run, fn);
  }

  /** The sink's result (or a failure) reached the coordinator. */
  onDone(runId: string, outcome: DagOutcome): void {
    if (!outcome.ok && outcome.lostNode !== undefined) {
      const { lostNode } = outcome;
      this.#fail(runId, new AttemptFailed(`node ${lostNode} could not be reached`, lostNode));
      return;
    }
    const waiting = this.#waiting.get(runId);
    if (waiting === undefined) return;
    this.#waiting.delete(runId);
    if (!outcome.ok) waiting.reject(errorFromWire(outcome.error));
    else waiting.resolve('bytes' in outcome ? outcome.bytes : undefined);
  }

  onCancel(runId: string): void {
    this.#end(runId);
    const early = this.#early.get(runId);
    if (early !== undefined) {
      this.#early.delete(runId);
      this.#earlyCount -= early.length;
    }
  }

  /** Drops runs past their deadline (their coordinator gave up or died). */
  sweep(): void {
    const nowMs = this.#deps.nowMs();
    for (const [runId, run] of this.#runs) if (run.expiresMs < nowMs) this.onCancel(runId);
    for (const [runId, inputs] of this.#early) {
      if (inputs.every((i) => nowMs - i.atMs > EXPIRY_GRACE_MS)) this.onCancel(runId);
    }
    if (nowMs - this.#endedSinceMs >= ENDED_MEMORY_MS / 2) this.#rotateEnded(nowMs);
  }

  #isEnded(runId: string): boolean {
    return this.#ended.has(runId) || this.#endedBefore.has(runId);
  }

  #end(runId: string): void {
    this.#runs.delete(runId);
    this.#ended.add(runId);
    if (this.#ended.size >= ENDED_MAX / 2) this.#rotateEnded(this.#deps.nowMs());
  }

  #rotateEnded(nowMs: number): void {
    this.#endedBefore = this.#ended;
    this.#ended = new Set();
    this.#endedSinceMs = nowMs;
  }

  #keepEarly(runId: string, fn: string, from: string, input: UpstreamResult): void {
    if (this.#earlyCount >= EARLY_INPUTS_MAX) return;
    const list = this.#early.get(runId) ?? [];
    list.push({ fn, from, input, atMs: this.#deps.nowMs() });
    this.#early.set(runId, list);
    this.#earlyCount += 1;
  }

  #maybeStart(run: Run, fn: string): void {
    if (run.started.has(fn)) return;
    const inputs = run.inputs.get(fn);
    const preds = run.plan.dag.predecessors[fn] ?? [];
    if (inputs === undefined || !preds.every((p) => inputs.has(p))) return;
    run.started.add(fn);
    const received = preds.map((p) => inputs.get(p)!);
    const snapshot =
      run.plan.consistency === 'repeatable-read'
        ? mergeSnapshots(received.map((input) => input.snapshot))
        : undefined;
    void this.#runFunction(
      run,
      fn,
      received.map((input) => input.bytes),
      snapshot,
    );
  }

  /**
   * Runs `fn` and, on the same executor call, the linear stretch after it that is placed
   * here too (each the only successor of the one before and with no other input): their
   * results then pass from function to function inside one thread, with no hop at all.
   */
  async #runFunction(
    run: Run,
    fn: string,
    inputs: Uint8Array[],
    snapshot: SnapshotEntry[] | undefined,
  ): Promise<void> {
    const { plan } = run;
    const chain = this.#chainAfter(run, fn);
    const last = chain.at(-1) ?? fn;
    for (const f of [fn, ...chain]) run.started.add(f);
    this.#countRuns([fn, ...chain]);
    const steps = chain.map((f) => ({ name: f, args: plan.args[f]! }));
    let bytes: Uint8Array;
    let reads: SnapshotEntry[] = [];
    const startMs = this.#deps.nowMs();
    try {
      const options: RunOptions = {
        inputs,
        timeoutMs: plan.timeoutMs,
        chain: steps,
        // Only an answer given from here is followed soon by this node's next call.
        awaitNext: last === plan.dag.sink && plan.coordinator === this.#deps.nodeId,
        // The call's id without the attempt's number: a re-run sends under the same ids.
        sendKey: plan.sendKey ?? plan.runId.slice(0, plan.runId.lastIndexOf('.')),
      };
      if (plan.consistency === 'causal') options.consistency = 'causal';
      if (plan.holding !== undefined) options.holding = plan.holding;
      if (snapshot !== undefined) {
        options.snapshot = snapshot;
        options.onReads = (fresh) => {
          reads = fresh;
        };
      }
      bytes = await this.#deps.run(fn, plan.args[fn]!, options);
      this.#countBusy([fn, ...chain], this.#deps.nowMs() - startMs);
      if (this.#runs.get(plan.runId) !== run) return;
      if (last === plan.dag.sink && plan.outputKey !== undefined)
        await this.#deps.writeOutput(plan.outputKey, bytes);
    } catch (error) {
      this.#finish(run, [fn, ...chain]);
      this.#report(plan, { ok: false, error: errorToWire(error) });
      return;
    }
    this.#finish(run, [fn, ...chain]);
    if (last === plan.dag.sink) {
      this.#report(
        plan,
        this.#answered(plan, bytes) ? { ok: true, answered: true } : { ok: true, bytes },
      );
      return;
    }
    const output: UpstreamResult = { bytes };
    if (snapshot !== undefined) output.snapshot = [...snapshot, ...reads];
    for (const next of plan.dag.successors[last] ?? []) this.#forward(run, next, last, output);
  }

  #countRuns(fns: readonly string[]): void {
    for (const fn of fns) this.functionsRun.set(fn, (this.functionsRun.get(fn) ?? 0) + 1);
  }

  #countBusy(fns: readonly string[], ms: number): void {
    for (const fn of fns) this.#busyMs.set(fn, (this.#busyMs.get(fn) ?? 0) + ms / fns.length);
  }

  #chainAfter(run: Run, fn: string): string[] {
    const { dag, placement } = run.plan;
    const chain: string[] = [];
    for (let last = fn; ; ) {
      const successors = dag.successors[last] ?? [];
      const next = successors[0];
      if (
        successors.length !== 1 ||
        next === undefined ||
        placement[next] !== this.#deps.nodeId ||
        (dag.predecessors[next] ?? []).length !== 1 ||
        !this.#deps.chainable(next)
      )
        return chain;
      chain.push(next);
      last = next;
    }
  }

  #forward(run: Run, fn: string, from: string, output: UpstreamResult): void {
    const { plan } = run;
    const node = plan.placement[fn]!;
    if (node === this.#deps.nodeId) {
      this.onInput(plan.runId, fn, from, output);
      return;
    }
    if (output.bytes.length > this.#deps.inputBytesMax) {
      // Too large for one frame between nodes: a clear failure now, not a lost message.
      const error = new ValidationError(
        `the result of ${from} (${output.bytes.length} bytes) is too large to pass to ${fn} on ` +
          `another node (at most ${this.#deps.inputBytesMax} bytes): place both on one node, ` +
          'or pass a key (ref) to the data instead',
      );
      this.#report(plan, { ok: false, error: errorToWire(error) });
      return;
    }
    const message: DagMessage = { op: 'dag-input', runId: plan.runId, fn, from, ...output };
    if (!run.planSentTo.has(node)) {
      message.plan = plan;
      run.planSentTo.add(node);
    }
    if (!this.#deps.send(node, message)) {
      this.#report(plan, {
        ok: false,
        error: errorToWire(new UnavailableError(`node ${node} is not a live member`)),
        lostNode: node,
      });
    }
  }

  /** `fns` finished here; a run whose functions all finished here is forgotten. */
  #finish(run: Run, fns: string[]): void {
    for (const fn of fns) run.open.delete(fn);
    if (run.open.size === 0 && this.#runs.get(run.plan.runId) === run) this.#end(run.plan.runId);
  }

  /**
   * A sink away from the coordinator answers the client itself when the client holds a
   * connection to this node: one hop less than through the coordinator (Cloudburst's sink
   * answers the caller). The coordinator only hears that it was answered.
   */
  #answered(plan: DagPlan, bytes: Uint8Array): boolean {
    return (
      plan.reply !== undefined &&
      plan.coordinator !== this.#deps.nodeId &&
      this.#deps.answer(plan.reply, bytes)
    );
  }

  #report(plan: DagPlan, outcome: DagOutcome): void {
    if (plan.coordinator === this.#deps.nodeId) {
      this.onDone(plan.runId, outcome);
      return;
    }
    let sent = outcome;
    if ('bytes' in sent && sent.bytes.length > this.#deps.inputBytesMax) {
      const error = new ValidationError(
        `the result of DAG ${plan.dag.name} (${sent.bytes.length} bytes) is too large to send ` +
          `from its sink's node to the node that took the call (at most ${this.#deps.inputBytesMax} bytes)`,
      );
      sent = { ok: false, error: errorToWire(error) };
    }
    this.#deps.send(plan.coordinator, { op: 'dag-done', runId: plan.runId, outcome: sent });
  }
}

/**
 * The versions a function with several inputs reads: each key as its first predecessor (in
 * edge order) that read it saw it, so the choice never depends on arrival order — unless a
 * predecessor wrote the key, which then reads as stored.
 */
function mergeSnapshots(lists: (SnapshotEntry[] | undefined)[]): SnapshotEntry[] {
  if (lists.length === 1) return lists[0] ?? [];
  const merged = new Map<string, SnapshotEntry[1]>();
  for (const list of lists) {
    for (const [key, bytes] of list ?? [])
      if (bytes === WROTE || !merged.has(key)) merged.set(key, bytes);
  }
  return [...merged];
}

/** The chained steps of a linear run; a loop, for the same reason as in `canRunHere`. */
function chainOf(fns: string[], args: Record<string, Uint8Array>): RunOptions['chain'] {
  const chain: RunOptions['chain'] = [];
  for (const fn of fns) chain.push({ name: fn, args: args[fn]! });
  return chain;
}
