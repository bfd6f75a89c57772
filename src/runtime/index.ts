/**
 * The runtime's public face: starting a node, and the wire pieces the SDK shares with it.
 */

export { parseWireError } from '../errors.js';
export { Connection, DEFAULT_CONNECTION_LIMITS } from './connection.js';
// The cluster protocol cores, for the simulator (src/sim) that runs them on a virtual network.
export type { CoreEffect, CoreEnv } from './core_effects.js';
export { FrameError } from './frame_decoder.js';
export { HashRing } from './hash_ring.js';
export { checkJsonNumber, toJsonText, toJsonValue } from './json_value.js';
export {
  DEFAULT_MEMBERSHIP_CONFIG,
  Membership,
  type MembershipConfig,
  type MembershipMessage,
  parseMembershipMessage,
} from './membership.js';
export { type NodeHandle, startNode } from './node.js';
export { HTTP_PORT_OFFSET, type NodeOptions } from './options.js';
export { placementOf, ringView } from './placement.js';
export {
  type ClientRequest,
  type ClientResponse,
  PROTOCOL_VERSION,
} from './protocol.js';
export {
  DEFAULT_REPLICATION_CONFIG,
  ownersIn,
  type ReplicaStore,
  Replication,
  type ReplicationConfig,
  type RingView,
} from './replication.js';
export { parseReplicaMessage, type ReplicaMessage } from './replication_messages.js';
export { type NodeStatus, SQUALL_VERSION } from './status.js';
