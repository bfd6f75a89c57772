/**
 * Builds the `Context` a call receives. Reads try the shared cache segment first, which
 * needs no message at all; only misses, writes, messages and nested calls go to the
 * supervisor over the executor's port. Values cross that port as CBOR bytes or plain
 * structured clones, so what a function reads is always its own copy.
 */
import { checkOptions, TimeoutError, ValidationError } from '../errors.js';
import {
  type CacheReader,
  decode,
  decodeLarge,
  encodeOwned,
  lattice,
  MISS,
} from '../storage/index.js';
import type { Context, Logger, ReceivedMessage } from './context_types.js';
import type { ExecutorRequest, MailMessage } from './messages.js';
import { checkStorable, setOwn, toPutValue } from './put_value.js';
import type { ReadSnapshot } from './read_snapshot.js';
import type { SupervisorLink } from './supervisor_link.js';

export interface CallInfo {
  actorId: string;
  name: string;
  callId: string;
  /** The call is a turn of a class instance (whose calls take turns). */
  isClass?: boolean;
  /**
   * The classes whose turns are held by the calls this one was made from (A's turn calls
   * B, B calls C: C's are A and B): a call to one of them would wait for a turn that waits
   * for it, so it is refused at once.
   */
  holding?: readonly string[];
  /** When the call times out (Date.now() ms): a nested call gets only what is left. */
  deadlineMs?: number;
  /** CallStep.sendKey: the call's nth message gets the id `${sendKey}/${n}`. */
  sendKey?: string;
  /** Messages sent so far by this call. */
  sends?: number;
  /** Nested calls made so far by this call. */
  calls?: number;
}

/**
 * Longest id base handed to a nested call: each level of nesting lengthens it, and
 * message ids are bounded; a deeper call's messages get ids of their own, as any call
 * without a base does (a re-run of it may then deliver them twice).
 */
const NESTED_SEND_KEY_CHARS_MAX = 240;

export interface ContextDeps {
  link: SupervisorLink;
  cache: CacheReader;
  logger(info: CallInfo): Logger;
  /**
   * Causal mode (docs/ARCHITECTURE.md, "Consistency"): reads skip the cache and take the
   * merge of every live owner's copy, writes wait for every live owner, nested calls run
   * in causal mode too.
   */
  causal?: boolean;
}

const RECV_TIMEOUT_MS_MAX = 24 * 60 * 60 * 1000;

export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new ValidationError('ctx key must be a non-empty string');
  }
  return key;
}

/** What a function passes on (`ctx.call` arguments, a message): refused as the SDK refuses it. */
function encodePassed(value: unknown, what: string): Uint8Array<ArrayBuffer> {
  checkStorable(value);
  try {
    return encodeOwned(value);
  } catch (error) {
    throw new ValidationError(`${what} cannot be sent: ${(error as Error).message}`);
  }
}

async function getMany(
  deps: ContextDeps,
  keys: string[],
  snapshot: ReadSnapshot | undefined,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const key of keys) {
    if (deps.causal) {
      missing.push(checkKey(key));
      continue;
    }
    if (snapshot?.covers(checkKey(key))) {
      setOwn(out, key, await snapshot.get(key, deps.cache, deps.link));
      continue;
    }
    const value = deps.cache.get(checkKey(key));
    if (value === MISS) missing.push(key);
    else setOwn(out, key, value);
  }
  if (missing.length > 0) {
    const fetched = (await deps.link.request(readRequest(deps, missing))) as (
      | Uint8Array
      | undefined
    )[];
    missing.forEach((key, i) => {
      const bytes = fetched[i];
      // The bytes were posted to this thread alone: a large value is decoded in place.
      setOwn(out, key, bytes === undefined ? undefined : decodeLarge(bytes));
    });
  }
  return out;
}

/**
 * One key through the cache, then the supervisor on a miss (also resolves `ref()` args).
 * Not `async`: a hit, the common case, costs one resolved promise and nothing more.
 */
export function getOne(
  deps: ContextDeps,
  key: string,
  snapshot?: ReadSnapshot | undefined,
): Promise<unknown> {
  if (deps.causal) return fetchOne(deps, checkKey(key));
  if (snapshot?.covers(checkKey(key))) return snapshot.get(key, deps.cache, deps.link);
  const value = deps.cache.get(checkKey(key));
  return value === MISS ? fetchOne(deps, key) : Promise.resolve(value);
}

async function fetchOne(deps: ContextDeps, key: string): Promise<unknown> {
  const [bytes] = (await deps.link.request(readRequest(deps, [key]))) as (Uint8Array | undefined)[];
  return bytes === undefined ? undefined : decodeLarge(bytes);
}

function readRequest(deps: ContextDeps, keys: string[]): ExecutorRequest {
  return deps.causal ? { op: 'get', keys, fresh: true } : { op: 'get', keys };
}

/**
 * Past its deadline the caller was told TimeoutError: a call still waiting on something
 * then makes no more writes, messages or calls, so what it did stops where it was told.
 */
function checkBeforeDeadline(info: CallInfo): void {
  if (info.deadlineMs !== undefined && Date.now() > info.deadlineMs)
    throw new TimeoutError(
      `${info.name} ran past its timeout: its caller was told so, and it may not write, send or call any more`,
    );
}

/** `ctx.call`: refused at once when it would wait for a class turn up its own chain. */
async function nestedCall(
  deps: ContextDeps,
  info: CallInfo,
  name: string,
  args: unknown[],
): Promise<unknown> {
  checkBeforeDeadline(info);
  if (!Array.isArray(args)) throw new ValidationError('ctx.call args must be an array');
  if (info.isClass && name === info.name)
    // Its calls take turns: this one would wait for the turn that is waiting for it.
    throw new ValidationError(
      `${name} cannot call itself: calls to a class instance take turns, so the call would wait forever`,
    );
  const holding = info.isClass ? [...(info.holding ?? []), info.name] : [...(info.holding ?? [])];
  if (holding.includes(name))
    throw new ValidationError(
      `${info.name} cannot call ${name}: ${name}'s turn is waiting, up this call's chain, for this very call, and calls to a class instance take turns, so it would wait forever`,
    );
  const bytes = encodePassed(args, `the arguments of ${name}`);
  const request: Extract<ExecutorRequest, { op: 'call' }> = { op: 'call', name, args: bytes };
  if (deps.causal) request.consistency = 'causal';
  if (holding.length > 0) request.holding = holding;
  // It cannot outlive its caller: past the caller's deadline nobody awaits its result.
  if (info.deadlineMs !== undefined) request.timeoutMs = Math.max(1, info.deadlineMs - Date.now());
  if (info.sendKey !== undefined) {
    // A re-run of this call makes the same nested calls in the same order (if it is
    // deterministic): their messages then keep their ids, and arrive once.
    info.calls = (info.calls ?? 0) + 1;
    const sendKey = `${info.sendKey}/c${info.calls}`;
    if (sendKey.length <= NESTED_SEND_KEY_CHARS_MAX) request.sendKey = sendKey;
  }
  const result = (await deps.link.request(request, [bytes.buffer])) as Uint8Array;
  return decode(result);
}

/**
 * `snapshot`: the call reads with repeatable read (read_snapshot.ts).
 *
 * The methods are made on first use, not with every context: most calls use one or two of
 * them, and under tsx each closure made also costs a `__name` property definition (≈ 2 µs
 * a context before, once per function of a DAG chain). They are still closures, so a
 * function may take them apart (`const { get, put } = ctx`).
 */
export function createContext(deps: ContextDeps, info: CallInfo, snapshot?: ReadSnapshot): Context {
  return new CallContext(deps, info, snapshot);
}

class CallContext implements Context {
  readonly id: string;
  readonly name: string;
  readonly callId: string;
  readonly lattice = lattice;
  readonly #deps: ContextDeps;
  readonly #info: CallInfo;
  readonly #snapshot: ReadSnapshot | undefined;
  #get: Context['get'] | undefined;
  #put: Context['put'] | undefined;
  #send: Context['send'] | undefined;
  #recv: Context['recv'] | undefined;
  #call: Context['call'] | undefined;
  #log: Logger | undefined;

  constructor(deps: ContextDeps, info: CallInfo, snapshot: ReadSnapshot | undefined) {
    this.id = info.actorId;
    this.name = info.name;
    this.callId = info.callId;
    this.#deps = deps;
    this.#info = info;
    this.#snapshot = snapshot;
  }

  get get(): Context['get'] {
    if (this.#get !== undefined) return this.#get;
    const deps = this.#deps;
    const snapshot = this.#snapshot;
    const get = (keyOrKeys: string | string[]) =>
      Array.isArray(keyOrKeys)
        ? getMany(deps, keyOrKeys, snapshot)
        : getOne(deps, keyOrKeys, snapshot);
    this.#get = get as Context['get'];
    return this.#get;
  }

  get put(): Context['put'] {
    this.#put ??= (key, value) => put(this.#deps, this.#info, this.#snapshot, key, value);
    return this.#put;
  }

  get send(): Context['send'] {
    this.#send ??= (to, message) => send(this.#deps, this.#info, to, message);
    return this.#send;
  }

  get recv(): Context['recv'] {
    this.#recv ??= (options) => recv(this.#deps, this.#info, options);
    return this.#recv;
  }

  get call(): Context['call'] {
    this.#call ??= (name: string, args: unknown[] = []) =>
      nestedCall(this.#deps, this.#info, name, args);
    return this.#call as Context['call'];
  }

  get log(): Logger {
    this.#log ??= this.#deps.logger(this.#info);
    return this.#log;
  }
}

async function put(
  deps: ContextDeps,
  info: CallInfo,
  snapshot: ReadSnapshot | undefined,
  key: string,
  value: unknown,
): Promise<void> {
  checkBeforeDeadline(info);
  const request: Extract<ExecutorRequest, { op: 'put' }> = {
    op: 'put',
    key: checkKey(key),
    value: toPutValue(value),
  };
  if (deps.causal) request.ack = 'all';
  await deps.link.request(request);
  snapshot?.wrote(key);
}

async function send(deps: ContextDeps, info: CallInfo, to: string, message: unknown) {
  checkBeforeDeadline(info);
  if (typeof to !== 'string' || to.length === 0) {
    throw new ValidationError('ctx.send needs the target actor address (a string)');
  }
  const bytes = encodePassed(message, 'the message');
  const request: Extract<ExecutorRequest, { op: 'send' }> = {
    op: 'send',
    from: info.actorId,
    to,
    message: bytes,
  };
  if (info.sendKey !== undefined) {
    info.sends = (info.sends ?? 0) + 1;
    request.id = `${info.sendKey}/${info.sends}`;
  }
  await deps.link.request(request, [bytes.buffer]);
}

async function recv(
  deps: ContextDeps,
  info: CallInfo,
  options?: { timeoutMs?: number },
): Promise<ReceivedMessage[]> {
  if (options !== undefined) checkOptions(options, 'recv', ['timeoutMs']);
  const timeoutMs = options?.timeoutMs ?? 0;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0 || timeoutMs > RECV_TIMEOUT_MS_MAX) {
    throw new ValidationError(`recv timeoutMs must be between 0 and ${RECV_TIMEOUT_MS_MAX}`);
  }
  const mail = (await deps.link.request({
    op: 'recv',
    actorId: info.actorId,
    timeoutMs,
  })) as MailMessage[];
  return mail.map((m) => ({ from: m.from, message: decode(m.message), id: m.id ?? '' }));
}
