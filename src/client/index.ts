/**
 * The SDK's public face.
 */
export {
  type CallOptions,
  Cloud,
  type ConnectOptions,
  connect,
  type DeployOptions,
  type FunctionHandle,
  type PutOptions,
  type RegisterOptions,
} from './cloud.js';
export { Future } from './future.js';
