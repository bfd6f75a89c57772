/**
 * The client protocol: what SDKs send to a node and what they get back, and the parser that
 * turns an untrusted decoded frame into a typed request. A frame that is not a record with
 * a numeric `id` cannot be answered and closes the connection; a well-addressed request with
 * bad fields is answered with an INVALID error and the connection stays up.
 *
 * Call arguments and results travel as nested CBOR byte strings (`args`, `bytes`): the
 * supervisor forwards them between socket and executor without decoding them.
 */

import type { PutValue } from '../actors/index.js';
import { describeValue, ValidationError, type WireError } from '../errors.js';
import { specFromWire } from '../storage/index.js';
import {
  isRecord,
  optionalString,
  optionalTimeoutMs,
  type Record_,
  requireArray,
  requireBytes,
  requireKey,
  requireName,
  requireString,
  requireStringArray,
  TIMEOUT_QUERY_MS_MAX,
} from './validate.js';

export const PROTOCOL_VERSION = 1;
export const TIMEOUT_MS_MAX = TIMEOUT_QUERY_MS_MAX;
const SOURCE_BYTES_MAX = 32 * 1024 * 1024;
/** Longest client id a hello may carry. */
export const CLIENT_ID_CHARS_MAX = 64;
/** A call's message-id base: the client's id and its request's id (client_server.ts). */
export const SEND_KEY_CHARS_MAX = 100;

export type ClientRequest =
  | {
      id: number;
      op: 'hello';
      token?: string;
      version: number;
      peer?: { id: string; address: string };
      /** A peer's: the copies per key it keeps (the cluster must agree on one number). */
      replication?: number;
      /** The client's id: a DAG's sink on this node may answer that client here directly. */
      client?: string;
    }
  | { id: number; op: 'register'; name: string; source: string; init: unknown[] }
  | { id: number; op: 'deploy'; code: string; filename: string; exports: string[] }
  | {
      id: number;
      op: 'call' | 'callAsync';
      name: string;
      args: Uint8Array;
      timeoutMs?: number;
      /** A call sent again after its node was lost: the id it was first sent under. */
      callKey?: number;
    }
  | { id: number; op: 'await'; key: string; timeoutMs?: number }
  | { id: number; op: 'get'; key: string }
  | { id: number; op: 'put'; key: string; value: PutValue; ack: 'one' | 'all' }
  | { id: number; op: 'registerDag'; name: string; functions: unknown; edges: unknown }
  | {
      id: number;
      op: 'callDag';
      name: string;
      args: Uint8Array;
      consistency?: string;
      session?: string;
      outputKey?: string;
      direct: boolean;
      timeoutMs?: number;
      placement?: Record<string, string>;
      callKey?: number;
    }
  | { id: number; op: 'deleteDag'; name: string }
  | { id: number; op: 'listDags' }
  | { id: number; op: 'status' }
  | { id: number; op: 'owners'; key: string }
  | { id: number; op: 'listFunctions'; prefix?: string };

export type ClientResponse =
  | { id: number; ok: true; value?: unknown; bytes?: Uint8Array }
  | { id: number; ok: false; error: WireError };

/** The id of a decoded frame, or undefined when the frame cannot be answered at all. */
export function requestId(frame: unknown): number | undefined {
  if (!isRecord(frame)) return undefined;
  const id = frame.id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}

export function parsePutValue(value: unknown): PutValue {
  if (!isRecord(value)) throw new ValidationError('value must be an object {t, ...}');
  if (value.t === 'plain') return { t: 'plain', v: value.v };
  if (value.t === 'lattice') return { t: 'lattice', spec: specFromWire(value.spec) };
  throw new ValidationError('value.t must be "plain" or "lattice"');
}

type Parser = (id: number, frame: Record_) => ClientRequest;

function parseCallDag(id: number, f: Record_): ClientRequest {
  const request: ClientRequest & { op: 'callDag' } = {
    id,
    op: 'callDag',
    name: requireName(f.name, 'DAG name'),
    args: requireBytes(f, 'args'),
    direct: f.direct !== false,
    ...timeout(f),
  };
  const consistency = optionalString(f, 'consistency', 64);
  if (consistency !== undefined) request.consistency = consistency;
  const session = optionalString(f, 'session', 256);
  if (session !== undefined) request.session = session;
  if (f.outputKey !== undefined) request.outputKey = requireKey(f.outputKey);
  if (f.placement !== undefined) {
    if (!isRecord(f.placement) || !Object.values(f.placement).every((n) => typeof n === 'string')) {
      throw new ValidationError('placement must be an object { function: nodeId }');
    }
    request.placement = f.placement as Record<string, string>;
  }
  const callKey = optionalCallKey(f);
  if (callKey !== undefined) request.callKey = callKey;
  return request;
}

function parseCall(id: number, f: Record_, op: 'call' | 'callAsync'): ClientRequest {
  const request: ClientRequest & { op: 'call' | 'callAsync' } = {
    id,
    op,
    name: requireName(f.name),
    args: requireBytes(f, 'args'),
    ...timeout(f),
  };
  const callKey = optionalCallKey(f);
  if (callKey !== undefined) request.callKey = callKey;
  return request;
}

function optionalCallKey(f: Record_): number | undefined {
  const key = f.callKey;
  if (key === undefined) return undefined;
  if (!Number.isSafeInteger(key) || (key as number) < 0)
    throw new ValidationError('callKey must be a request id (an integer >= 0)');
  return key as number;
}

function parseAck(value: unknown): 'one' | 'all' {
  if (value === undefined || value === 'one') return 'one';
  if (value === 'all') return 'all';
  throw new ValidationError('ack must be "one" or "all"');
}

/** A supervisor introducing itself: its node id and the address it serves on. */
function parsePeer(value: unknown): { id: string; address: string } {
  if (!isRecord(value)) throw new ValidationError('peer must be {id, address}');
  const id = requireString(value, 'id', 128);
  const address = requireString(value, 'address', 300);
  if (id.length === 0 || !/^[^\s]+:\d{1,5}$/.test(address)) {
    throw new ValidationError('peer must be {id, address: "host:port"}');
  }
  return { id, address };
}

const parsers: Record<ClientRequest['op'], Parser> = {
  hello: (id, f) => {
    const token = optionalString(f, 'token', 4096);
    const version = f.version;
    if (version !== PROTOCOL_VERSION) {
      throw new ValidationError(
        `protocol version ${describeValue(version)} is not ${PROTOCOL_VERSION}`,
      );
    }
    const hello: ClientRequest & { op: 'hello' } = { id, op: 'hello', version };
    if (token !== undefined) hello.token = token;
    if (f.peer !== undefined) hello.peer = parsePeer(f.peer);
    if (f.replication !== undefined) {
      if (!Number.isSafeInteger(f.replication) || (f.replication as number) < 1)
        throw new ValidationError('replication must be an integer >= 1');
      hello.replication = f.replication as number;
    }
    const client = optionalString(f, 'client', CLIENT_ID_CHARS_MAX);
    if (client !== undefined) hello.client = client;
    return hello;
  },
  register: (id, f) => ({
    id,
    op: 'register',
    name: requireName(f.name),
    source: requireString(f, 'source', SOURCE_BYTES_MAX),
    init: f.init === undefined ? [] : requireArray(f, 'init', 1024),
  }),
  deploy: (id, f) => ({
    id,
    op: 'deploy',
    code: requireString(f, 'code', SOURCE_BYTES_MAX),
    filename: requireString(f, 'filename', 4096),
    exports: requireStringArray(f, 'exports', 4096),
  }),
  call: (id, f) => parseCall(id, f, 'call'),
  callAsync: (id, f) => parseCall(id, f, 'callAsync'),
  await: (id, f) => ({ id, op: 'await', key: requireKey(f.key), ...timeout(f) }),
  get: (id, f) => ({ id, op: 'get', key: requireKey(f.key) }),
  put: (id, f) => ({
    id,
    op: 'put',
    key: requireKey(f.key),
    value: parsePutValue(f.value),
    ack: parseAck(f.ack),
  }),
  registerDag: (id, f) => ({
    id,
    op: 'registerDag',
    name: requireName(f.name, 'DAG name'),
    functions: f.functions,
    edges: f.edges,
  }),
  callDag: (id, f) => parseCallDag(id, f),
  deleteDag: (id, f) => ({ id, op: 'deleteDag', name: requireName(f.name, 'DAG name') }),
  listDags: (id) => ({ id, op: 'listDags' }),
  status: (id) => ({ id, op: 'status' }),
  owners: (id, f) => ({ id, op: 'owners', key: requireKey(f.key) }),
  listFunctions: (id, f) => {
    const prefix = optionalString(f, 'prefix', 1024);
    return prefix === undefined ? { id, op: 'listFunctions' } : { id, op: 'listFunctions', prefix };
  },
};

function timeout(frame: Record_): { timeoutMs?: number } {
  const timeoutMs = optionalTimeoutMs(frame, 'timeoutMs', TIMEOUT_MS_MAX);
  return timeoutMs === undefined ? {} : { timeoutMs };
}

/** Parses a frame whose id is known. Throws ValidationError for an unknown op or bad fields. */
export function parseClientRequest(id: number, frame: Record_): ClientRequest {
  const op = frame.op;
  if (typeof op !== 'string' || !Object.hasOwn(parsers, op)) {
    throw new ValidationError(`unknown operation ${describeValue(op)}`);
  }
  return parsers[op as ClientRequest['op']](id, frame);
}
