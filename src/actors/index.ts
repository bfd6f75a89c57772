/**
 * The actors' public face: the executor threads as the supervisor drives them, the
 * mailboxes, the user library's types and the checks on a function's source.
 */
export type {
  Context,
  Logger,
  ReceivedMessage,
  SquallClass,
  SquallFunction,
} from './context_types.js';
export {
  ExecutorPool,
  type ExecutorStats,
  instanceLost,
  MODULE_LOAD_TIMEOUT_MS,
  type PoolCall,
  type PoolStep,
} from './executor_pool.js';
export { analyzeFunctionSource, closureError } from './function_source.js';
export { DEFAULT_MAILBOX_LIMITS, Mailboxes, type MailboxLimits } from './mailboxes.js';
export type {
  ExecutorRequest,
  ExportInfo,
  FunctionDef,
  MailMessage,
  ModuleCode,
  SnapshotEntry,
} from './messages.js';
export { WROTE } from './messages.js';
export { checkStorable, type PutValue, setOwn, toPutValue } from './put_value.js';
