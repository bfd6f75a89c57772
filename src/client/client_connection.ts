/**
 * The SDK's connection to the cluster: a single TCP connection to one node carrying
 * pipelined requests, matched to answers by id. It connects lazily and again after a drop;
 * when its node cannot be reached it goes to the next address it knows — those it was
 * given, then the live members the last node listed in its hello — so a client outlives
 * the node it started on. Requests in flight when the connection drops fail with
 * UnavailableError (the SDK never re-sends a request on its own, since a call may have
 * run). Every request has a deadline.
 */
import { connect as netConnect } from 'node:net';
import { errorFromWire, parseWireError, TimeoutError, UnavailableError } from '../errors.js';
import { Connection, DEFAULT_CONNECTION_LIMITS, PROTOCOL_VERSION } from '../runtime/index.js';

export interface Answer {
  value?: unknown;
  bytes?: Uint8Array;
}

interface Pending {
  resolve(answer: Answer): void;
  reject(error: Error): void;
  deadlineMs: number;
  timeoutMs: number;
}

/** Most addresses a client remembers (those given, then members it learned). */
const ADDRESSES_MAX = 64;

/** How often deadlines are checked: one timer for all requests, not one per request. */
const DEADLINE_CHECK_MS = 20;

export function parseAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address.trim());
  const port = match === null ? Number.NaN : Number(match[2]);
  if (match === null || !(port > 0 && port < 65536) || match[1] === '') {
    throw new UnavailableError(`address ${JSON.stringify(address)} is not host:port`);
  }
  return { host: match[1]!, port };
}

export class ClientConnection {
  /** The node this connection talks to (or will try first). */
  address: string;
  /** Every address known to reach the cluster, the given ones first. */
  #addresses: string[];
  readonly #token: string | undefined;
  readonly #pending = new Map<number, Pending>();
  #connection: Promise<Connection> | undefined;
  /** The open connection, once hello succeeded: requests use it without awaiting. */
  #live: Connection | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #nextId = 1;
  #closed = false;

  constructor(addresses: readonly string[], token: string | undefined) {
    if (addresses.length === 0) throw new UnavailableError('no node address to connect to');
    this.address = addresses[0]!;
    this.#addresses = [...new Set(addresses)];
    this.#token = token;
  }

  #hello: unknown;

  /** Opens the connection (saying hello); resolves to the node's hello answer. */
  async open(timeoutMs: number): Promise<unknown> {
    await this.#connect(timeoutMs);
    return this.#hello;
  }

  request(fields: Record<string, unknown>, timeoutMs: number): Promise<Answer> {
    if (this.#closed) return Promise.reject(new UnavailableError('the client was closed'));
    const live = this.#live;
    if (live !== undefined && !live.closed) return this.#send(live, fields, timeoutMs);
    return this.#connect(timeoutMs).then((connection) => this.#send(connection, fields, timeoutMs));
  }

  #send(
    connection: Connection,
    fields: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<Answer> {
    const id = this.#nextId++;
    return new Promise<Answer>((resolve, reject) => {
      const deadlineMs = performance.now() + timeoutMs;
      this.#pending.set(id, { resolve, reject, deadlineMs, timeoutMs });
      this.#watchDeadlines();
      try {
        fields.id = id;
        connection.send(fields);
      } catch (error) {
        this.#pending.delete(id);
        reject(error);
      }
    });
  }

  #watchDeadlines(): void {
    if (this.#deadlineTimer !== undefined) return;
    this.#deadlineTimer = setInterval(() => {
      const nowMs = performance.now();
      for (const [id, pending] of this.#pending) {
        if (pending.deadlineMs > nowMs) continue;
        this.#pending.delete(id);
        pending.reject(
          new TimeoutError(`no answer from ${this.address} within ${pending.timeoutMs} ms`),
        );
      }
      if (this.#pending.size === 0) {
        clearInterval(this.#deadlineTimer);
        this.#deadlineTimer = undefined;
      }
    }, DEADLINE_CHECK_MS);
  }

  close(): void {
    this.#closed = true;
    void this.#connection?.then((c) => c.close()).catch(() => undefined);
    this.#failAll(new UnavailableError('the client was closed'));
  }

  #connect(timeoutMs: number): Promise<Connection> {
    this.#connection ??= this.#openAny(timeoutMs)
      .then(async (connection) => {
        const hello: Record<string, unknown> = { op: 'hello', version: PROTOCOL_VERSION };
        if (this.#token !== undefined) hello.token = this.#token;
        try {
          this.#hello = (await this.#send(connection, hello, timeoutMs)).value;
        } catch (error) {
          connection.close();
          throw error;
        }
        this.#learnMembers(this.#hello);
        this.#live = connection;
        return connection;
      })
      .catch((error: unknown) => {
        this.#connection = undefined;
        throw error;
      });
    return this.#connection;
  }

  /** Opens a connection to the current address, else to the next one that answers. */
  async #openAny(timeoutMs: number): Promise<Connection> {
    const start = this.#addresses.indexOf(this.address);
    const order = [...this.#addresses.slice(start), ...this.#addresses.slice(0, start)];
    let firstError: unknown;
    for (const address of order) {
      try {
        const connection = await this.#open(address, timeoutMs);
        this.address = address;
        return connection;
      } catch (error) {
        firstError ??= error;
      }
    }
    throw firstError;
  }

  /** Keeps the live members a node listed, after the addresses given at connect. */
  #learnMembers(hello: unknown): void {
    const members = (hello as { members?: unknown } | undefined)?.members;
    if (!Array.isArray(members)) return;
    const valid = members.filter((m): m is string => typeof m === 'string' && m.length < 300);
    this.#addresses = [...new Set([...this.#addresses, ...valid])].slice(0, ADDRESSES_MAX);
  }

  #open(address: string, timeoutMs: number): Promise<Connection> {
    const { host, port } = parseAddress(address);
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new UnavailableError(`cannot reach squall node at ${address}: timed out`));
      }, timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new UnavailableError(`cannot reach squall node at ${address}: ${error.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        const connection = new Connection(socket, DEFAULT_CONNECTION_LIMITS, {
          onMessage: (frame) => this.#onAnswer(frame),
          onClose: (error) => this.#onDrop(error),
        });
        resolve(connection);
      });
    });
  }

  #onAnswer(frame: unknown): void {
    if (typeof frame !== 'object' || frame === null) return;
    const answer = frame as {
      id?: unknown;
      ok?: unknown;
      value?: unknown;
      bytes?: unknown;
      error?: unknown;
    };
    const pending = typeof answer.id === 'number' ? this.#pending.get(answer.id) : undefined;
    if (pending === undefined) return;
    this.#pending.delete(answer.id as number);
    if (answer.ok === true) {
      const out: Answer = { value: answer.value };
      if (answer.bytes instanceof Uint8Array) out.bytes = answer.bytes;
      pending.resolve(out);
      return;
    }
    const wire = parseWireError(answer.error);
    pending.reject(
      wire === undefined ? new UnavailableError('malformed answer from node') : errorFromWire(wire),
    );
  }

  #onDrop(error: Error | undefined): void {
    this.#connection = undefined;
    this.#live = undefined;
    const reason = error === undefined ? 'connection closed' : error.message;
    this.#failAll(new UnavailableError(`lost the connection to ${this.address}: ${reason}`));
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    clearInterval(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
  }
}
