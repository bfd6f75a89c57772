/**
 * Where a key lives, beyond plain consistent hashing. The registry (`__squall/fn/`,
 * `__squall/module/`, `__squall/dag/`, `__squall/pins/`, `__squall/class-at/`) lives on
 * every node, because every call reads it; a call's result (`__squall/result/NODE/ID`) and an actor's fallback
 * mailbox (`__squall/mailbox/NODE/...`) live first on that node, so they are answered
 * locally, with the usual replicas after it. Everything else: the ring's owners.
 */
import type { HashRing } from './hash_ring.js';
import { SYSTEM_PREFIX } from './node_store.js';
import type { RingView } from './replication.js';

export const FUNCTION_PREFIX = `${SYSTEM_PREFIX}fn/`;
export const MODULE_PREFIX = `${SYSTEM_PREFIX}module/`;
export const RESULT_PREFIX = `${SYSTEM_PREFIX}result/`;
/** Mailboxes of actors whose node could not be reached: `__squall/mailbox/ACTOR-ADDRESS`. */
export const MAILBOX_PREFIX = `${SYSTEM_PREFIX}mailbox/`;
export const DAG_PREFIX = `${SYSTEM_PREFIX}dag/`;
/** Where a DAG's functions are pinned (autoscaler.ts): `__squall/pins/DAG-NAME`. */
export const PINS_PREFIX = `${SYSTEM_PREFIX}pins/`;
/** The node a class's instance lives on (dag_service.ts): `__squall/class-at/CLASS-NAME`. */
export const CLASS_AT_PREFIX = `${SYSTEM_PREFIX}class-at/`;

/** Whether a key lives on every node (the registry). */
export function onEveryNode(key: string): boolean {
  return (
    key.startsWith(FUNCTION_PREFIX) ||
    key.startsWith(MODULE_PREFIX) ||
    key.startsWith(DAG_PREFIX) ||
    key.startsWith(PINS_PREFIX) ||
    key.startsWith(CLASS_AT_PREFIX)
  );
}

export function placementOf(key: string, view: { ring: HashRing; replication: number }): string[] {
  const { ring, replication } = view;
  if (onEveryNode(key)) return [...ring.nodes];
  const owners = ring.owners(key, replication);
  const prefix = key.startsWith(RESULT_PREFIX)
    ? RESULT_PREFIX
    : key.startsWith(MAILBOX_PREFIX)
      ? MAILBOX_PREFIX
      : undefined;
  if (prefix === undefined) return owners;
  const node = key.slice(prefix.length).split('/', 1)[0] ?? '';
  if (!ring.nodes.includes(node)) return owners;
  return [node, ...owners.filter((id) => id !== node)].slice(0, replication);
}

/** Copies of each key when `--replication` is not given (fewer while the ring is smaller). */
export const DEFAULT_REPLICATION = 2;

/**
 * The ring view a node works with: `wanted` copies (undefined: 1 alone, 2 once there are
 * two nodes) capped at the ring's size, members' addresses as the membership knows them,
 * and `placementOf`. The runtime and the simulator build it with this same function.
 */
export function ringView(
  ring: HashRing,
  wanted: number | undefined,
  members: Iterable<{ id: string; address: string }>,
  self: { id: string; address: string },
): RingView {
  const replication = Math.max(1, Math.min(wanted ?? DEFAULT_REPLICATION, ring.size));
  const addresses = new Map<string, string>();
  for (const member of members) addresses.set(member.id, member.address);
  addresses.set(self.id, self.address);
  const view: RingView = {
    ring,
    replication,
    addressOf: (id) => addresses.get(id),
    placement: (key) => placementOf(key, view),
  };
  return view;
}
