/**
 * The storage layer's public face: lattices and their codec, the store shard, the hybrid
 * logical clock that stamps writes, the shared cache segment, and argument references.
 */

export { CacheReader, CacheWriter, createCacheBuffer, MISS } from './cache_segment.js';
export {
  decode,
  decodeInPlace,
  decodeLarge,
  encode,
  encodeOwned,
  endsWithLargeByteString,
} from './codec.js';
export { type DirLock, lockDataDir } from './dir_lock.js';
export {
  CorruptLogError,
  DurableLog,
  type DurableLogOptions,
  type FsyncPolicy,
  loadIdentity,
  type RecoveryReport,
} from './durable_log.js';
export { HybridClock, hlcPhysicalMs } from './hlc.js';
export * from './lattices/index.js';
export { loadPeers, PEERS_FILE, PEERS_MAX, savePeers } from './peers_file.js';
export { FutureRef, Ref, ref } from './refs.js';
export { StoreShard } from './store.js';
export { checkWellFormed, wellFormed } from './well_formed.js';
