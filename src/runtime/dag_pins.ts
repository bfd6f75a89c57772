/**
 * Where each DAG's functions are pinned: `__squall/pins/NAME` on every node, a
 * last-writer-wins `{ function: [node ids] }`. `registerDag` writes the first pins (the
 * scheduler's placement without its random share, so a chain starts on one node, the least
 * loaded); the scheduler then places each call's functions on their pinned nodes; and once
 * a second the autoscaler (autoscaler.ts) adjusts them from the nodes' load reports. One
 * node decides for all DAGs — the live node with the smallest id — so two nodes do not
 * scale the same function at once; if two briefly both think they decide, last-writer-wins
 * keeps one answer everywhere.
 */
import { ValidationError } from '../errors.js';
import { Autoscaler, type NodeLoad, type Pins } from './autoscaler.js';
import type { Cluster } from './cluster.js';
import type { DagGraph } from './dag_graph.js';
import type { NodeStore } from './node_store.js';
import { ParsedCache } from './parsed_cache.js';
import { PINS_PREFIX } from './placement.js';
import { isRecord } from './validate.js';

export interface DagPinsDeps {
  nodeId: string;
  store: NodeStore;
  cluster: () => Cluster;
  isClass(fn: string): boolean;
  log: { warn(fields: object, message: string): void };
}

/** A load report older than this does not count. */
const LOAD_TTL_MS = 5000;

export class DagPins {
  readonly #deps: DagPinsDeps;
  readonly #autoscaler = new Autoscaler();
  readonly #loads = new Map<string, { load: NodeLoad; atMs: number }>();
  readonly #parsed = new ParsedCache(parsePins);

  constructor(deps: DagPinsDeps) {
    this.#deps = deps;
  }

  /** A DAG's pins as this node knows them (undefined before any were written). */
  get(name: string): Pins | undefined {
    return this.#parsed.get(name, this.#deps.store.read(PINS_PREFIX + name));
  }

  async write(name: string, pins: Pins | null, ack: 'one' | 'all'): Promise<void> {
    // Stored as [function, nodes] pairs: names travel inside arrays, never as object keys.
    const value = pins === null ? null : Object.entries(pins);
    await this.#deps.cluster().write(PINS_PREFIX + name, { kind: 'lww', value }, ack);
  }

  /** A node's latest load (its own included). */
  report(nodeId: string, load: NodeLoad, nowMs: number): void {
    this.#loads.set(nodeId, { load, atMs: nowMs });
  }

  /** Runs the autoscaler over `dags` when this node is the one that decides. */
  autoscale(dags: readonly DagGraph[], nowMs: number): void {
    const cluster = this.#deps.cluster();
    const live = cluster.liveNodes().sort();
    // Reports of nodes that are gone are dropped on every node, deciding or not.
    for (const node of this.#loads.keys()) if (!live.includes(node)) this.#loads.delete(node);
    if (live[0] !== this.#deps.nodeId) return;
    const loads = new Map<string, NodeLoad>();
    for (const [node, { load, atMs }] of this.#loads) {
      if (nowMs - atMs <= LOAD_TTL_MS) loads.set(node, load);
    }
    for (const dag of dags) {
      const pins = this.get(dag.name) ?? {};
      const classes = new Set(dag.functions.filter((fn) => this.#deps.isClass(fn)));
      const next = this.#autoscaler.decide({
        dag: dag.name,
        functions: dag.functions,
        classes,
        pins,
        live,
        loads,
        nowMs,
      });
      if (next === undefined) continue;
      this.write(dag.name, next, 'one').catch((error: unknown) =>
        this.#deps.log.warn({ dag: dag.name }, `could not re-pin: ${(error as Error).message}`),
      );
    }
    this.#autoscaler.retain(dags);
  }
}

function parsePins(stored: unknown): Pins {
  if (!Array.isArray(stored)) throw new ValidationError('stored DAG pins are not a list');
  const entries = stored.map((entry: unknown): [string, string[]] => {
    const [fn, nodes] = Array.isArray(entry) ? entry : [];
    if (
      typeof fn !== 'string' ||
      !Array.isArray(nodes) ||
      !nodes.every((n): n is string => typeof n === 'string')
    )
      throw new ValidationError('stored DAG pins are not [function, node ids] pairs');
    return [fn, nodes];
  });
  return Object.fromEntries(entries);
}

/** Parses a node's load report (as gossiped); undefined when malformed. */
export function parseNodeLoad(message: Record<string, unknown>): NodeLoad | undefined {
  const { utilisation, executors, busyMsPerS } = message;
  if (typeof utilisation !== 'number' || !Number.isFinite(utilisation)) return undefined;
  const load: NodeLoad = { utilisation, executors: 1, busyMsPerS: {} };
  if (typeof executors === 'number' && Number.isInteger(executors) && executors > 0)
    load.executors = executors;
  if (isRecord(busyMsPerS)) {
    for (const [fn, ms] of Object.entries(busyMsPerS)) {
      if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) load.busyMsPerS[fn] = ms;
    }
  }
  return load;
}
