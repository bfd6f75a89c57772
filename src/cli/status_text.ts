/**
 * The human-readable form of `squall status` (the JSON form is `--json`).
 */
import type { NodeStatus } from '../runtime/index.js';

export function statusText(status: NodeStatus): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `node ${status.node.id} at ${status.node.address}, up ${Math.round(status.node.uptimeMs / 1000)} s`,
    `nodes (${status.nodes.length}):`,
    ...status.nodes.map(
      (n) => `  ${n.id}  ${n.address}  ${n.state}${n.self ? '  (this node)' : ''}`,
    ),
    `ring: replication ${status.ring.replication}, members ${status.ring.members.join(', ')}`,
    ...(status.idAlsoUsedBy === undefined
      ? []
      : [
          `warning: another process at ${status.idAlsoUsedBy} uses this node's id (started from a copy of its data dir?): give each node its own data dir`,
        ]),
    ...(status.seedsUnanswered === undefined || status.seedsRefused !== undefined
      ? []
      : [
          `warning: no seed has answered yet (${status.seedsUnanswered.join(', ')}); serving alone, still trying`,
        ]),
    ...(status.seedsRefused ?? []).map(
      (r) => `warning: seed ${r.address} refused this node, which serves alone: ${r.error}`,
    ),
    `executors (${status.executors.length}):`,
    ...status.executors.map(
      (e) =>
        `  #${e.index} ${e.state}  running ${e.inFlight}  calls ${e.calls}  failures ${e.failures}  restarts ${e.restarts}  utilisation ${pct(e.utilisation)}`,
    ),
    `cache: ${status.cache.entries} keys, ${status.cache.bytesUsed}/${status.cache.bytesMax} bytes, hit ratio ${pct(status.cache.hitRatio)}`,
    `store: ${status.store.keys} keys`,
    ...(status.dataDir === undefined
      ? []
      : [
          `data dir: ${status.dataDir.path} (fsync ${status.dataDir.fsync})`,
          ...(status.dataDir.failed === undefined
            ? []
            : [
                `warning: the data dir failed, this node takes no writes: ${status.dataDir.failed}`,
              ]),
        ]),
    `calls: ${status.calls.started} started, ${status.calls.failed} failed, ${status.calls.inFlight} running`,
    `functions (${status.functions.length}): ${status.functions.map((f) => (f.kind === 'class' ? `${f.name} (class)` : f.name)).join(', ')}`,
    `dags (${status.dags.length}): ${status.dags.map((d) => d.name).join(', ')}`,
    ...status.dags.map(
      (d) =>
        `  ${d.name} pinned: ${Object.entries(d.pins)
          .map(([fn, nodes]) => `${fn} → ${nodes.join(' ')}`)
          .join(', ')}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
