/**
 * DAGs as users see them (SPEC.md: registerDag, callDag, deleteDag, listDags): the DAG
 * registry in the KVS (`__squall/dag/NAME`, on every node), the checks on a call's
 * arguments and options, the scheduler's placement, and the peer messages of a run, each
 * validated before use. The run itself is DagRunner's.
 */
import { NotFoundError, parseWireError, ValidationError } from '../errors.js';
import { decode, encodeOwned, Ref } from '../storage/index.js';
import type { Cluster } from './cluster.js';
import { buildDag, type DagGraph, parseDagGraph } from './dag_graph.js';
import { type DagOp, type DagPlan, DagRunner } from './dag_runner.js';
import { KeySummary } from './key_summary.js';
import { checkUserKey, type NodeStore } from './node_store.js';
import { DAG_PREFIX } from './placement.js';
import { Scheduler } from './scheduler.js';
import { isRecord, requireKey, requireName } from './validate.js';

export interface DagCallOptions {
  consistency?: string;
  outputKey?: string;
  timeoutMs: number;
  /** Explicit placement (function → node id), for tests and benchmarks. */
  placement?: Record<string, string>;
}

export interface DagServiceDeps {
  nodeId: string;
  store: NodeStore;
  cluster: () => Cluster;
  isRegistered(name: string): boolean;
  run(fn: string, args: Uint8Array, inputs: Uint8Array[], timeoutMs: number): Promise<Uint8Array>;
  /** This node's recent executor utilisation (0..1) and the keys its cache holds. */
  load(): { utilisation: number; cachedKeys: Iterable<string>; cachedCount: number };
}

/** DAG calls are re-run at most this many times after a node fails under them. */
const ATTEMPTS_MAX = 3;

export class DagService {
  readonly #deps: DagServiceDeps;
  readonly runner: DagRunner;
  readonly #scheduler = new Scheduler({}, { random: Math.random });
  #calls = 0;
  readonly #parsed = new Map<string, { stored: unknown; graph: DagGraph }>();

  constructor(deps: DagServiceDeps) {
    this.#deps = deps;
    this.runner = new DagRunner({
      nodeId: deps.nodeId,
      run: deps.run,
      send: (node, op, payload) => deps.cluster().requestNode(node, op, payload),
      writeOutput: async (key, bytes) => {
        await deps.cluster().write(key, { kind: 'lww', value: decode(bytes) });
      },
      alive: (node) => deps.cluster().isAlive(node),
    });
  }

  get callsStarted(): number {
    return this.#calls;
  }

  get(name: string): DagGraph | undefined {
    const stored = this.#deps.store.read(DAG_PREFIX + name);
    if (stored === undefined || stored === null) return undefined;
    // The store hands back the same object while the DAG is unchanged: parse it once.
    const cached = this.#parsed.get(name);
    if (cached?.stored === stored) return cached.graph;
    const graph = parseDagGraph(stored);
    this.#parsed.set(name, { stored, graph });
    return graph;
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
    return graph;
  }

  async delete(name: string): Promise<void> {
    requireName(name, 'DAG name');
    if (this.get(name) === undefined) throw new NotFoundError(`DAG ${name} is not registered`);
    await this.#deps.cluster().write(DAG_PREFIX + name, { kind: 'lww', value: null }, 'all');
  }

  /** Runs a DAG; `args` is the encoded `{ fn: [args] }` record. */
  call(name: string, args: Uint8Array, options: DagCallOptions): Promise<Uint8Array> {
    const dag = this.get(requireName(name, 'DAG name'));
    if (dag === undefined)
      return Promise.reject(new NotFoundError(`DAG ${name} is not registered`));
    const consistency = options.consistency ?? 'lww';
    if (consistency !== 'lww') {
      return Promise.reject(
        new ValidationError(
          `consistency ${JSON.stringify(consistency)} is not available yet; use 'lww'`,
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
    const callId = `${this.#deps.nodeId}.${this.#calls}.${Date.now().toString(36)}`;
    return this.runner.execute(
      callId,
      base,
      (excluded) => fixed ?? this.#place(dag, refs, excluded),
      ATTEMPTS_MAX,
    );
  }

  /** Serves a DAG message from another node. */
  fromPeer(op: DagOp, payload: unknown): null {
    if (!isRecord(payload) || typeof payload.runId !== 'string')
      throw new ValidationError('malformed DAG message');
    const runId = payload.runId;
    switch (op) {
      case 'dag-plan':
        return this.runner.onPlan(parsePlan(payload));
      case 'dag-input':
        if (
          typeof payload.fn !== 'string' ||
          typeof payload.from !== 'string' ||
          !(payload.bytes instanceof Uint8Array)
        ) {
          throw new ValidationError('malformed DAG input');
        }
        return this.runner.onInput(runId, payload.fn, payload.from, payload.bytes);
      case 'dag-done':
        return this.runner.onDone(runId, parseOutcome(payload));
      case 'dag-cancel':
        return this.runner.onCancel(runId);
    }
  }

  /** Tells the other nodes this node's load and cached keys (about once a second). */
  reportLoad(nowMs: number): void {
    const load = this.#deps.load();
    const summary = KeySummary.sized(Math.max(1, load.cachedCount), 0.01);
    for (const key of load.cachedKeys) summary.add(key);
    this.#scheduler.report(this.#deps.nodeId, load.utilisation, summary, nowMs);
    this.#deps
      .cluster()
      .broadcast('load', { utilisation: load.utilisation, summary: summary.toBytes() });
  }

  /** A load report from another node. */
  onLoad(nodeId: string | undefined, message: unknown, nowMs: number): void {
    if (nodeId === undefined || !isRecord(message) || typeof message.utilisation !== 'number')
      return;
    const summary =
      message.summary instanceof Uint8Array ? KeySummary.fromBytes(message.summary) : undefined;
    this.#scheduler.report(nodeId, message.utilisation, summary, nowMs);
  }

  #place(
    dag: DagGraph,
    refs: Record<string, string[]>,
    excluded: Set<string>,
  ): Record<string, string> {
    const cluster = this.#deps.cluster();
    const live = cluster.liveNodes().filter((n) => !excluded.has(n));
    const nodes = live.length > 0 ? live : [this.#deps.nodeId];
    const holds = (node: string, key: string) => cluster.owners(key).includes(node);
    return this.#scheduler.place(dag.order, dag.predecessors, refs, nodes, holds, Date.now());
  }

  #checkPlacement(dag: DagGraph, placement: Record<string, string>): Record<string, string> {
    const cluster = this.#deps.cluster();
    const fixed: Record<string, string> = {};
    for (const fn of dag.functions) {
      const node = placement[fn] ?? this.#deps.nodeId;
      if (!cluster.isAlive(node))
        throw new ValidationError(`placement of ${fn}: ${node} is not a live node`);
      fixed[fn] = node;
    }
    return fixed;
  }
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
  const encoded: Record<string, Uint8Array> = {};
  const refs: Record<string, string[]> = {};
  for (const [fn, args] of Object.entries(record)) {
    if (!dag.functions.includes(fn))
      throw new ValidationError(`DAG ${dag.name} has no function ${fn}`);
    if (!Array.isArray(args)) throw new ValidationError(`arguments of ${fn} must be an array`);
  }
  for (const fn of dag.functions) {
    const args = (record[fn] as unknown[] | undefined) ?? [];
    // Posted to an executor: a buffer of its own, or the whole codec slab is cloned along.
    encoded[fn] = encodeOwned(args);
    refs[fn] = args.filter((a): a is Ref => a instanceof Ref).map((r) => r.key);
  }
  return { encoded, refs };
}

function parsePlan(payload: Record<string, unknown>): DagPlan {
  const dag = parseDagGraph(payload.dag);
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
  return plan;
}

function parseOutcome(payload: Record<string, unknown>) {
  if (payload.ok === true && payload.bytes instanceof Uint8Array)
    return { ok: true as const, bytes: payload.bytes };
  const error = payload.ok === false ? parseWireError(payload.error) : undefined;
  if (error === undefined) throw new ValidationError('malformed DAG outcome');
  return { ok: false as const, error };
}
