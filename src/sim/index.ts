/**
 * The simulator's public face: real node processes on one machine (the multi-process
 * side), and the seeded cluster simulator that runs the membership, ring, replication and
 * hand-off cores on a simulated network under a virtual clock.
 */

export {
  type ChaosOptions,
  type ChaosReport,
  DEFAULT_CHAOS_OPTIONS,
  formatChaosReport,
  runChaos,
  waitForRing,
} from './chaos.js';
export { type ChaosFinal, ChaosLedger, type ChaosVerdict } from './chaos_ledger.js';
export type { ChaosFault } from './chaos_nodes.js';
export {
  checkData,
  checkRing,
  Ledger,
  type LedgerSummary,
  referenceView,
  type WriteKind,
  type WriteRecord,
} from './checkers.js';
export { type Action, SimClock, Trace } from './clock.js';
export {
  addressOf,
  ClusterSim,
  DEFAULT_BOUND_MS,
  DEFAULT_NODE_CONFIG,
  describeScenario,
  drawScenario,
  formatFailure,
  nodeId,
  POLL_MS,
  replayCommand,
  runSeed,
  type Scenario,
  type SimOptions,
  type SimResult,
  STABLE_MS,
} from './cluster_sim.js';
export { EventQueue, type QueuedEvent } from './event_queue.js';
export {
  type Channel,
  CLEAN_NETWORK,
  type DropReason,
  type FaultModel,
  Network,
  type NetworkStats,
  type Receiver,
} from './network.js';
export {
  type CliResult,
  type NodeProcess,
  runCli,
  SQUALL_BIN,
  startNodeProcess,
} from './node_process.js';
export { Random } from './random.js';
export {
  type NodeState,
  type NodeWorld,
  ringCache,
  SimNode,
  type SimNodeConfig,
  type WriteListener,
  type WriteOp,
} from './sim_node.js';
