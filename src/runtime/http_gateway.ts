/**
 * The HTTP gateway (SPEC.md, "HTTP gateway"): JSON in and out over node:http, for callers
 * without the SDK. It calls the same supervisor methods as the TCP endpoint; arguments
 * arrive as JSON and are CBOR-encoded here, results leave through `toJsonValue`. Bodies
 * are bounded by the node's frame limit; errors are `{"error":{"code","message"}}` with the
 * status their code maps to.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import {
  AuthError,
  describeValue,
  type ErrorCode,
  errorToWire,
  NotFoundError,
  UnavailableError,
  ValidationError,
} from '../errors.js';
import { decode, encode, encodeOwned, reveal } from '../storage/index.js';
import type { DagCallOptions } from './dag_service.js';
import { fromJsonValue, toJsonText } from './json_value.js';
import { createMetrics } from './metrics.js';
import { joinAddress } from './peer_links.js';
import { statusPage } from './status_page.js';
import type { Supervisor } from './supervisor.js';
import { isRecord, requireKey, TIMEOUT_QUERY_MS_MAX } from './validate.js';

const STATUS_BY_CODE: Record<ErrorCode, number> = {
  INVALID: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  TIMEOUT: 408,
  FUNCTION_FAILED: 500,
  UNAVAILABLE: 503,
};

interface Answer {
  status: number;
  body: string;
  type?: string;
}

export class HttpGateway {
  readonly #supervisor: Supervisor;
  readonly #server: Server;
  readonly #metrics: Registry;

  constructor(supervisor: Supervisor) {
    this.#supervisor = supervisor;
    this.#metrics = createMetrics(() => supervisor.status());
    this.#server = createServer((req, res) => {
      void this.#serve(req, res);
    });
  }

  listen(host: string, port: number, advertiseHost = host): Promise<string> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error) =>
        reject(new UnavailableError(`cannot listen on ${host}:${port}: ${error.message}`));
      this.#server.once('error', fail);
      this.#server.listen(port, host, () => {
        this.#server.off('error', fail);
        const address = this.#server.address();
        resolve(
          typeof address === 'object' && address !== null
            ? joinAddress(advertiseHost, address.port)
            : '',
        );
      });
    });
  }

  /**
   * Stops taking connections and requests; requests in flight get up to `drainMs` to be
   * answered before their connections are cut (idle keep-alive connections close at once).
   */
  close(drainMs = 0): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#server.closeAllConnections(), drainMs);
      this.#server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.#server.closeIdleConnections();
    });
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let answer: Answer;
    try {
      this.#checkToken(req);
      answer = await this.#route(req);
    } catch (error) {
      const wire = errorToWire(tooDeep(error) ? new ValidationError(DEEP_MESSAGE) : error);
      answer = {
        status: STATUS_BY_CODE[wire.code],
        body: JSON.stringify({ error: { code: wire.code, message: wire.message } }),
      };
    }
    res.writeHead(answer.status, { 'content-type': answer.type ?? 'application/json' });
    res.end(answer.body);
  }

  #checkToken(req: IncomingMessage): void {
    const token = this.#supervisor.options.token;
    if (token === undefined) return;
    // The scheme's name is case-insensitive (RFC 7235); the token is not.
    const given = /^bearer +(.*)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (given !== token) {
      throw new AuthError('this node requires "Authorization: Bearer <token>"');
    }
  }

  async #route(req: IncomingMessage): Promise<Answer> {
    const url = requestUrl(req);
    const parts = url.pathname
      .split('/')
      .filter((p) => p.length > 0)
      .map(decodePart);
    // HEAD is GET without the body (Node's response drops the body of a HEAD by itself).
    const method = req.method === undefined || req.method === 'HEAD' ? 'GET' : req.method;
    const s = this.#supervisor;
    if (method === 'GET' && parts.length === 0) {
      return { status: 200, body: statusPage(s.status()), type: 'text/html; charset=utf-8' };
    }
    if (method === 'GET' && url.pathname === '/metrics') {
      return { status: 200, body: await this.#metrics.metrics(), type: this.#metrics.contentType };
    }
    if (parts[0] !== 'v1') throw noRoute(method, url.pathname, []);
    const [, kind, name, action] = parts;
    if (method === 'GET' && kind === 'status' && parts.length === 2) return json(s.status());
    // A key may hold slashes (`visits/home`): everything after /v1/kv/ is the key.
    // The key as sent: URL parsing would fold `.` and `..` segments (x/../y would be y).
    const rawPath = (req.url ?? '/').split(/[?#]/, 1)[0]!;
    if (kind === 'kv' && name !== undefined && rawPath.startsWith(KV_PREFIX))
      return this.#kv(method, decodePart(rawPath.slice(KV_PREFIX.length)), req);
    const callRoute = (kind === 'functions' || kind === 'dags') && name !== undefined;
    if (callRoute && action === 'call' && parts.length === 4 && method !== 'POST')
      throw noRoute(method, url.pathname, ['POST']);
    if (method === 'POST' && kind === 'functions' && name !== undefined && action === 'call') {
      const body = await readJson(req, s.options.frameBytesMax);
      checkFields(body, ['args', 'timeoutMs']);
      const args = body.args ?? [];
      if (!Array.isArray(args)) throw new ValidationError('args must be an array');
      const timeoutMs = callTimeout(url, body);
      const result = await s.callAnywhere(name, encodeOwned(args), timeoutMs);
      return json({ result: decode(result) });
    }
    if (method === 'POST' && kind === 'dags' && name !== undefined && action === 'call') {
      const body = await readJson(req, s.options.frameBytesMax);
      checkFields(body, ['args', 'timeoutMs', 'consistency', 'outputKey', 'placement', 'session']);
      const args = body.args ?? {};
      if (!isRecord(args)) throw new ValidationError('args must be an object { function: [args] }');
      const options: DagCallOptions = {
        timeoutMs: callTimeout(url, body) ?? s.options.callTimeoutMs,
      };
      const text = (field: string) => {
        const value = body[field];
        if (value !== undefined && typeof value !== 'string')
          throw new ValidationError(`${field} must be a string, got ${describeValue(value)}`);
        return value;
      };
      const consistency = text('consistency');
      const outputKey = text('outputKey');
      text('session');
      if (consistency !== undefined) options.consistency = consistency;
      if (outputKey !== undefined) options.outputKey = outputKey;
      if (body.placement !== undefined) {
        const placement = body.placement;
        if (!isRecord(placement) || !Object.values(placement).every((n) => typeof n === 'string'))
          throw new ValidationError('placement must be an object { function: "node id" }');
        options.placement = placement as Record<string, string>;
      }
      const result = await s.dags.call(name, encode(args), options);
      return json({ result: decode(result) });
    }
    throw noRoute(method, url.pathname, kind === 'status' && parts.length === 2 ? ['GET'] : []);
  }

  async #kv(method: string, key: string, req: IncomingMessage): Promise<Answer> {
    const s = this.#supervisor;
    requireKey(key);
    if (method === 'GET') {
      const stored = await s.cluster.read(key);
      // A key whose value was written as `undefined` reads as not set, as in the SDK and CLI.
      const value = stored === undefined ? undefined : reveal(stored);
      if (value === undefined) throw new NotFoundError(`key ${key} is not set`);
      return json({ value });
    }
    if (method === 'PUT') {
      const body = await readJson(req, s.options.frameBytesMax);
      if (!('value' in body)) throw new ValidationError('body must be {"value": ...}');
      checkFields(body, ['value']);
      await s.put(key, { t: 'plain', v: body.value });
      return json({ ok: true });
    }
    throw noRoute(method, `/v1/kv/${key}`, ['GET', 'PUT']);
  }
}

/**
 * A request's URL. A path is joined to the origin, not resolved against it: `//v1/status`
 * resolved would read as host `v1`, path `/status`.
 */
function requestUrl(req: IncomingMessage): URL {
  const target = req.url ?? '/';
  return new URL(target.startsWith('/') ? `http://gateway${target}` : target, 'http://gateway');
}

/** A request no route serves: says which methods the path takes, when it takes any. */
function noRoute(method: string, path: string, allowed: string[]): NotFoundError {
  const hint = allowed.length === 0 ? '' : ` (it takes ${allowed.join(' or ')})`;
  return new NotFoundError(`no route ${method} ${path}${hint}`);
}

const DEEP_MESSAGE =
  'a value nests too deeply (thousands of levels) to be stored, passed on or answered';

/** V8's stack overflow: a JSON body nested thousands deep overflows the encoder's recursion. */
function tooDeep(error: unknown): boolean {
  return error instanceof RangeError && error.message.includes('call stack');
}

function json(value: unknown): Answer {
  return { status: 200, body: toJsonText(value) };
}

const KV_PREFIX = '/v1/kv/';

/** A path segment, percent-decoded; bad escapes are the client's error. */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ValidationError(`path segment ${JSON.stringify(part)} is not valid percent-encoding`);
  }
}

/** A call's deadline: `timeoutMs` in the JSON body, or in the query string. */
/** A request body's fields must be among `known`: a misspelt option is refused, not ignored. */
function checkFields(body: Record<string, unknown>, known: readonly string[]): void {
  const unknown = Object.keys(body).find((key) => !known.includes(key));
  if (unknown !== undefined)
    throw new ValidationError(
      `unknown field ${JSON.stringify(unknown)}: the body takes ${known.join(', ')}`,
    );
}

function callTimeout(url: URL, body: Record<string, unknown>): number | undefined {
  if (body.timeoutMs === undefined) return parseTimeout(url.searchParams.get('timeoutMs'));
  return parseTimeout(String(body.timeoutMs));
}

function parseTimeout(text: string | null): number | undefined {
  if (text === null) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0 || value > TIMEOUT_QUERY_MS_MAX) {
    throw new ValidationError(`timeoutMs must be an integer between 1 and ${TIMEOUT_QUERY_MS_MAX}`);
  }
  return value;
}

async function readJson(req: IncomingMessage, bytesMax: number): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > bytesMax) throw new ValidationError(`request body exceeds ${bytesMax} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (total === 0) return {};
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ValidationError('request body is not valid JSON');
  }
  if (!isRecord(body)) throw new ValidationError('request body must be a JSON object');
  return fromJsonValue(body) as Record<string, unknown>;
}
