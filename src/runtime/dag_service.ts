/**
 * DAGs as users see them (SPEC.md: registerDag, callDag, deleteDag, listDags): the DAG
 * registry in the KVS (`__squall/dag/NAME`, on every node) and its pins (dag_pins.ts), the
 * checks on a call's arguments and options, the scheduler's placement, load reports, the
 * offloading of single calls from a busy node (`callOne`), and the peer messages of a
 * run, each validated before use. The run itself is DagRunner's.
 */

import { type SnapshotEntry, WROTE } from '../actors/index.js';
import { NotFoundError, parseWireError, ValidationError } from '../errors.js';
import { decode, encodeOwned, Ref } from '../storage/index.js';
import type { Pins } from './autoscaler.js';
import type { Cluster } from './cluster.js';
import { buildDag, type DagGraph, parseDagGraph } from './dag_graph.js';
import { DagPins, parseNodeLoad } from './dag_pins.js';
import {
  type DagMessage,
  type DagOutcome,
  type DagPlan,
  type DagReply,
  DagRunner,
  type DagRunnerDeps,
  type UpstreamResult,
} from './dag_runner.js';
import { KeySummary } from './key_summary.js';
import { checkUserKey, type NodeStore } from './node_store.js';
import { ParsedCache } from './parsed_cache.js';
import { CLASS_AT_PREFIX, DAG_PREFIX } from './placement.js';
import { CLIENT_ID_CHARS_MAX, SEND_KEY_CHARS_MAX } from './protocol.js';
import { Scheduler } from './scheduler.js';
import { isRecord, requireKey, requireName } from './validate.js';

export interface DagCallOptions {
  consistency?: string;
  outputKey?: string;
  timeoutMs: number;
  /** Explicit placement (function → node id), for tests and benchmarks. */
  placement?: Record<string, string>;
  /** The client request being served: a sink on another node may answer it directly. */
  reply?: DagReply;
  /** DagPlan.sendKey. */
  sendKey?: string;
}

export interface DagServiceDeps {
  nodeId: string;
  store: NodeStore;
  cluster: () => Cluster;
  isRegistered(name: string): boolean;
  run: DagRunnerDeps['run'];
  chainable: DagRunnerDeps['chainable'];
  answer: DagRunnerDeps['answer'];
  isClass(fn: string): boolean;
  /** The largest frame between nodes (`frameBytesMax`). */
  frameBytesMax: number;
  /** This node's executors, their recent utilisation (0..1) and the keys its cache holds. */
  load(): {
    utilisation: number;
    executors: number;
    cachedKeys: Iterable<string>;
    cachedCount: number;
  };
  log: { warn(fields: object, message: string): void };
}

const RECEIVED_GRAPHS_MAX = 1024;
/** Not a stored key: a name hashed on the ring to pick a class's first home node. */
const CLASS_HOME_PREFIX = '__squall/class-home/';
const NONE: ReadonlySet<string> = new Set();
/** Room left in a frame beside a result passed to another node (the plan, the snapshot). */
const FRAME_HEADROOM_BYTES = 1024 * 1024;

/** The arguments of a function the caller passed none: shared, as nothing writes or transfers them. */
const NO_ARGS = encodeOwned([]);

/** Earlier homes of a class remembered (their fallback mailboxes are still read). */
const HOMES_KEPT = 8;

/** The most class turns a nested call's chain may carry (deeper chains are not sane). */
const HOLDING_MAX = 1024;

/** DAG calls are re-run at most this many times after a node fails under them. */
const ATTEMPTS_MAX = 3;

export class DagService {
  readonly #deps: DagServiceDeps;
  readonly runner: DagRunner;
  readonly #scheduler = new Scheduler({}, { random: Math.random });
  readonly pins: DagPins;
  #calls = 0;
  #lastReportMs = Date.now();
  readonly #parsed = new ParsedCache((stored) => parseDagGraph(stored));
  /** Graphs received in plans, by name. */
  readonly #received = new Map<string, DagGraph>();
  /** One-function graphs of single calls run on other nodes. */
  readonly #singles = new Map<string, DagGraph>();

  constructor(deps: DagServiceDeps) {
    this.#deps = deps;
    this.pins = new DagPins(deps);
    this.runner = new DagRunner({
      nodeId: deps.nodeId,
      run: deps.run,
      chainable: deps.chainable,
      // A plan goes to live members only (the runner re-places it if not); the rest of a run
      // goes to nodes that took part in it a moment ago, which this node may still think
      // dead (one that restarted and rejoined, say): sent all the same, not dropped.
      send: (node, message) =>
        deps.cluster().sendNode(node, 'dag', toWire(message), message.op !== 'dag-plan'),
      writeOutput: async (key, bytes) => {
        await deps.cluster().write(key, { kind: 'lww', value: decode(bytes) });
      },
      answer: deps.answer,
      inputBytesMax: deps.frameBytesMax - FRAME_HEADROOM_BYTES,
      alive: (node) => deps.cluster().isAlive(node),
      nowMs: Date.now,
      onRerun: (runId, error) =>
        deps.log.warn(
          { run: runId, reason: error.message },
          'a call attempt failed: running it again',
        ),
    });
  }

  get callsStarted(): number {
    return this.#calls;
  }

  get(name: string): DagGraph | undefined {
    return this.#parsed.get(name, this.#deps.store.read(DAG_PREFIX + name));
  }

  list(): string[] {
    const names: string[] = [];
    for (const key of this.#deps.store.keys(DAG_PREFIX)) {
      if (this.#deps.store.read(key) !== null) names.push(key.slice(DAG_PREFIX.length));
    }
    return names.sort();
  }

  async register(name: unknown, functions: unknown, edges: unknown): Promise<DagGraph> {
    const graph = buildDag({ name, functions, edges }, this.#deps.isRegistered);
    await this.#deps.cluster().write(DAG_PREFIX + graph.name, { kind: 'lww', value: graph }, 'all');
    // First pins: the scheduler's choice without its random share (a chain on one node).
    const placement = this.#place(graph, {}, new Set(), { randomShare: 0 });
    const pins = Object.fromEntries(graph.functions.map((fn) => [fn, [placement[fn]!]]));
    await this.pins.write(graph.name, pins, 'all');
    return graph;
  }

  async delete(name: string): Promise<void> {
    requireName(name, 'DAG name');
    if (this.get(name) === undefined) throw new NotFoundError(`DAG ${name} is not registered`);
    await this.#deps.cluster().write(DAG_PREFIX + name, { kind: 'lww', value: null }, 'all');
    await this.pins.write(name, null, 'all');
  }

  /** Runs a DAG; `args` is the encoded `{ fn: [args] }` record. */
  call(
    name: string,
    args: Uint8Array,
    options: Omit<DagCallOptions, 'reply'>,
  ): Promise<Uint8Array> {
    return this.answer(name, args, options).then(requireBytes);
  }

  /**
   * `call` for a client request (`options.reply`): resolves to undefined when the sink's
   * node answered the client itself, so the caller must not answer again.
   */
  answer(name: string, args: Uint8Array, options: DagCallOptions): Promise<Uint8Array | undefined> {
    const dag = this.get(requireName(name, 'DAG name'));
    if (dag === undefined)
      return Promise.reject(new NotFoundError(`DAG ${name} is not registered`));
    const consistency = options.consistency ?? 'lww';
    if (consistency !== 'lww' && consistency !== 'repeatable-read' && consistency !== 'causal') {
      return Promise.reject(
        new ValidationError(
          `consistency ${JSON.stringify(consistency)} is not one of 'lww', 'repeatable-read', 'causal'`,
        ),
      );
    }
    if (options.outputKey !== undefined) checkUserKey(requireKey(options.outputKey));
    const { encoded, refs } = splitArgs(dag, args);
    const fixed =
      options.placement === undefined ? undefined : this.#checkPlacement(dag, options.placement);
    this.#calls += 1;
    const base: Omit<DagPlan, 'runId' | 'placement' | 'coordinator'> = {
      dag,
      args: encoded,
      timeoutMs: options.timeoutMs,
    };
    if (options.outputKey !== undefined) base.outputKey = options.outputKey;
    if (consistency !== 'lww') base.consistency = consistency;
    if (options.reply !== undefined) base.reply = options.reply;
    if (options.sendKey !== undefined) base.sendKey = options.sendKey;
    const pins = this.pins.get(name);
    if (base.consistency === undefined && this.#wholeHere(dag, fixed, pins, refs))
      return this.runner.runHere(base);
    const callId = `${this.#deps.nodeId}.${this.#calls}.${Date.now().toString(36)}`;
    return this.runner.execute(
      callId,
      base,
      (excluded) => this.#placeAttempt(dag, refs, excluded, pins, fixed),
      ATTEMPTS_MAX,
    );
  }

  /**
   * Whether the scheduler would place every function here whatever the load — each fixed
   * here or pinned here alone, with no referenced keys to draw it elsewhere — and the DAG
   * can run as one chain on one executor (the common case of a DAG on one node).
   */
  #wholeHere(
    dag: DagGraph,
    fixed: Record<string, string> | undefined,
    pins: Pins | undefined,
    refs: Record<string, string[]>,
  ): boolean {
    // A loop, not a closure: this runs for every DAG call, and under tsx each closure
    // made costs a `__name` definition (≈ 1.7 µs a call here).
    for (const fn of dag.functions) if (!this.#placedHere(fn, fixed, pins, refs)) return false;
    return this.runner.canRunHere(dag);
  }

  #placedHere(
    fn: string,
    fixed: Record<string, string> | undefined,
    pins: Pins | undefined,
    refs: Record<string, string[]>,
  ): boolean {
    const self = this.#deps.nodeId;
    if (fixed !== undefined) return fixed[fn] === self;
    if (this.#deps.isClass(fn)) return this.#homeOf(fn) === self;
    const pinned = pins !== undefined && Object.hasOwn(pins, fn) ? pins[fn] : undefined;
    return pinned?.length === 1 && pinned[0] === self && refs[fn]?.length === 0;
  }

  /**
   * Whether `callOne` would run the call here at once (the common case, which then needs
   * no `here` closure): an unknown name (it fails here), or a function while this node is
   * not busy.
   */
  runsHere(name: string, nowMs = Date.now()): boolean {
    if (!this.#deps.isRegistered(name)) return true;
    return !this.#deps.isClass(name) && !this.#scheduler.busy(this.#deps.nodeId, nowMs);
  }

  /**
   * A single call (from a client or a function): run `here`, unless this node reported
   * itself busy (utilisation above the threshold), another live node did not, and the
   * function is not a class — then
   * on the least loaded such node, as a one-function plan, so that it is re-run elsewhere
   * (at most ATTEMPTS_MAX times) if that node dies under it.
   */
  callOne(
    name: string,
    args: Uint8Array,
    timeoutMs: number,
    here: () => Promise<Uint8Array>,
    holding?: string[],
    sendKey?: string,
  ): Promise<Uint8Array> {
    const self = this.#deps.nodeId;
    const nowMs = Date.now();
    if (this.runsHere(name, nowMs)) return here();
    if (this.#deps.isClass(name)) {
      const call = () => this.#callClass(name, args, timeoutMs, here, holding, sendKey);
      // A node that is still joining learns where the class lives first (briefly).
      return this.#deps.cluster().joining ? this.#deps.cluster().whenJoined().then(call) : call();
    }
    const cluster = this.#deps.cluster();
    if (!cluster.liveNodes().some((n) => n !== self && !this.#scheduler.busy(n, nowMs)))
      return here();
    const dag = this.#singleGraph(name);
    const place = (excluded: Set<string>) => {
      const live = cluster.liveNodes().filter((n) => !excluded.has(n));
      const nodes = live.length > 0 ? live : [self];
      return this.#scheduler.place(dag.order, dag.predecessors, {}, nodes, () => false, nowMs, {
        randomShare: 0,
      });
    };
    return this.#runAlone(name, args, timeoutMs, place, holding, sendKey);
  }

  /** One instance per class in the cluster, on its home node: its state is there. */
  #callClass(
    name: string,
    args: Uint8Array,
    timeoutMs: number,
    here: () => Promise<Uint8Array>,
    holding: string[] | undefined,
    sendKey: string | undefined,
  ): Promise<Uint8Array> {
    if (this.#homeOf(name) === this.#deps.nodeId) return here();
    const place = (excluded: Set<string>) => ({ [name]: this.#homeOf(name, excluded) });
    return this.#runAlone(name, args, timeoutMs, place, holding, sendKey);
  }

  /** A single call as a one-function plan placed by `place`, re-run elsewhere if its node dies. */
  #runAlone(
    name: string,
    args: Uint8Array,
    timeoutMs: number,
    place: (excluded: Set<string>) => Record<string, string>,
    holding: string[] | undefined,
    sendKey: string | undefined,
  ): Promise<Uint8Array> {
    const nowMs = Date.now();
    this.#calls += 1;
    const callId = `${this.#deps.nodeId}.${this.#calls}.${nowMs.toString(36)}`;
    const base: Omit<DagPlan, 'runId' | 'placement' | 'coordinator'> = {
      dag: this.#singleGraph(name),
      args: Object.fromEntries([[name, args]]),
      timeoutMs,
    };
    if (holding !== undefined) base.holding = holding;
    if (sendKey !== undefined) base.sendKey = sendKey;
    return this.runner.execute(callId, base, place, ATTEMPTS_MAX).then(requireBytes);
  }

  /** The node where class `name`'s instance lives (see #homeOf). */
  homeOfClass(name: string): string {
    return this.#homeOf(name);
  }

  /**
   * The node where a class's instance lives, so that every node sends its calls — and its
   * DAGs place it — to the same instance. Its first home is the first live node, on the
   * ring, for its name; that choice is then stored (`__squall/class-at/NAME`, on every
   * node) and kept while that node lives, so nodes joining the ring do not move the
   * instance and reset its state. Only when the home dies or leaves (or failed a re-run's
   * attempt: `excluded`) is a new one chosen the same way, and said so in the log.
   */
  #homeOf(name: string, excluded: ReadonlySet<string> = NONE): string {
    const cluster = this.#deps.cluster();
    const usable = (n: string) => !excluded.has(n) && cluster.isAlive(n);
    const claimed = homeClaim(this.#deps.store.read(CLASS_AT_PREFIX + name));
    if (claimed !== undefined && !excluded.has(claimed) && !cluster.isGone(claimed)) return claimed;
    const { ring } = cluster.view;
    const home =
      ring.owners(CLASS_HOME_PREFIX + name, ring.size).find(usable) ??
      cluster.liveNodes().sort().find(usable) ??
      this.#deps.nodeId;
    // A node still joining sees too little of the cluster to move a class for everyone.
    if (!cluster.joining) this.#claimHome(name, home, claimed);
    return home;
  }

  /** Stores a class's new home (one write in flight per class), logging a move. */
  #claimHome(name: string, home: string, previous: string | undefined): void {
    if (this.#homesClaiming.has(name)) return;
    this.#homesClaiming.add(name);
    if (previous !== undefined && previous !== home) {
      this.#deps.log.warn(
        { class: name, from: previous, to: home },
        `class ${name}'s home node ${previous} is gone: its instance starts over on ${home}`,
      );
    }
    // The homes before it are kept too: mail sent to one while it was unreachable waits in
    // its fallback mailbox, and the new home collects it from there (messaging.ts).
    const before = previous === undefined || previous === home ? [] : [previous];
    const earlier = this.previousHomes(name, Number.POSITIVE_INFINITY).filter(
      (n) => n !== home && n !== previous,
    );
    const value = {
      node: home,
      before: [...before, ...earlier].slice(0, HOMES_KEPT),
      movedMs: Date.now(),
    };
    this.#deps
      .cluster()
      .write(CLASS_AT_PREFIX + name, { kind: 'lww', value })
      .catch((error: unknown) =>
        this.#deps.log.warn({ class: name, err: error }, `could not store class ${name}'s home`),
      )
      .finally(() => this.#homesClaiming.delete(name));
  }

  readonly #homesClaiming = new Set<string>();

  /**
   * The nodes class `name` lived on before its current home, the latest first — if it
   * moved there less than `withinMs` ago (older mail at those homes has expired).
   */
  previousHomes(name: string, withinMs: number): string[] {
    const value = this.#deps.store.read(CLASS_AT_PREFIX + name);
    if (!isRecord(value) || !Array.isArray(value.before)) return [];
    const movedMs = typeof value.movedMs === 'number' ? value.movedMs : 0;
    if (Date.now() - movedMs > withinMs) return [];
    return value.before.filter((n): n is string => typeof n === 'string');
  }

  #singleGraph(name: string): DagGraph {
    let graph = this.#singles.get(name);
    if (graph === undefined) {
      graph = parseDagGraph({ name, functions: [name], edges: [] });
      if (this.#singles.size >= RECEIVED_GRAPHS_MAX) this.#singles.clear();
      this.#singles.set(name, graph);
    }
    return graph;
  }

  /** Serves a one-way DAG message from another node (validated first). */
  fromPeer(wire: unknown): void {
    if (!isRecord(wire) || typeof wire.runId !== 'string')
      throw new ValidationError('malformed DAG message');
    const runId = wire.runId;
    switch (wire.op) {
      case 'dag-plan':
        this.runner.onPlan(this.#parsePlan(wire.plan));
        return;
      case 'dag-input': {
        if (
          typeof wire.fn !== 'string' ||
          typeof wire.from !== 'string' ||
          !(wire.bytes instanceof Uint8Array)
        ) {
          throw new ValidationError('malformed DAG input');
        }
        const plan = wire.plan === undefined ? undefined : this.#parsePlan(wire.plan);
        const input: UpstreamResult = { bytes: wire.bytes };
        if (wire.snapshot !== undefined) input.snapshot = parseSnapshot(wire.snapshot);
        this.runner.onInput(runId, wire.fn, wire.from, input, plan);
        return;
      }
      case 'dag-done':
        this.runner.onDone(runId, parseOutcome(wire.outcome));
        return;
      case 'dag-cancel':
        this.runner.onCancel(runId);
        return;
      default:
        throw new ValidationError('malformed DAG message');
    }
  }

  #parsePlan(wire: unknown): DagPlan {
    if (!isRecord(wire) || !isRecord(wire.dag)) throw new ValidationError('malformed DAG plan');
    return parsePlan(wire, this.#graphOf(wire.dag));
  }

  /** A received graph, parsed once per distinct shape (every hop of a call carries it). */
  #graphOf(spec: Record<string, unknown>): DagGraph {
    const name = typeof spec.name === 'string' ? spec.name : '';
    const known = this.#received.get(name);
    if (known !== undefined && sameSpec(known, spec)) return known;
    const graph = parseDagGraph(spec);
    if (this.#received.size >= RECEIVED_GRAPHS_MAX) this.#received.clear();
    this.#received.set(graph.name, graph);
    return graph;
  }

  /**
   * Tells the other nodes this node's load, its cached keys and the time its DAG functions
   * took (about once a second), then lets the autoscaler look at the pins.
   */
  reportLoad(nowMs: number): void {
    const load = this.#deps.load();
    const summary = KeySummary.sized(Math.max(1, load.cachedCount), 0.01);
    for (const key of load.cachedKeys) summary.add(key);
    const windowMs = Math.max(1, nowMs - this.#lastReportMs);
    this.#lastReportMs = nowMs;
    const busyMsPerS: Record<string, number> = {};
    for (const [fn, ms] of this.runner.takeBusyMs()) busyMsPerS[fn] = (ms * 1000) / windowMs;
    const report = { utilisation: load.utilisation, executors: load.executors, busyMsPerS };
    this.#scheduler.report(this.#deps.nodeId, load.utilisation, summary, nowMs);
    this.pins.report(this.#deps.nodeId, report, nowMs);
    this.#deps.cluster().broadcast('load', { ...report, summary: summary.toBytes() });
    const dags = this.list()
      .map((name) => this.get(name))
      .filter((dag) => dag !== undefined);
    this.pins.autoscale(dags, nowMs);
  }

  /** A load report from another node. */
  onLoad(nodeId: string | undefined, message: unknown, nowMs: number): void {
    if (nodeId === undefined || !isRecord(message)) return;
    const load = parseNodeLoad(message);
    if (load === undefined) return;
    const summary =
      message.summary instanceof Uint8Array ? KeySummary.fromBytes(message.summary) : undefined;
    this.#scheduler.report(nodeId, load.utilisation, summary, nowMs);
    this.pins.report(nodeId, load, nowMs);
  }

  /**
   * Where an attempt runs. A placement the caller fixed is kept while its nodes serve (the
   * scheduler is not asked then); a function whose node failed an attempt (or died) is
   * re-run where the scheduler puts it.
   */
  #placeAttempt(
    dag: DagGraph,
    refs: Record<string, string[]>,
    excluded: Set<string>,
    pins: Pins | undefined,
    fixed: Record<string, string> | undefined,
  ): Record<string, string> {
    const cluster = this.#deps.cluster();
    let usable = fixed !== undefined;
    if (fixed !== undefined) {
      for (const fn of dag.functions) {
        const node = fixed[fn]!;
        if (excluded.has(node) || !cluster.isAlive(node)) usable = false;
      }
    }
    if (usable) return fixed!;
    const placed = this.#place(dag, refs, excluded, { pins });
    if (fixed === undefined) return placed;
    const placement: Record<string, string> = {};
    for (const fn of dag.functions) {
      const node = fixed[fn]!;
      placement[fn] = !excluded.has(node) && cluster.isAlive(node) ? node : placed[fn]!;
    }
    return placement;
  }

  #place(
    dag: DagGraph,
    refs: Record<string, string[]>,
    excluded: Set<string>,
    options: { pins?: Pins | undefined; randomShare?: number },
  ): Record<string, string> {
    const cluster = this.#deps.cluster();
    const live = cluster.liveNodes().filter((n) => !excluded.has(n));
    const nodes = live.length > 0 ? live : [this.#deps.nodeId];
    const holds = (node: string, key: string) => cluster.owners(key).includes(node);
    const { pins, randomShare } = options;
    const placement = this.#scheduler.place(
      dag.order,
      dag.predecessors,
      refs,
      nodes,
      holds,
      Date.now(),
      placeOptions(pins, randomShare),
    );
    for (const fn of dag.functions)
      if (this.#deps.isClass(fn)) placement[fn] = this.#homeOf(fn, excluded);
    return placement;
  }

  #checkPlacement(dag: DagGraph, placement: Record<string, string>): Record<string, string> {
    const cluster = this.#deps.cluster();
    for (const fn of Object.keys(placement)) {
      if (!dag.functions.includes(fn))
        throw new ValidationError(`placement names ${fn}, which DAG ${dag.name} does not have`);
    }
    const fixed: Record<string, string> = {};
    for (const fn of dag.functions) {
      const node = placement[fn] ?? this.#deps.nodeId;
      if (!cluster.isAlive(node))
        throw new NotFoundError(`placement of ${fn}: ${node} is not a live node`);
      fixed[fn] = node;
    }
    return fixed;
  }
}

/** The scheduler's options, without spreads (this runs for every DAG call placed). */
function placeOptions(
  pins: Pins | undefined,
  randomShare: number | undefined,
): { pins?: Pins; randomShare?: number } {
  const options: { pins?: Pins; randomShare?: number } = {};
  if (pins !== undefined) options.pins = pins;
  if (randomShare !== undefined) options.randomShare = randomShare;
  return options;
}

/** Splits the caller's `{ fn: args }` into each function's encoded arguments and its refs. */
function splitArgs(
  dag: DagGraph,
  bytes: Uint8Array,
): { encoded: Record<string, Uint8Array>; refs: Record<string, string[]> } {
  let record: unknown;
  try {
    record = decode(bytes);
  } catch {
    throw new ValidationError('DAG arguments are not valid CBOR');
  }
  if (!isRecord(record))
    throw new ValidationError('DAG arguments must be an object { function: [args] }');
  for (const [fn, args] of Object.entries(record)) {
    if (!dag.functions.includes(fn))
      throw new ValidationError(`DAG ${dag.name} has no function ${fn}`);
    if (!Array.isArray(args)) throw new ValidationError(`arguments of ${fn} must be an array`);
  }
  // Null-prototype records: a function may be named like an Object.prototype member
  // (`constructor`, `__proto__`), which plain assignment to `{}` would not store.
  const encoded: Record<string, Uint8Array> = Object.create(null);
  const refs: Record<string, string[]> = Object.create(null);
  for (const fn of dag.functions) {
    const args = Object.hasOwn(record, fn) ? (record[fn] as unknown[]) : undefined;
    // Posted to an executor: a buffer of its own, or the whole codec slab is cloned along.
    encoded[fn] = args === undefined ? NO_ARGS : encodeOwned(args);
    const keys: string[] = [];
    for (const arg of args ?? []) if (arg instanceof Ref) keys.push(arg.key);
    refs[fn] = keys;
  }
  return { encoded, refs };
}

function parsePlan(payload: Record<string, unknown>, dag: DagGraph): DagPlan {
  if (typeof payload.runId !== 'string') throw new ValidationError('malformed DAG plan');
  const args = payload.args;
  const placement = payload.placement;
  if (!isRecord(args) || !isRecord(placement) || typeof payload.coordinator !== 'string') {
    throw new ValidationError('malformed DAG plan');
  }
  if (typeof payload.timeoutMs !== 'number' || !(payload.timeoutMs > 0))
    throw new ValidationError('malformed DAG plan');
  for (const fn of dag.functions) {
    if (!(args[fn] instanceof Uint8Array) || typeof placement[fn] !== 'string')
      throw new ValidationError('malformed DAG plan');
  }
  const plan: DagPlan = {
    runId: payload.runId as string,
    dag,
    args: args as Record<string, Uint8Array>,
    placement: placement as Record<string, string>,
    coordinator: payload.coordinator,
    timeoutMs: payload.timeoutMs,
  };
  if (typeof payload.outputKey === 'string') plan.outputKey = requireKey(payload.outputKey);
  if (payload.reply !== undefined) plan.reply = parseReply(payload.reply);
  if (payload.consistency === 'repeatable-read' || payload.consistency === 'causal')
    plan.consistency = payload.consistency;
  if (payload.holding !== undefined) plan.holding = parseNames(payload.holding);
  if (payload.sendKey !== undefined) plan.sendKey = parseSendKey(payload.sendKey);
  return plan;
}

/** What a repeatable-read run read (or wrote) so far: [key, encoded value, null or WROTE]. */
function parseSnapshot(wire: unknown): SnapshotEntry[] {
  if (!Array.isArray(wire)) throw new ValidationError('malformed DAG snapshot');
  return wire.map((entry: unknown): SnapshotEntry => {
    const [key, bytes] = Array.isArray(entry) ? entry : [];
    if (
      typeof key !== 'string' ||
      !(bytes === null || bytes === WROTE || bytes instanceof Uint8Array)
    )
      throw new ValidationError('malformed DAG snapshot');
    return [requireKey(key), bytes];
  });
}

/** A result for a call that named no client to answer: the sink cannot have answered it. */
function requireBytes(bytes: Uint8Array | undefined): Uint8Array {
  if (bytes === undefined)
    throw new Error('a call without a client to answer was answered directly');
  return bytes;
}

function parseReply(wire: unknown): DagReply {
  if (
    !isRecord(wire) ||
    typeof wire.client !== 'string' ||
    wire.client.length > CLIENT_ID_CHARS_MAX ||
    !Number.isSafeInteger(wire.id)
  )
    throw new ValidationError('malformed DAG plan');
  return { client: wire.client, id: wire.id as number };
}

/** A plan's `sendKey`: message ids derive from it, and carry it (messaging.ts bounds ids). */
function parseSendKey(wire: unknown): string {
  if (typeof wire !== 'string' || wire.length === 0 || wire.length > SEND_KEY_CHARS_MAX)
    throw new ValidationError('malformed DAG plan');
  return wire;
}

/** A plan's `holding`: function names, a bounded list of them. */
function parseNames(wire: unknown): string[] {
  if (
    !Array.isArray(wire) ||
    wire.length > HOLDING_MAX ||
    !wire.every((n) => typeof n === 'string')
  )
    throw new ValidationError('malformed DAG plan');
  return wire as string[];
}

/** The node id in a stored `__squall/class-at/` value, if it is one. */
function homeClaim(value: unknown): string | undefined {
  return isRecord(value) && typeof value.node === 'string' ? value.node : undefined;
}

function parseOutcome(payload: unknown): DagOutcome {
  if (!isRecord(payload)) throw new ValidationError('malformed DAG outcome');
  if (payload.ok === true && payload.bytes instanceof Uint8Array)
    return { ok: true, bytes: payload.bytes };
  if (payload.ok === true && payload.answered === true) return { ok: true, answered: true };
  const error = payload.ok === false ? parseWireError(payload.error) : undefined;
  if (error === undefined) throw new ValidationError('malformed DAG outcome');
  return typeof payload.lostNode === 'string'
    ? { ok: false, error, lostNode: payload.lostNode }
    : { ok: false, error };
}

/** A DAG message as it travels: a graph goes as its spec (the receiver re-derives the rest). */
function toWire(message: DagMessage): unknown {
  const plan = 'plan' in message ? message.plan : undefined;
  if (plan === undefined) return message;
  const { name, functions, edges } = plan.dag;
  return { ...message, runId: plan.runId, plan: { ...plan, dag: { name, functions, edges } } };
}

function sameSpec(graph: DagGraph, spec: Record<string, unknown>): boolean {
  const sameList = (a: readonly unknown[], b: unknown) =>
    Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]);
  const edges = spec.edges;
  return (
    sameList(graph.functions, spec.functions) &&
    Array.isArray(edges) &&
    edges.length === graph.edges.length &&
    graph.edges.every(([from, to], i) => {
      const edge: unknown = edges[i];
      return Array.isArray(edge) && edge.length === 2 && edge[0] === from && edge[1] === to;
    })
  );
}
