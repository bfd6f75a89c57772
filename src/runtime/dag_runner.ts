/**
 * Runs DAG calls across the cluster. The node that accepts `callDag` coordinates: it places
 * every function (the scheduler), sends the plan to each node involved, and waits for the
 * sink. Each node runs its functions as soon as all their inputs arrived and sends each
 * result straight to the nodes of the successors (same node: no message at all; another
 * node: one peer hop) — never through the client or the KVS. A function's arguments are
 * its predecessors' results in edge order, then the caller's arguments for it. The sink
 * writes `outputKey` (a last-writer-wins write, so a re-run writes the same value again)
 * and answers the coordinator.
 *
 * Failures: a function that throws fails the call with its typed error and is not re-run.
 * A node that dies or cannot be reached during a run fails that attempt; the coordinator
 * cancels it everywhere and runs the DAG again on live nodes, at most `attemptsMax` times.
 * Inputs that arrive before their plan wait (bounded); every run's state expires.
 */
import {
  errorFromWire,
  errorToWire,
  TimeoutError,
  UnavailableError,
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
}

export interface DagRunnerDeps {
  nodeId: string;
  /** Runs one function here; resolves to its encoded result. */
  run(fn: string, args: Uint8Array, inputs: Uint8Array[], timeoutMs: number): Promise<Uint8Array>;
  /** Sends a DAG message to another node; rejects when it cannot be delivered. */
  send(nodeId: string, op: DagOp, payload: unknown): Promise<unknown>;
  writeOutput(key: string, bytes: Uint8Array): Promise<void>;
  alive(nodeId: string): boolean;
}

export type DagOp = 'dag-plan' | 'dag-input' | 'dag-done' | 'dag-cancel';

interface Instance {
  plan: DagPlan;
  fn: string;
  inputs: Map<string, Uint8Array>;
  started: boolean;
}

interface Waiting {
  resolve(bytes: Uint8Array): void;
  reject(error: Error): void;
}

/** Why an attempt ended without a result: retried on live nodes (and not on `node`). */
class AttemptFailed extends Error {
  readonly node: string | undefined;
  constructor(message: string, node?: string) {
    super(message);
    this.node = node;
  }
}

const EARLY_INPUTS_MAX = 10_000;
const RUNS_MAX = 10_000;
const WATCH_INTERVAL_MS = 250;
/** How long a run's state outlives its deadline before it is dropped. */
const EXPIRY_GRACE_MS = 5000;

export class DagRunner {
  readonly #deps: DagRunnerDeps;
  readonly #instances = new Map<string, Instance>();
  readonly #runs = new Map<string, { fns: string[]; expiresMs: number }>();
  readonly #early = new Map<
    string,
    { fn: string; from: string; bytes: Uint8Array; atMs: number }[]
  >();
  readonly #waiting = new Map<string, Waiting>();
  /** Functions of DAGs run on this node, by name (shown in status). */
  readonly functionsRun = new Map<string, number>();

  constructor(deps: DagRunnerDeps) {
    this.#deps = deps;
  }

  get runsInFlight(): number {
    return this.#runs.size;
  }

  /** Coordinates one DAG call: plans, runs, re-runs after node failures. */
  async execute(
    callId: string,
    base: Omit<DagPlan, 'runId' | 'placement' | 'coordinator'>,
    place: (excluded: Set<string>) => Record<string, string>,
    attemptsMax: number,
  ): Promise<Uint8Array> {
    const excluded = new Set<string>();
    const deadlineMs = Date.now() + base.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const plan: DagPlan = {
        ...base,
        runId: `${callId}.${attempt}`,
        placement: place(excluded),
        coordinator: this.#deps.nodeId,
        timeoutMs: Math.max(1, deadlineMs - Date.now()),
      };
      try {
        return await this.#attempt(plan, deadlineMs);
      } catch (error) {
        if (!(error instanceof AttemptFailed) || attempt + 1 >= attemptsMax) {
          throw error instanceof AttemptFailed ? new UnavailableError(error.message) : error;
        }
        if (error.node !== undefined) excluded.add(error.node);
        for (const node of new Set(Object.values(plan.placement))) {
          if (!this.#deps.alive(node)) excluded.add(node);
        }
      }
    }
  }

  async #attempt(plan: DagPlan, deadlineMs: number): Promise<Uint8Array> {
    const nodes = [...new Set(Object.values(plan.placement))];
    const result = new Promise<Uint8Array>((resolve, reject) => {
      this.#waiting.set(plan.runId, { resolve, reject });
    });
    // It may fail while the plans are still being sent; it is awaited below.
    result.catch(() => undefined);
    const watcher = setInterval(() => {
      const dead = nodes.find((node) => !this.#deps.alive(node));
      if (dead !== undefined)
        this.#fail(plan.runId, new AttemptFailed(`node ${dead} died during the DAG call`, dead));
      else if (Date.now() > deadlineMs) {
        this.#fail(plan.runId, new TimeoutError(`DAG ${plan.dag.name} ran past its timeout`));
      }
    }, WATCH_INTERVAL_MS);
    try {
      await Promise.all(
        nodes.map((node) =>
          node === this.#deps.nodeId
            ? this.onPlan(plan)
            : this.#deps.send(node, 'dag-plan', plan).catch((error: unknown) => {
                throw new AttemptFailed(
                  `node ${node} could not take its part: ${(error as Error).message}`,
                  node,
                );
              }),
        ),
      );
      return await result;
    } catch (error) {
      this.#waiting.delete(plan.runId);
      throw error;
    } finally {
      clearInterval(watcher);
      this.#cancelEverywhere(plan, nodes);
    }
  }

  #fail(runId: string, error: Error): void {
    const waiting = this.#waiting.get(runId);
    if (waiting === undefined) return;
    this.#waiting.delete(runId);
    waiting.reject(error);
  }

  #cancelEverywhere(plan: DagPlan, nodes: string[]): void {
    for (const node of nodes) {
      if (node === this.#deps.nodeId) this.onCancel(plan.runId);
      else this.#deps.send(node, 'dag-cancel', { runId: plan.runId }).catch(() => undefined);
    }
  }

  /** A plan arrived: keep the functions placed here, start those with all inputs. */
  onPlan(plan: DagPlan): null {
    if (this.#runs.size >= RUNS_MAX)
      throw new UnavailableError(`node runs ${RUNS_MAX} DAG calls, its limit`);
    const fns = plan.dag.order.filter((fn) => plan.placement[fn] === this.#deps.nodeId);
    this.#runs.set(plan.runId, { fns, expiresMs: Date.now() + plan.timeoutMs + EXPIRY_GRACE_MS });
    for (const fn of fns) {
      this.#instances.set(`${plan.runId}/${fn}`, { plan, fn, inputs: new Map(), started: false });
    }
    for (const early of this.#early.get(plan.runId) ?? [])
      this.onInput(plan.runId, early.fn, early.from, early.bytes);
    this.#early.delete(plan.runId);
    for (const fn of fns) this.#maybeStart(`${plan.runId}/${fn}`);
    return null;
  }

  /** A predecessor's result for `fn` of run `runId`. */
  onInput(runId: string, fn: string, from: string, bytes: Uint8Array): null {
    const instance = this.#instances.get(`${runId}/${fn}`);
    if (instance === undefined) {
      if (!this.#runs.has(runId)) this.#keepEarly(runId, fn, from, bytes);
      return null;
    }
    instance.inputs.set(from, bytes);
    this.#maybeStart(`${runId}/${fn}`);
    return null;
  }

  /** The sink's result (or a failure) reached the coordinator. */
  onDone(
    runId: string,
    outcome: { ok: true; bytes: Uint8Array } | { ok: false; error: WireError },
  ): null {
    const waiting = this.#waiting.get(runId);
    if (waiting === undefined) return null;
    this.#waiting.delete(runId);
    if (outcome.ok) waiting.resolve(outcome.bytes);
    else waiting.reject(errorFromWire(outcome.error));
    return null;
  }

  onCancel(runId: string): null {
    const run = this.#runs.get(runId);
    this.#runs.delete(runId);
    this.#early.delete(runId);
    for (const fn of run?.fns ?? []) this.#instances.delete(`${runId}/${fn}`);
    return null;
  }

  /** Drops runs past their deadline (their coordinator gave up or died). */
  sweep(): void {
    const nowMs = Date.now();
    for (const [runId, run] of this.#runs) if (run.expiresMs < nowMs) this.onCancel(runId);
    for (const [runId, inputs] of this.#early) {
      if (inputs.every((i) => nowMs - i.atMs > EXPIRY_GRACE_MS)) this.#early.delete(runId);
    }
  }

  #keepEarly(runId: string, fn: string, from: string, bytes: Uint8Array): void {
    let count = 0;
    for (const list of this.#early.values()) count += list.length;
    if (count >= EARLY_INPUTS_MAX) return;
    const list = this.#early.get(runId) ?? [];
    list.push({ fn, from, bytes, atMs: Date.now() });
    this.#early.set(runId, list);
  }

  #maybeStart(key: string): void {
    const instance = this.#instances.get(key);
    if (instance === undefined || instance.started) return;
    const preds = instance.plan.dag.predecessors[instance.fn] ?? [];
    if (!preds.every((p) => instance.inputs.has(p))) return;
    instance.started = true;
    void this.#runInstance(
      instance,
      preds.map((p) => instance.inputs.get(p)!),
    );
  }

  async #runInstance(instance: Instance, inputs: Uint8Array[]): Promise<void> {
    const { plan, fn } = instance;
    this.functionsRun.set(fn, (this.functionsRun.get(fn) ?? 0) + 1);
    const args = plan.args[fn]!;
    let bytes: Uint8Array;
    try {
      bytes = await this.#deps.run(fn, args, inputs, plan.timeoutMs);
    } catch (error) {
      await this.#report(plan, { ok: false, error: errorToWire(error) });
      return;
    }
    if (!this.#runs.has(plan.runId)) return;
    if (fn === plan.dag.sink) {
      try {
        if (plan.outputKey !== undefined) await this.#deps.writeOutput(plan.outputKey, bytes);
      } catch (error) {
        await this.#report(plan, { ok: false, error: errorToWire(error) });
        return;
      }
      await this.#report(plan, { ok: true, bytes });
      return;
    }
    for (const next of plan.dag.successors[fn] ?? []) {
      const node = plan.placement[next]!;
      if (node === this.#deps.nodeId) this.onInput(plan.runId, next, fn, bytes);
      else
        this.#deps
          .send(node, 'dag-input', { runId: plan.runId, fn: next, from: fn, bytes })
          .catch(() => undefined);
    }
  }

  async #report(
    plan: DagPlan,
    outcome: { ok: true; bytes: Uint8Array } | { ok: false; error: WireError },
  ) {
    if (plan.coordinator === this.#deps.nodeId) {
      this.onDone(plan.runId, outcome);
      return;
    }
    await this.#deps
      .send(plan.coordinator, 'dag-done', { runId: plan.runId, ...outcome })
      .catch(() => undefined);
  }
}
