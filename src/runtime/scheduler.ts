/**
 * Where a DAG's functions run (Cloudburst's policy, REFERENCE.md): prefer the node whose
 * cache holds the most keys the function references, skip nodes reporting utilisation
 * above `utilisationMax` (70%), and otherwise spread the load — choosing at random a share
 * `randomShare` (20%) of the time anyway, so that load finds idle nodes. A protocol core:
 * nodes' reports (utilisation and a Bloom summary of their cached keys, gossiped about once
 * a second) are handed in with the time; randomness comes from the environment.
 */
import type { Pins } from './autoscaler.js';
import type { CoreEnv } from './core_effects.js';
import type { KeySummary } from './key_summary.js';

export interface SchedulerConfig {
  utilisationMax: number;
  randomShare: number;
  /** A report older than this is ignored (the node counts as idle, holding nothing). */
  reportTtlMs: number;
}

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  utilisationMax: 0.7,
  randomShare: 0.2,
  reportTtlMs: 5000,
};

interface Report {
  utilisation: number;
  summary: KeySummary | undefined;
  atMs: number;
}

export class Scheduler {
  readonly #config: SchedulerConfig;
  readonly #env: CoreEnv;
  readonly #reports = new Map<string, Report>();

  constructor(config: Partial<SchedulerConfig>, env: CoreEnv) {
    this.#config = { ...DEFAULT_SCHEDULER_CONFIG, ...config };
    this.#env = env;
  }

  /** A node's latest utilisation (0..1) and cached-key summary. */
  report(
    nodeId: string,
    utilisation: number,
    summary: KeySummary | undefined,
    nowMs: number,
  ): void {
    this.#reports.set(nodeId, { utilisation: clamp(utilisation), summary, atMs: nowMs });
  }

  /** Whether a node reported utilisation at or above the threshold. */
  busy(nodeId: string, nowMs: number): boolean {
    return this.#utilisation(nodeId, nowMs) >= this.#config.utilisationMax;
  }

  forget(nodeId: string): void {
    this.#reports.delete(nodeId);
  }

  /**
   * Places each function on one of `nodes` (ids of live nodes), in topological `order`.
   * `refs[fn]` are the keys the call passes it by reference; `holds(node, key)` says whether
   * a node stores a key itself (an owner reads it without a hop, like a cache hit). With
   * `pins`, a function goes to one of its pinned nodes that is in `nodes` (any of `nodes`
   * when none is, or when another node holds more of its referenced keys). Among equally good nodes, one that runs a predecessor wins (its result
   * then needs no hop), then the least loaded. `randomShare` overrides the configured one.
   */
  place(
    order: readonly string[],
    predecessors: Readonly<Record<string, readonly string[]>>,
    refs: Readonly<Record<string, readonly string[]>>,
    nodes: readonly string[],
    holds: (node: string, key: string) => boolean,
    nowMs: number,
    options: { pins?: Pins; randomShare?: number } = {},
  ): Record<string, string> {
    // A Map, not an object: a function may be named `__proto__` or `constructor`.
    const placement = new Map<string, string>();
    const randomShare = options.randomShare ?? this.#config.randomShare;
    for (const fn of order) {
      const keys = own(refs, fn) ?? [];
      let candidates = (own(options.pins, fn) ?? []).filter((node) => nodes.includes(node));
      if (candidates.length === 1 && keys.length === 0) {
        placement.set(fn, candidates[0]!);
        continue;
      }
      // Data beats pins: a node holding more of the referenced keys than every pinned one
      // is worth more than a warm replica (the autoscaler sees the load wherever it runs).
      const score = (node: string) => this.#localKeys(node, keys, holds, nowMs);
      const bestOf = (list: readonly string[]) => Math.max(0, ...list.map(score));
      if (candidates.length === 0 || (keys.length > 0 && bestOf(nodes) > bestOf(candidates)))
        candidates = [...nodes];
      const near = new Set(
        (own(predecessors, fn) ?? []).map((p) => placement.get(p)).filter((n) => n !== undefined),
      );
      placement.set(fn, this.#choose(keys, candidates, holds, near, nowMs, randomShare));
    }
    return Object.fromEntries(placement);
  }

  #choose(
    keys: readonly string[],
    nodes: readonly string[],
    holds: (node: string, key: string) => boolean,
    near: Set<string>,
    nowMs: number,
    randomShare: number,
  ): string {
    // Running a predecessor counts as a small bonus, below any real difference in load.
    const load = (node: string) => this.#utilisation(node, nowMs) - (near.has(node) ? 0.05 : 0);
    const open = nodes.filter(
      (node) => this.#utilisation(node, nowMs) < this.#config.utilisationMax,
    );
    const candidates = open.length > 0 ? open : [...nodes];
    if (candidates.length === 0) throw new Error('no node to schedule on');
    if (candidates.length === 1) return candidates[0]!;
    if (this.#env.random() < randomShare) return this.#pick(candidates);
    const score = (node: string) => this.#localKeys(node, keys, holds, nowMs);
    let best: string[] = [];
    let bestScore = -1;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const node of candidates) {
      const s = score(node);
      const l = load(node);
      if (s > bestScore || (s === bestScore && l < bestLoad - 1e-9)) {
        best = [node];
        bestScore = s;
        bestLoad = l;
      } else if (s === bestScore && Math.abs(l - bestLoad) <= 1e-9) {
        best.push(node);
      }
    }
    return this.#pick(best);
  }

  /** How many of `keys` a node stores or caches. */
  #localKeys(
    node: string,
    keys: readonly string[],
    holds: (node: string, key: string) => boolean,
    nowMs: number,
  ): number {
    let count = 0;
    for (const key of keys) if (holds(node, key) || this.#caches(node, key, nowMs)) count += 1;
    return count;
  }

  #utilisation(node: string, nowMs: number): number {
    const report = this.#reports.get(node);
    return report === undefined || nowMs - report.atMs > this.#config.reportTtlMs
      ? 0
      : report.utilisation;
  }

  #caches(node: string, key: string, nowMs: number): boolean {
    const report = this.#reports.get(node);
    if (report?.summary === undefined || nowMs - report.atMs > this.#config.reportTtlMs)
      return false;
    return report.summary.has(key);
  }

  #pick(nodes: readonly string[]): string {
    return nodes[Math.floor(this.#env.random() * nodes.length)] ?? nodes[0]!;
  }
}

/** A record's own entry (never one inherited from Object.prototype). */
function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

function clamp(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}
