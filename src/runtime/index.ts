/**
 * The runtime's public face: starting a node, and the wire pieces the SDK shares with it.
 */

export { parseWireError } from '../errors.js';
export { Connection, DEFAULT_CONNECTION_LIMITS } from './connection.js';
export { toJsonText, toJsonValue } from './json_value.js';
export { type NodeHandle, startNode } from './node.js';
export type { NodeOptions } from './options.js';
export {
  type ClientRequest,
  type ClientResponse,
  PROTOCOL_VERSION,
} from './protocol.js';
export type { NodeStatus } from './status.js';
