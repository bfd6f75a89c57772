/**
 * The SDK's public face.
 */

export { stopBundler } from './bundle.js';
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
