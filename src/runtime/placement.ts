/**
 * Where a key lives, beyond plain consistent hashing. The registry (`__squall/fn/`,
 * `__squall/module/`) lives on every node, because every call reads it; a call's result
 * (`__squall/result/NODE/ID`) lives first on the node that ran the call, so its Future is
 * answered locally, with the usual replicas after it. Everything else: the ring's owners.
 */
import type { HashRing } from './hash_ring.js';
import { SYSTEM_PREFIX } from './node_store.js';

export const FUNCTION_PREFIX = `${SYSTEM_PREFIX}fn/`;
export const MODULE_PREFIX = `${SYSTEM_PREFIX}module/`;
export const RESULT_PREFIX = `${SYSTEM_PREFIX}result/`;

export function placementOf(key: string, view: { ring: HashRing; replication: number }): string[] {
  const { ring, replication } = view;
  if (key.startsWith(FUNCTION_PREFIX) || key.startsWith(MODULE_PREFIX)) return [...ring.nodes];
  const owners = ring.owners(key, replication);
  if (!key.startsWith(RESULT_PREFIX)) return owners;
  const node = key.slice(RESULT_PREFIX.length).split('/', 1)[0] ?? '';
  if (!ring.nodes.includes(node)) return owners;
  return [node, ...owners.filter((id) => id !== node)].slice(0, replication);
}
