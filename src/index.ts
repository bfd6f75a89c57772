/**
 * The package root (`import { connect } from 'squall'`): run a node, talk to one, and the
 * types and errors of the public contract (SPEC.md).
 */
export type { Context, Logger, ReceivedMessage } from './actors/index.js';
export {
  type CallOptions,
  Cloud,
  type ConnectOptions,
  connect,
  type DagCallOptions,
  type DeployOptions,
  type FunctionHandle,
  Future,
  type PutOptions,
  type RegisterOptions,
} from './client/index.js';
export {
  AuthError,
  type ErrorCode,
  FunctionError,
  NotFoundError,
  SquallError,
  TimeoutError,
  UnavailableError,
  ValidationError,
} from './errors.js';
export { type NodeHandle, type NodeOptions, type NodeStatus, startNode } from './runtime/index.js';
export { LatticeInput, lattice, Ref, ref } from './storage/index.js';
