/**
 * How many nodes each DAG function is pinned to (REFERENCE.md: Cloudburst pins a DAG's
 * functions to executors when it is registered, adds replicas to functions whose load nears
 * what their replicas serve, and takes them from cold ones). A protocol core: the nodes'
 * load reports (executors, utilisation, and per function the executor-milliseconds it used
 * per second) and the time are handed in; it answers with new pins or with nothing.
 *
 * Rules, per function and per decision (about once a second, on one node per DAG):
 * - replicas on nodes that left are dropped; a function left with none gets the least
 *   loaded live node;
 * - demand (executor-ms/s over the cluster) at or above `scaleUpShare` of its replicas'
 *   capacity (their executors × 1000 ms/s) adds the least loaded live node that is not a
 *   replica and is itself below `scaleUpShare` — at most one per `cooldownMs`, because the
 *   reports that show the effect of the last change take that long to arrive;
 * - a function not called for `coldAfterMs` loses its newest extra replica, one per
 *   `cooldownMs`; the first replica stays;
 * - a class function never gets a second replica: its instance, and so its state, lives on
 *   one executor.
 */

/** Per DAG: function → the nodes it is pinned to, first the one it started on. */
export type Pins = Record<string, string[]>;

export interface NodeLoad {
  utilisation: number;
  executors: number;
  /** Per function, executor-milliseconds spent per second over the last report window. */
  busyMsPerS: Record<string, number>;
}

export interface AutoscalerConfig {
  scaleUpShare: number;
  coldAfterMs: number;
  cooldownMs: number;
}

export const DEFAULT_AUTOSCALER_CONFIG: AutoscalerConfig = {
  scaleUpShare: 0.7,
  coldAfterMs: 30_000,
  cooldownMs: 3_000,
};

export interface ScaleInput {
  dag: string;
  functions: readonly string[];
  /** Class functions (one instance, so one replica). */
  classes: ReadonlySet<string>;
  pins: Pins;
  /** Live nodes, this one included. */
  live: readonly string[];
  loads: ReadonlyMap<string, NodeLoad>;
  nowMs: number;
}

export class Autoscaler {
  readonly #config: AutoscalerConfig;
  readonly #lastCalledMs = new Map<string, number>();
  readonly #lastScaledMs = new Map<string, number>();

  constructor(config: Partial<AutoscalerConfig> = {}) {
    this.#config = { ...DEFAULT_AUTOSCALER_CONFIG, ...config };
  }

  /** New pins for a DAG, or undefined when they stay as they are. */
  decide(input: ScaleInput): Pins | undefined {
    let changed = false;
    const next = input.functions.map((fn): [string, string[]] => {
      const before = Object.hasOwn(input.pins, fn) ? (input.pins[fn] ?? []) : [];
      const after = this.#decideOne(input, fn, before);
      if (after.length !== before.length || after.some((n, i) => n !== before[i])) changed = true;
      return [fn, after];
    });
    // fromEntries defines own properties: a function named `__proto__` is an ordinary entry.
    return changed ? Object.fromEntries(next) : undefined;
  }

  /** Forgets what it kept about the functions of DAGs not in `dags` (deleted ones). */
  retain(dags: readonly { name: string; functions: readonly string[] }[]): void {
    const ids = new Set(dags.flatMap((dag) => dag.functions.map((fn) => `${dag.name}/${fn}`)));
    for (const map of [this.#lastCalledMs, this.#lastScaledMs]) {
      for (const id of map.keys()) if (!ids.has(id)) map.delete(id);
    }
  }

  #decideOne(input: ScaleInput, fn: string, before: readonly string[]): string[] {
    const { live, loads, nowMs } = input;
    const id = `${input.dag}/${fn}`;
    const replicas = before.filter((node) => live.includes(node));
    if (replicas.length === 0) {
      const home = leastLoaded(live, loads, new Set());
      return home === undefined ? [] : [home];
    }
    let demandMs = 0;
    for (const load of loads.values()) demandMs += load.busyMsPerS[fn] ?? 0;
    if (demandMs > 0 || !this.#lastCalledMs.has(id)) this.#lastCalledMs.set(id, nowMs);
    const capacityMs = replicas.reduce((sum, node) => sum + 1000 * executorsOf(loads, node), 0);
    const cooled = nowMs - (this.#lastScaledMs.get(id) ?? Number.NEGATIVE_INFINITY);
    if (cooled < this.#config.cooldownMs) return replicas;
    const share = this.#config.scaleUpShare;
    if (!input.classes.has(fn) && demandMs >= share * capacityMs) {
      const extra = leastLoaded(live, loads, new Set(replicas));
      if (extra !== undefined && utilisationOf(loads, extra) < share) {
        this.#lastScaledMs.set(id, nowMs);
        return [...replicas, extra];
      }
    }
    const idleMs = nowMs - (this.#lastCalledMs.get(id) ?? nowMs);
    if (replicas.length > 1 && idleMs >= this.#config.coldAfterMs) {
      this.#lastScaledMs.set(id, nowMs);
      return replicas.slice(0, -1);
    }
    return replicas;
  }
}

function executorsOf(loads: ReadonlyMap<string, NodeLoad>, node: string): number {
  return Math.max(1, loads.get(node)?.executors ?? 1);
}

function utilisationOf(loads: ReadonlyMap<string, NodeLoad>, node: string): number {
  return loads.get(node)?.utilisation ?? 0;
}

/** The live node with the lowest utilisation outside `taken` (ties: the first in `live`). */
function leastLoaded(
  live: readonly string[],
  loads: ReadonlyMap<string, NodeLoad>,
  taken: ReadonlySet<string>,
): string | undefined {
  let best: string | undefined;
  for (const node of live) {
    if (taken.has(node)) continue;
    if (best === undefined || utilisationOf(loads, node) < utilisationOf(loads, best)) best = node;
  }
  return best;
}
