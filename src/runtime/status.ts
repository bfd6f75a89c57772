/**
 * What `status()` reports: the node, the cluster as this node sees it, the ring, the
 * executors and their load, the cache and its hit ratio, and what is registered. Plain
 * data, so the SDK, the CLI (`squall status`) and the HTTP gateway show the same thing.
 */
import type { ExecutorStats } from '../actors/index.js';
import { SYSTEM_PREFIX } from './node_store.js';
import type { Supervisor } from './supervisor.js';

export interface MemberStatus {
  id: string;
  address: string;
  state: 'alive' | 'suspect' | 'dead' | 'left';
  self: boolean;
}

export interface NodeStatus {
  node: { id: string; address: string; httpAddress?: string; uptimeMs: number; version: string };
  nodes: MemberStatus[];
  ring: { replication: number; members: string[]; vnodes: number; pendingHandoff: number };
  /**
   * The seeds this node was told to join while none of them has answered yet: it serves
   * as a cluster of its own meanwhile, and keeps trying (a mistyped seed shows here).
   */
  seedsUnanswered?: string[];
  /** Of those, the ones that refused this node's hello, and why (a different `--token`?). */
  seedsRefused?: { address: string; error: string }[];
  /** Another process was seen using this node's id, at this address (a copied data dir?). */
  idAlsoUsedBy?: string;
  executors: ExecutorStats[];
  cache: {
    entries: number;
    bytesUsed: number;
    bytesMax: number;
    hits: number;
    misses: number;
    hitRatio: number;
    evictions: number;
  };
  /** `keys`: every key held here; `userKeys`: without squall's own (registry, results). */
  store: { keys: number; userKeys: number };
  /** With a data dir: where, the fsync policy, and why it failed (then the node takes no writes). */
  dataDir?: { path: string; fsync: string; failed?: string };
  calls: { started: number; failed: number; inFlight: number };
  functions: { name: string; kind: 'function' | 'class'; version: string }[];
  /** `pins`: the nodes each function is pinned to (the scheduler places calls on them). */
  dags: { name: string; pins: Record<string, string[]> }[];
  /** DAG functions run on this node since it started, by name (where a DAG's work landed). */
  dagFunctionsRun: Record<string, number>;
  /** DAG calls coordinated elsewhere whose sink here answered the client directly. */
  dagAnswersDirect: number;
}

export const SQUALL_VERSION = '0.1.0';

function clusterStatus(
  supervisor: Supervisor,
): Pick<NodeStatus, 'nodes' | 'ring' | 'seedsUnanswered' | 'seedsRefused' | 'idAlsoUsedBy'> {
  const cluster = supervisor.cluster;
  const view = cluster.view;
  const seeds = supervisor.options.join;
  const conflict = cluster.membership.idClaimedFrom;
  const alone = !cluster.membership.joined && seeds.length > 0;
  const refused = alone ? cluster.seedsRefused() : [];
  return {
    ...(conflict === undefined ? {} : { idAlsoUsedBy: conflict }),
    ...(alone ? { seedsUnanswered: [...seeds] } : {}),
    ...(refused.length > 0 ? { seedsRefused: refused } : {}),
    nodes: shownMembers(cluster.membership.members()).map((m) => ({
      id: m.id,
      address: m.address,
      state: m.state,
      self: m.id === supervisor.nodeId,
    })),
    ring: {
      replication: view.replication,
      members: [...view.ring.nodes],
      vnodes: view.ring.describe().vnodes,
      pendingHandoff: cluster.replication.pendingHandoff(),
    },
  };
}

function userKeyCount(supervisor: Supervisor): number {
  let count = 0;
  for (const key of supervisor.store.keys('')) if (!key.startsWith(SYSTEM_PREFIX)) count += 1;
  return count;
}

export function nodeStatus(supervisor: Supervisor): NodeStatus {
  const cache = supervisor.cache.stats();
  const lookups = cache.hits + cache.misses;
  const node: NodeStatus['node'] = {
    id: supervisor.nodeId,
    address: supervisor.address,
    uptimeMs: Date.now() - supervisor.startedMs,
    version: SQUALL_VERSION,
  };
  if (supervisor.httpAddress !== undefined) node.httpAddress = supervisor.httpAddress;
  return {
    node,
    ...clusterStatus(supervisor),
    executors: supervisor.pool.stats(),
    cache: {
      entries: cache.entries,
      bytesUsed: cache.bytesUsed,
      bytesMax: cache.bytesMax,
      hits: cache.hits,
      misses: cache.misses,
      hitRatio: lookups === 0 ? 0 : cache.hits / lookups,
      evictions: cache.evictions,
    },
    store: { keys: supervisor.store.size, userKeys: userKeyCount(supervisor) },
    ...supervisor.dataDirStatus(),
    calls: {
      started: supervisor.counters.calls,
      failed: supervisor.counters.failed,
      inFlight: supervisor.pool.inFlight(),
    },
    functions: supervisor.registry
      .list()
      .map((def) => ({ name: def.name, kind: def.kind, version: def.version })),
    dags: supervisor.dags
      .list()
      .map((name) => ({ name, pins: supervisor.dags.pins.get(name) ?? {} })),
    dagFunctionsRun: Object.fromEntries(supervisor.dags.runner.functionsRun),
    dagAnswersDirect: supervisor.counters.dagAnswersDirect,
  };
}

/**
 * The members to list: a dead or departed member whose address a live one now uses (a node
 * restarted there without its data dir, under a new id) is left out. The membership keeps it
 * until it is forgotten, but listed beside its successor it read as a second node (QA).
 */
function shownMembers<M extends { address: string; state: string }>(members: M[]): M[] {
  const isLive = (m: M) => m.state === 'alive' || m.state === 'suspect';
  const liveAddresses = new Set(members.filter(isLive).map((m) => m.address));
  return members.filter((m) => isLive(m) || !liveAddresses.has(m.address));
}
