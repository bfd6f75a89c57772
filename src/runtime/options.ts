/**
 * The options of `startNode` (SPEC.md, "Running a node") with their defaults and checks.
 * Every limit the node enforces is named here with its unit last, so an operator can find
 * and change it in one place.
 */
import { availableParallelism, networkInterfaces } from 'node:os';
import { checkOptions, describeValue, ValidationError } from '../errors.js';

export interface NodeOptions {
  host?: string;
  /**
   * The host other nodes and clients are told to reach this node at. Default: `host`, or,
   * when that listens on every interface (0.0.0.0, ::), this machine's first external IPv4
   * address (127.0.0.1 if it has none).
   */
  advertiseHost?: string;
  /** TCP port for clients and peers; 0 picks a free one. Default 7700. */
  port?: number;
  /** HTTP gateway port; 0 picks a free one; false turns it off. Default 7780. */
  httpPort?: number | false;
  join?: string[];
  /** Executor threads. Default: the number of CPU cores. */
  executors?: number;
  dataDir?: string;
  replication?: number;
  /** Size of the shared cache segment. Default 256 MiB. */
  cacheBytes?: number;
  token?: string;
  /** Deadline of a call that does not name one. Default 60 s. */
  callTimeoutMs?: number;
  /** Heap limit of each executor thread. Default 1024 MB. */
  executorMemoryMb?: number;
  /** Largest encoded value a key may hold. Default 32 MiB. */
  valueBytesMax?: number;
  /** Largest frame on any connection. Default 64 MiB. */
  frameBytesMax?: number;
  /** How long an untouched mailbox keeps its messages. Default 60 s. */
  messageTtlMs?: number;
  /** Calls running or queued on this node at once. Default 4096. */
  callsInFlightMax?: number;
  /** How long a `callAsync` result stays readable. Default 10 min. */
  resultTtlMs?: number;
  /** Functions a node may hold. Default 10,000. */
  functionsMax?: number;
  /** When a write reaches the disk (with dataDir): see docs/ARCHITECTURE.md. Default 'interval'. */
  fsync?: 'always' | 'interval' | 'never';
  /** The fsync period of the 'interval' policy. Default 100 ms. */
  fsyncIntervalMs?: number;
  /** How often owners send changed keys to their co-owners. Default 100 ms. */
  gossipIntervalMs?: number;
  /** How often a node compares its keys with one peer's (anti-entropy). Default 1 s. */
  antiEntropyIntervalMs?: number;
  /** How often a node probes one member (failure detection). Default 500 ms. */
  probeIntervalMs?: number;
  /** How long a suspected member has to refute before it is declared dead. Default 2.5 s. */
  suspicionTimeoutMs?: number;
  /** Deadline of a request to another node. Default 5 s. */
  peerTimeoutMs?: number;
  /** How long the supervisor polls for the answer of a lone call before sleeping. Default 100 µs; 0 = never. */
  spinUs?: number;
}

export type ResolvedOptions = Required<
  Omit<NodeOptions, 'token' | 'dataDir' | 'httpPort' | 'replication' | 'advertiseHost'>
> & {
  advertiseHost: string;
  token: string | undefined;
  /** Undefined: 1 alone, 2 once a second node joins (SPEC.md). */
  replication: number | undefined;
  dataDir: string | undefined;
  httpPort: number | false;
};

function integer(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(
      `${name} must be an integer between ${min} and ${max}, not ${describeValue(value)}`,
    );
  }
  return value;
}

function text(name: string, value: unknown, fallback: string | undefined): string | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096) {
    throw new ValidationError(`${name} must be a non-empty string`);
  }
  return value;
}

function advertised(options: NodeOptions): string {
  const given = text('advertiseHost', options.advertiseHost, undefined);
  if (given !== undefined) return given;
  const host = text('host', options.host, '127.0.0.1')!;
  if (host !== '0.0.0.0' && host !== '::') return host;
  for (const addresses of Object.values(networkInterfaces())) {
    const external = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (external !== undefined) return external.address;
  }
  return '127.0.0.1';
}

function fsyncPolicy(value: unknown): 'always' | 'interval' | 'never' {
  if (value === undefined) return 'interval';
  if (value === 'always' || value === 'interval' || value === 'never') return value;
  throw new ValidationError(
    `fsync must be "always", "interval" or "never", not ${describeValue(value)}`,
  );
}

function joinList(join: unknown): string[] {
  if (join === undefined) return [];
  if (!Array.isArray(join) || join.length > 64) {
    throw new ValidationError('join must be an array of at most 64 "host:port" seeds');
  }
  for (const seed of join) {
    if (typeof seed !== 'string' || !/^\[?[^\s\]]+\]?:\d{1,5}$/.test(seed)) {
      throw new ValidationError(`join: ${describeValue(seed)} is not "host:port"`);
    }
    const port = Number(seed.slice(seed.lastIndexOf(':') + 1));
    if (port < 1 || port > 65535) {
      throw new ValidationError(`join: ${describeValue(seed)} has no port from 1 to 65535`);
    }
  }
  return [...join] as string[];
}

/**
 * The HTTP port when none is given: the node's port + 80 (7780 beside the default 7700),
 * so nodes started on neighbouring ports, as `cluster up` does, do not collide over it;
 * an ephemeral one beside an ephemeral port, or when port + 80 is out of range.
 */
function defaultHttpPort(port: number): number {
  return port === 0 || port + HTTP_PORT_OFFSET > 65535 ? 0 : port + HTTP_PORT_OFFSET;
}

export const HTTP_PORT_OFFSET = 80;

/** Every option's name (the compiler holds this to NodeOptions, both ways). */
const OPTION_NAMES: Record<keyof NodeOptions, true> = {
  host: true,
  advertiseHost: true,
  port: true,
  httpPort: true,
  join: true,
  executors: true,
  dataDir: true,
  replication: true,
  cacheBytes: true,
  token: true,
  callTimeoutMs: true,
  executorMemoryMb: true,
  valueBytesMax: true,
  frameBytesMax: true,
  messageTtlMs: true,
  callsInFlightMax: true,
  resultTtlMs: true,
  functionsMax: true,
  fsync: true,
  fsyncIntervalMs: true,
  gossipIntervalMs: true,
  antiEntropyIntervalMs: true,
  probeIntervalMs: true,
  suspicionTimeoutMs: true,
  peerTimeoutMs: true,
  spinUs: true,
};

export function resolveOptions(options: NodeOptions = {}): ResolvedOptions {
  // A misspelt option (\`tokn\`) must not start a node without what was meant.
  checkOptions(options, 'startNode', Object.keys(OPTION_NAMES));
  const port = integer('port', options.port ?? 7700, 0, 65535);
  const resolved: ResolvedOptions = {
    host: text('host', options.host, '127.0.0.1')!,
    advertiseHost: advertised(options),
    port,
    httpPort:
      options.httpPort === false
        ? false
        : integer('httpPort', options.httpPort ?? defaultHttpPort(port), 0, 65535),
    join: joinList(options.join),
    executors: integer('executors', options.executors ?? availableParallelism(), 1, 256),
    dataDir: text('dataDir', options.dataDir, undefined),
    fsync: fsyncPolicy(options.fsync),
    fsyncIntervalMs: integer('fsyncIntervalMs', options.fsyncIntervalMs ?? 100, 1, 60_000),
    replication:
      options.replication === undefined
        ? undefined
        : integer('replication', options.replication, 1, 16),
    cacheBytes: integer(
      'cacheBytes',
      options.cacheBytes ?? 256 * 1024 * 1024,
      1 << 20,
      2 ** 31 - 1,
    ),
    token: text('token', options.token, undefined),
    callTimeoutMs: integer('callTimeoutMs', options.callTimeoutMs ?? 60_000, 1, 86_400_000),
    executorMemoryMb: integer('executorMemoryMb', options.executorMemoryMb ?? 1024, 16, 65536),
    valueBytesMax: integer(
      'valueBytesMax',
      options.valueBytesMax ?? 32 * 1024 * 1024,
      1024,
      2 ** 30,
    ),
    frameBytesMax: integer(
      'frameBytesMax',
      options.frameBytesMax ?? 64 * 1024 * 1024,
      4096,
      2 ** 30,
    ),
    messageTtlMs: integer('messageTtlMs', options.messageTtlMs ?? 60_000, 1, 86_400_000),
    callsInFlightMax: integer('callsInFlightMax', options.callsInFlightMax ?? 4096, 1, 1_000_000),
    resultTtlMs: integer('resultTtlMs', options.resultTtlMs ?? 600_000, 1, 86_400_000 * 7),
    functionsMax: integer('functionsMax', options.functionsMax ?? 10_000, 1, 1_000_000),
    spinUs: integer('spinUs', options.spinUs ?? 100, 0, 10_000),
    peerTimeoutMs: integer('peerTimeoutMs', options.peerTimeoutMs ?? 5000, 1, 600_000),
    gossipIntervalMs: integer('gossipIntervalMs', options.gossipIntervalMs ?? 100, 1, 60_000),
    antiEntropyIntervalMs: integer(
      'antiEntropyIntervalMs',
      options.antiEntropyIntervalMs ?? 1000,
      10,
      600_000,
    ),
    probeIntervalMs: integer('probeIntervalMs', options.probeIntervalMs ?? 500, 20, 60_000),
    suspicionTimeoutMs: integer(
      'suspicionTimeoutMs',
      options.suspicionTimeoutMs ?? 2500,
      10,
      600_000,
    ),
  };
  if (resolved.frameBytesMax < resolved.valueBytesMax + 64 * 1024) {
    throw new ValidationError('frameBytesMax must exceed valueBytesMax by at least 64 KiB');
  }
  return resolved;
}
