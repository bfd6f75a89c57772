/**
 * `startNode`: one squall node in this process — a supervisor with its executor threads,
 * the client and peer endpoint, its place in the cluster (joined through `join` seeds, or
 * alone) and, unless turned off, the HTTP gateway. `stop()` is graceful: it answers the
 * requests it already took (refusing new ones unrun, so clients go elsewhere), leaves the
 * cluster (handing its keys to their new owners), closes the endpoints, then stops the
 * executors.
 */

import { mkdir } from 'node:fs/promises';
import { nanoid } from 'nanoid';
import { SquallError, UnavailableError, ValidationError } from '../errors.js';
import {
  CorruptLogError,
  type DirLock,
  DurableLog,
  loadIdentity,
  loadPeers,
  lockDataDir,
  type RecoveryReport,
} from '../storage/index.js';
import { ClientServer } from './client_server.js';
import { DEFAULT_CONNECTION_LIMITS } from './connection.js';
import { HttpGateway } from './http_gateway.js';
import { type NodeOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { Supervisor } from './supervisor.js';

export interface NodeHandle {
  readonly id: string;
  /** `host:port` of the client and peer endpoint. */
  readonly address: string;
  /** `host:port` of the HTTP gateway, when it runs. */
  readonly httpAddress: string | undefined;
  stop(): Promise<void>;
}

/** The longest a graceful stop waits for the requests it already took to be answered. */
const DRAIN_MS = 30_000;

/** File system errors that say the data dir given cannot be used (not that the disk failed). */
const UNUSABLE_DIR_CODES = new Set(['EEXIST', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'EISDIR']);

/** The node's identity and, with a data dir, its recovered store. */
async function openStorage(options: ResolvedOptions) {
  const dir = options.dataDir;
  if (dir === undefined) return { id: nanoid(12), durable: undefined, lock: undefined, peers: [] };
  let lock: DirLock | undefined;
  try {
    await mkdir(dir, { recursive: true });
    lock = await lockDataDir(dir);
    const identity = await loadIdentity(dir, () => nanoid(12));
    const durable = await DurableLog.open({
      dir,
      fsync: options.fsync,
      fsyncIntervalMs: options.fsyncIntervalMs,
      ranBefore: identity.incarnation > 1,
    });
    // Without --join, a data dir that was part of a cluster rejoins it through its peers.
    const peers = options.join.length === 0 ? await loadPeers(dir) : [];
    return { id: identity.id, durable, lock, peers };
  } catch (error) {
    await lock?.release();
    if (error instanceof CorruptLogError)
      throw new UnavailableError(`cannot start: ${error.message}`);
    if (error instanceof SquallError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && UNUSABLE_DIR_CODES.has(code))
      throw new ValidationError(`cannot use ${dir} as the data dir: ${(error as Error).message}`);
    // The disk failed or is full (ENOSPC, EIO): the dir is right, the node cannot use it now.
    if (typeof code === 'string')
      throw new UnavailableError(`cannot start on ${dir}: ${(error as Error).message}`);
    throw error;
  }
}

/** Says what recovery found; a dropped torn append is a warning (it names the bytes lost). */
function reportRecovery(supervisor: Supervisor, recovered: RecoveryReport): void {
  const { snapshotEntries, records, droppedTornBytes, generation } = recovered;
  const fields = { snapshotEntries, records, generation };
  if (droppedTornBytes > 0) {
    supervisor.log.warn(
      { ...fields, droppedTornBytes, dataDir: supervisor.options.dataDir },
      `the end of log-${generation}.bin was torn (the node stopped in the middle of an append, or its last record was damaged): dropped its last ${droppedTornBytes} bytes`,
    );
  } else if (snapshotEntries + records > 0) {
    supervisor.log.info(fields, 'recovered the data dir');
  }
}

export async function startNode(options: NodeOptions = {}): Promise<NodeHandle> {
  const given = resolveOptions(options);
  const { id, durable, lock, peers } = await openStorage(given);
  const resolved = peers.length > 0 ? { ...given, join: peers } : given;
  // A restart must come back with a higher incarnation than any before: the clock gives one.
  const supervisor = new Supervisor(resolved, { id, incarnation: Date.now() }, durable?.log);
  if (durable !== undefined) {
    supervisor.store.load(durable.entries);
    reportRecovery(supervisor, durable.recovered);
  }
  if (peers.length > 0)
    supervisor.log.info(
      { peers },
      'no --join given: rejoining through the peers this data dir last saw',
    );
  const server = new ClientServer(supervisor);
  let gateway: HttpGateway | undefined;
  try {
    await supervisor.start();
    const address = await server.listen(resolved.host, resolved.port, resolved.advertiseHost);
    supervisor.startCluster(address, {
      ...DEFAULT_CONNECTION_LIMITS,
      frameBytesMax: resolved.frameBytesMax,
    });
    if (resolved.httpPort !== false) {
      gateway = new HttpGateway(supervisor);
      supervisor.httpAddress = await gateway.listen(
        resolved.host,
        resolved.httpPort,
        resolved.advertiseHost,
      );
    }
  } catch (error) {
    await server.close().catch(() => undefined);
    await supervisor.stop();
    await lock?.release();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    id: supervisor.nodeId,
    address: supervisor.address,
    httpAddress: supervisor.httpAddress,
    stop() {
      stopping ??= (async () => {
        // Requests already taken are answered first (new ones are sent elsewhere), then
        // the keys are handed off, then the peer connections close.
        try {
          await Promise.all([gateway?.close(DRAIN_MS), server.drain(DRAIN_MS)]);
          await supervisor.leave();
          await server.close();
          await supervisor.stop();
        } finally {
          // Also after a failed log (a full disk): the next start must find the dir free.
          await lock?.release();
        }
      })();
      return stopping;
    },
  };
}
