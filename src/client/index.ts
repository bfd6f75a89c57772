/**
 * The SDK's public face.
 */
export {
  type CallOptions,
  Cloud,
  type ConnectOptions,
  connect,
  type DagCallOptions,
  type DeployOptions,
  type FunctionHandle,
  type PutOptions,
  type RegisterOptions,
} from './cloud.js';
export { Future } from './future.js';
