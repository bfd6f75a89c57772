/**
 * The simulator's public face: real node processes on one machine (the multi-process
 * side); the simulated network and virtual clock join it with the cluster protocols.
 */
export {
  type CliResult,
  type NodeProcess,
  runCli,
  SQUALL_BIN,
  startNodeProcess,
} from './node_process.js';
