/**
 * `connect()` and the `Cloud` it resolves to: the SDK of SPEC.md. Functions are shipped as
 * source text (`register`) or as a module bundled here with esbuild (`deploy`), so a node
 * never needs the caller's files. Arguments are CBOR-encoded once, here, and travel to the
 * executor untouched; results come back the same way.
 */

import { checkStorable, toPutValue } from '../actors/index.js';
import { checkOptions, describeValue, ValidationError } from '../errors.js';
import type { NodeStatus } from '../runtime/index.js';
import { decodeLarge, encode, type FutureRef, type Ref } from '../storage/index.js';
import { bundleModule } from './bundle.js';
import { type Answer, ClientConnection } from './client_connection.js';
import { Future } from './future.js';

export interface ConnectOptions {
  token?: string;
  /** Deadline of every request, and of calls that do not name one. Default 30 s. */
  timeoutMs?: number;
  /**
   * A call, DAG call or `callAsync` whose node is lost before it answers is sent once to
   * another node (default true): calls run at least once, as the cluster itself re-runs a
   * call under a node that dies. false: it fails with TimeoutError (outcome unknown).
   */
  rerunCalls?: boolean;
}

export interface CallOptions {
  timeoutMs?: number;
}

export interface DagCallOptions {
  /**
   * 'lww' (default): each read sees the latest version it can; 'repeatable-read': every
   * function of the call sees the version of a key first read in the call (unless the call
   * wrote it); 'causal': reads go to the keys' live owners, never the cache, and writes wait
   * for all of them (docs/ARCHITECTURE.md, "Consistency").
   */
  consistency?: 'lww' | 'repeatable-read' | 'causal';
  /** A client session id, for causal mode across calls. */
  session?: string;
  /** Also store the sink's result at this key. */
  outputKey?: string;
  /** true (default): resolve to the result; false: resolve to a Future. */
  direct?: boolean;
  timeoutMs?: number;
  /** Run each function on the given node id (default: the scheduler decides). */
  placement?: Record<string, string>;
}

export interface PutOptions {
  /** 'one' (default): merged at an owner; 'all': merged at every live owner. */
  ack?: 'one' | 'all';
}

/** A class's constructor arguments after `ctx`, which `init` passes; anything for a function. */
type InitOf<F> = F extends new (ctx: never, ...args: infer A) => unknown ? A : unknown[];

export interface RegisterOptions<F = RegisterTarget> {
  /** Constructor arguments (after ctx) when registering a class, typed from its constructor. */
  init?: InitOf<F>;
}

export interface DeployOptions {
  /** Names the module in errors and stack traces; its extension picks TS or JS. */
  filename?: string;
  /** Where relative imports resolve from. Default: the filename's folder, else the cwd. */
  resolveDir?: string;
}

/** A plain function `(ctx, ...args)`, or a class whose `run(ctx, ...args)` serves calls. */
export type RegisterTarget =
  | ((...args: never[]) => unknown)
  | (new (
      ...args: never[]
    ) => { run(...args: never[]): unknown });

/** A registered function's arguments after `ctx`, and what its calls resolve to. */
type Signature<F> = F extends new (
  ...args: never[]
) => { run(ctx: never, ...args: infer A): infer R }
  ? [A, Awaited<R>]
  : F extends (ctx: never, ...args: infer A) => infer R
    ? [A, Awaited<R>]
    : [unknown[], unknown];

/** Arguments as a call takes them: each a value, or a `ref()` or Future that resolves to one. */
export type Passable<A extends unknown[]> = { [K in keyof A]: A[K] | Ref | FutureRef };

/** What `register` resolves to: call it like the function (without ctx), typed as it is. */
export type FunctionHandle<A extends unknown[] = unknown[], R = unknown> = ((
  ...args: Passable<A>
) => Promise<R>) & {
  readonly functionName: string;
  readonly version: string;
  callAsync(...args: Passable<A>): Promise<Future<R>>;
};

/** The handle `register` gives for `F`: its arguments and its (awaited) result. */
export type HandleOf<F> = FunctionHandle<Signature<F>[0], Signature<F>[1]>;

/** Extra time the SDK waits beyond a call's own deadline, for the node's answer to arrive. */
const ANSWER_GRACE_MS = 2_000;

export class Cloud {
  readonly #connection: ClientConnection;
  readonly #timeoutMs: number;

  /** The node this client talks to now (it moves on when that node is lost). */
  get address(): string {
    return this.#connection.address;
  }

  constructor(connection: ClientConnection, timeoutMs: number) {
    this.#connection = connection;
    this.#timeoutMs = timeoutMs;
  }

  async register<F extends RegisterTarget>(
    name: string,
    fn: F,
    options: RegisterOptions<F> = {},
  ): Promise<HandleOf<F>> {
    if (typeof fn !== 'function') throw new ValidationError('register needs a function or a class');
    checkOptions(options, 'register', ['init']);
    const init = options.init ?? [];
    if (!Array.isArray(init)) throw new ValidationError('options.init must be an array');
    const answer = await this.#request({
      op: 'register',
      name,
      source: Function.prototype.toString.call(fn),
      init,
    });
    const { version } = answer.value as { version: string };
    const handle = (...args: unknown[]) => this.call(name, args);
    return Object.assign(handle, {
      functionName: name,
      version,
      callAsync: (...args: unknown[]) => this.callAsync(name, args),
    }) as unknown as HandleOf<F>;
  }

  /** Registers every exported function and class of a TypeScript or JavaScript module. */
  async deploy(source: string, options: DeployOptions = {}): Promise<string[]> {
    if (typeof source !== 'string') throw new ValidationError('deploy needs module source text');
    checkOptions(options, 'deploy', ['filename', 'resolveDir']);
    for (const field of ['filename', 'resolveDir'] as const) {
      const value = options[field];
      if (value !== undefined && (typeof value !== 'string' || value === ''))
        throw new ValidationError(`deploy options.${field} must be a non-empty string`);
    }
    const input: { source: string; filename?: string; resolveDir?: string } = { source };
    if (options.filename !== undefined) input.filename = options.filename;
    if (options.resolveDir !== undefined) input.resolveDir = options.resolveDir;
    return this.#deployBundle(await bundleModule(input));
  }

  /** Like `deploy`, for a file on disk (its relative imports resolve from its folder). */
  async deployFile(path: string): Promise<string[]> {
    if (typeof path !== 'string' || path === '')
      throw new ValidationError('deployFile needs the path of a module file');
    return this.#deployBundle(await bundleModule({ file: path }));
  }

  async call<R = unknown>(
    name: string,
    args: unknown[] = [],
    options: CallOptions = {},
  ): Promise<R> {
    const timeoutMs = timeoutOf(options, this.#timeoutMs);
    const answer = await this.#connection.request(
      { op: 'call', name, args: encodeArgs(args), timeoutMs },
      timeoutMs + ANSWER_GRACE_MS,
    );
    return decodeLarge(answer.bytes!) as R;
  }

  async callAsync<R = unknown>(
    name: string,
    args: unknown[] = [],
    options: CallOptions = {},
  ): Promise<Future<R>> {
    const timeoutMs = timeoutOf(options, this.#timeoutMs);
    const answer = await this.#request({
      op: 'callAsync',
      name,
      args: encodeArgs(args),
      timeoutMs,
    });
    const { key } = answer.value as { key: string };
    return new Future<R>(key, this.#connection, timeoutMs);
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    return (await this.#request({ op: 'get', key })).value as T | undefined;
  }

  /**
   * Writes a key. The write is acknowledged once merged at one owner of the key;
   * `{ ack: 'all' }` waits until every live owner merged it.
   */
  async put(key: string, value: unknown, options: PutOptions = {}): Promise<void> {
    checkOptions(options, 'put', ['ack']);
    await this.#request({ op: 'put', key, value: toPutValue(value), ack: options.ack ?? 'one' });
  }

  async status(): Promise<NodeStatus> {
    return (await this.#request({ op: 'status' })).value as NodeStatus;
  }

  /**
   * Registers a DAG: `functions` by name, `edges` as [from, to] pairs. Refused
   * (ValidationError) with cycles, unknown functions, more than one sink or duplicates.
   */
  async registerDag(
    name: string,
    functions: string[],
    edges: [string, string][] = [],
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    const timeoutMs = timeoutOf(options, this.#timeoutMs, CALL_OPTIONS, 'registerDag');
    await this.#connection.request({ op: 'registerDag', name, functions, edges }, timeoutMs);
  }

  /**
   * Runs a DAG and resolves to its sink's result (or, with `direct: false`, to a Future).
   * `args` gives the caller's arguments of the functions that take some; each function
   * receives its predecessors' results (in edge order) first, then these.
   */
  async callDag<R = unknown>(
    name: string,
    args: Record<string, unknown[]>,
    options?: DagCallOptions & { direct?: true },
  ): Promise<R>;
  async callDag<R = unknown>(
    name: string,
    args: Record<string, unknown[]>,
    options: DagCallOptions & { direct: false },
  ): Promise<Future<R>>;
  /** Options not known to be direct or not until run time: either answer. */
  async callDag<R = unknown>(
    name: string,
    args: Record<string, unknown[]>,
    options?: DagCallOptions,
  ): Promise<R | Future<R>>;
  async callDag<R = unknown>(
    name: string,
    args: Record<string, unknown[]> = {},
    options: DagCallOptions = {},
  ): Promise<R | Future<R>> {
    const timeoutMs = timeoutOf(options, this.#timeoutMs, DAG_CALL_OPTIONS);
    if (typeof args !== 'object' || args === null || Array.isArray(args)) {
      throw new ValidationError('callDag args must be an object { function: [args] }');
    }
    if (options.direct !== undefined && typeof options.direct !== 'boolean')
      throw new ValidationError(
        `direct must be true or false, got ${describeValue(options.direct)}`,
      );
    const fields: Record<string, unknown> = {
      op: 'callDag',
      name,
      args: encodeArgs(args as unknown as unknown[], true),
      direct: options.direct !== false,
      timeoutMs,
    };
    for (const field of ['consistency', 'session', 'outputKey', 'placement'] as const) {
      if (options[field] !== undefined) fields[field] = options[field];
    }
    const answer = await this.#connection.request(fields, timeoutMs + ANSWER_GRACE_MS);
    // From now on a sink on another node can answer this client there (one hop less).
    if (options.direct !== false) this.#connection.openReplyChannels(timeoutMs);
    if (options.direct === false) {
      return new Future<R>((answer.value as { key: string }).key, this.#connection, timeoutMs);
    }
    return decodeLarge(answer.bytes!) as R;
  }

  async deleteDag(name: string): Promise<void> {
    await this.#request({ op: 'deleteDag', name });
  }

  async listDags(): Promise<string[]> {
    return (await this.#request({ op: 'listDags' })).value as string[];
  }

  /** The nodes that own `key` as this node sees the ring, the primary first. */
  async owners(key: string): Promise<{ id: string; address: string }[]> {
    return (await this.#request({ op: 'owners', key })).value as { id: string; address: string }[];
  }

  async listFunctions(prefix?: string): Promise<string[]> {
    return (
      await this.#request(
        prefix === undefined ? { op: 'listFunctions' } : { op: 'listFunctions', prefix },
      )
    ).value as string[];
  }

  close(): void {
    this.#connection.close();
  }

  async #deployBundle(bundle: {
    code: string;
    filename: string;
    exports: string[];
  }): Promise<string[]> {
    const answer = await this.#request({
      op: 'deploy',
      code: bundle.code,
      filename: bundle.filename,
      exports: bundle.exports,
    });
    return answer.value as string[];
  }

  #request(fields: Record<string, unknown>): Promise<Answer> {
    return this.#connection.request(fields, this.#timeoutMs);
  }
}

/** A request's deadline: its own `timeoutMs` (checked here, so a typo fails at once) or the client's. */
const CALL_OPTIONS = ['timeoutMs'];
const DAG_CALL_OPTIONS = [
  'timeoutMs',
  'consistency',
  'session',
  'outputKey',
  'placement',
  'direct',
];

/**
 * A call's timeout, its options checked first: an option this call does not know is a
 * typo (`{ direct: 'no' }` or `{ timeoutMS }` silently doing the default surprised users).
 */
function timeoutOf(
  options: { timeoutMs?: number },
  fallbackMs: number,
  known: readonly string[] = CALL_OPTIONS,
  what = 'call',
): number {
  checkOptions(options, what, known);
  return options.timeoutMs === undefined ? fallbackMs : checkTimeoutMs(options.timeoutMs);
}

const TIMEOUT_MS_MAX = 24 * 60 * 60 * 1000;

function checkTimeoutMs(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > TIMEOUT_MS_MAX)
    throw new ValidationError(
      `timeoutMs must be an integer from 1 to ${TIMEOUT_MS_MAX}, got ${describeValue(value)}`,
    );
  return value;
}

function encodeArgs(args: unknown[], record = false): Uint8Array {
  if (!record && !Array.isArray(args)) throw new ValidationError('args must be an array');
  checkStorable(args);
  try {
    return encode(args);
  } catch (error) {
    throw new ValidationError(`args cannot be encoded: ${(error as Error).message}`);
  }
}

/**
 * Connects to a node (default: $SQUALL_ADDRESS, then 127.0.0.1:7700) and says hello.
 * `address` may list several nodes (an array, or `host:port,host:port`): the first that
 * answers is used, and the others — with the members the node lists — if it is lost.
 */
export async function connect(
  address?: string | readonly string[],
  options: ConnectOptions = {},
): Promise<Cloud> {
  const given = address ?? process.env.SQUALL_ADDRESS ?? '127.0.0.1:7700';
  const listed = typeof given === 'string' ? [given] : given;
  if (!Array.isArray(listed) || !listed.every((a) => typeof a === 'string'))
    throw new ValidationError(
      `connect needs an address "host:port" or a list of them, got ${describeValue(address)}`,
    );
  checkOptions(options, 'connect', ['token', 'timeoutMs', 'rerunCalls']);
  if (options.token !== undefined && typeof options.token !== 'string')
    throw new ValidationError('connect options.token must be a string');
  if (options.rerunCalls !== undefined && typeof options.rerunCalls !== 'boolean')
    throw new ValidationError('connect options.rerunCalls must be true or false');
  const targets = listed
    .flatMap((a) => a.split(','))
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const timeoutMs = options.timeoutMs === undefined ? 30_000 : checkTimeoutMs(options.timeoutMs);
  const connection = new ClientConnection(targets, {
    token: options.token,
    rerunCalls: options.rerunCalls,
  });
  await connection.open(timeoutMs);
  return new Cloud(connection, timeoutMs);
}
