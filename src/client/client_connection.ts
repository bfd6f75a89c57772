/**
 * The SDK's connection to the cluster: a single TCP connection to one node carrying
 * pipelined requests, matched to answers by id. It connects lazily and again after a drop;
 * when its node cannot be reached it goes to the next address it knows — those it was
 * given, then the live members the last node listed in its hello — so a client outlives
 * the node it started on. Requests in flight when the connection drops fail with
 * UnavailableError (the SDK never re-sends a request on its own, since a call may have
 * run). Every request has a deadline.
 *
 * Reply channels: once it calls a DAG, a client also holds a connection to each other
 * live node (up to REPLY_CHANNELS_MAX), saying hello with its client id there, so that a
 * DAG's sink on another node answers it directly instead of through the node it asked —
 * one hop less. Answers are matched by id whichever connection brings them; a channel that
 * fails is dropped, and the answer then comes the usual way.
 */
import { connect as netConnect } from 'node:net';
import { nanoid } from 'nanoid';
import {
  AuthError,
  errorFromWire,
  parseWireError,
  SquallError,
  TimeoutError,
  UnavailableError,
  ValidationError,
} from '../errors.js';
import {
  Connection,
  DEFAULT_CONNECTION_LIMITS,
  FrameError,
  PROTOCOL_VERSION,
} from '../runtime/index.js';
import { endsWithLargeByteString } from '../storage/index.js';

export interface Answer {
  value?: unknown;
  bytes?: Uint8Array;
}

interface Pending {
  resolve(answer: Answer): void;
  reject(error: Error): void;
  /** The connection the request went out on: it fails if that one drops. */
  connection: Connection;
  deadlineMs: number;
  timeoutMs: number;
  /** The request, to send again elsewhere if its node refuses it unrun (it is stopping). */
  fields: Record<string, unknown>;
  /** Sent again after its node was lost before answering (a call is, once). */
  rerun?: true;
}

/** Requests that change nothing: sent again to another node when theirs is lost. */
const READS = new Set(['get', 'status', 'owners', 'listDags', 'listFunctions', 'await']);

/**
 * Calls: run at least once, as the cluster re-runs a call under a node that dies, so one
 * whose own node is lost before it answers is sent once to another node (`rerunCalls`).
 */
const CALLS = new Set(['call', 'callAsync', 'callDag']);

export interface ClientConnectionOptions {
  token?: string | undefined;
  /** Send a call again to another node when its node is lost before answering. Default true. */
  rerunCalls?: boolean | undefined;
}

/** Most addresses a client remembers (those given, then members it learned). */
const ADDRESSES_MAX = 64;

/** How often deadlines are checked: one timer for all requests, not one per request. */
const DEADLINE_CHECK_MS = 20;

/** An answer's fields before its payload: `{id, ok, value|bytes}` stays well within this. */
const ANSWER_PREFIX_BYTES_MAX = 64;

/** Most reply channels a client keeps (connections to nodes other than its own). */
const REPLY_CHANNELS_MAX = 8;
/** How long a node whose reply channel failed is left alone before the next try. */
const REPLY_CHANNEL_RETRY_MS = 5000;
/** How often a client that calls DAGs asks its node for the live members again. */
const MEMBERS_REFRESH_MS = 5000;

export function parseAddress(address: string): { host: string; port: number } {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(address.trim())) {
    throw new ValidationError(
      `address ${JSON.stringify(address)} is a URL: give host:port, the node's port (the SDK and CLI do not speak HTTP)`,
    );
  }
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(address.trim());
  const port = match === null ? Number.NaN : Number(match[2]);
  if (match === null || !(port > 0 && port < 65536) || match[1] === '') {
    throw new ValidationError(`address ${JSON.stringify(address)} is not host:port`);
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
  /** This client's id, given in every hello (reply channels are matched by it). */
  readonly clientId = nanoid(16);
  /** Reply channels by address: open, or opening. */
  readonly #channels = new Map<string, Promise<Connection | undefined>>();
  /** When the live members were last learned (from a hello). */
  #membersAtMs = 0;
  /** When each address whose channel failed may be tried again. */
  readonly #channelRetryAtMs = new Map<string, number>();

  readonly #rerunCalls: boolean;

  constructor(addresses: readonly string[], options: ClientConnectionOptions = {}) {
    if (addresses.length === 0) throw new ValidationError('no node address to connect to');
    for (const address of addresses) parseAddress(address);
    this.address = addresses[0]!;
    this.#addresses = [...new Set(addresses)];
    this.#token = options.token;
    this.#rerunCalls = options.rerunCalls ?? true;
  }

  #hello: unknown;

  /** Opens the connection (saying hello); resolves to the node's hello answer. */
  async open(timeoutMs: number): Promise<unknown> {
    await this.#connect(timeoutMs);
    return this.#hello;
  }

  /** Sends a request; `rerun`: it is a call sent again after its node was lost. */
  request(fields: Record<string, unknown>, timeoutMs: number, rerun = false): Promise<Answer> {
    if (this.#closed) return Promise.reject(new UnavailableError('the client was closed'));
    const live = this.#live;
    if (live !== undefined && !live.closed) return this.#send(live, fields, timeoutMs, rerun);
    return this.#connect(timeoutMs).then((connection) =>
      this.#send(connection, fields, timeoutMs, rerun),
    );
  }

  #send(
    connection: Connection,
    fields: Record<string, unknown>,
    timeoutMs: number,
    rerun = false,
  ): Promise<Answer> {
    const id = this.#nextId++;
    return new Promise<Answer>((resolve, reject) => {
      const deadlineMs = performance.now() + timeoutMs;
      const pending: Pending = { resolve, reject, deadlineMs, timeoutMs, connection, fields };
      if (rerun) pending.rerun = true;
      this.#pending.set(id, pending);
      this.#watchDeadlines();
      try {
        fields.id = id;
        connection.send(fields);
      } catch (error) {
        this.#pending.delete(id);
        // A value CBOR cannot carry (a function, a symbol) is the caller's bad input.
        reject(
          error instanceof SquallError
            ? error
            : new ValidationError(`request cannot be encoded: ${(error as Error).message}`),
        );
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

  /**
   * Opens reply channels to the live members the node listed that have none yet (in the
   * background; a DAG call does not wait for them).
   */
  openReplyChannels(timeoutMs: number): void {
    if (this.#closed) return;
    this.#openChannelsToMembers(timeoutMs);
    // Nodes that joined since: a repeated hello on the live connection lists them.
    const live = this.#live;
    if (live === undefined || performance.now() - this.#membersAtMs < MEMBERS_REFRESH_MS) return;
    this.#membersAtMs = performance.now();
    this.#send(live, this.#helloFields(), timeoutMs).then(
      (answer) => {
        this.#hello = answer.value;
        this.#learnMembers(answer.value);
        this.#openChannelsToMembers(timeoutMs);
      },
      () => undefined,
    );
  }

  #openChannelsToMembers(timeoutMs: number): void {
    const members = (this.#hello as { members?: unknown } | undefined)?.members;
    if (!Array.isArray(members)) return;
    const nowMs = performance.now();
    for (const address of members) {
      if (this.#channels.size >= REPLY_CHANNELS_MAX) return;
      if (typeof address !== 'string' || address === this.address || this.#channels.has(address))
        continue;
      if ((this.#channelRetryAtMs.get(address) ?? 0) > nowMs) continue;
      this.#channelRetryAtMs.delete(address);
      this.#channels.set(address, this.#openChannel(address, timeoutMs));
    }
  }

  async #openChannel(address: string, timeoutMs: number): Promise<Connection | undefined> {
    let connection: Connection | undefined;
    try {
      connection = await this.#open(address, timeoutMs, (c, error) => {
        this.#dropChannel(address);
        this.#failSentOn(c, address, error);
      });
      await this.#send(connection, this.#helloFields(), timeoutMs);
      if (this.#closed) connection.close();
      return connection;
    } catch {
      // No channel there: answers from that node come through this client's own node.
      connection?.close();
      this.#dropChannel(address);
      return undefined;
    }
  }

  #dropChannel(address: string): void {
    this.#channels.delete(address);
    if (this.#closed) return;
    this.#channelRetryAtMs.set(address, performance.now() + REPLY_CHANNEL_RETRY_MS);
    if (this.#channelRetryAtMs.size > ADDRESSES_MAX) this.#channelRetryAtMs.clear();
  }

  #helloFields(): Record<string, unknown> {
    const hello: Record<string, unknown> = {
      op: 'hello',
      version: PROTOCOL_VERSION,
      client: this.clientId,
    };
    if (this.#token !== undefined) hello.token = this.#token;
    return hello;
  }

  close(): void {
    this.#closed = true;
    void this.#connection?.then((c) => c.close()).catch(() => undefined);
    for (const channel of this.#channels.values()) void channel.then((c) => c?.close());
    this.#channels.clear();
    this.#failAll(new UnavailableError('the client was closed'));
  }

  #connect(timeoutMs: number): Promise<Connection> {
    this.#connection ??= this.#openAny(timeoutMs)
      .then((connection) => {
        this.#learnMembers(this.#hello);
        this.#membersAtMs = performance.now();
        this.#live = connection;
        return connection;
      })
      .catch((error: unknown) => {
        this.#connection = undefined;
        throw error;
      });
    return this.#connection;
  }

  /**
   * Opens a connection to the current address and says hello, else to the next one that
   * does (a node that accepts and then drops the connection, as one dying may, counts as
   * unreachable). A node that answers the hello with a refusal (token, protocol) stops the
   * search: the others would refuse too.
   */
  async #openAny(timeoutMs: number): Promise<Connection> {
    const start = this.#addresses.indexOf(this.address);
    const order = [...this.#addresses.slice(start), ...this.#addresses.slice(0, start)];
    let firstError: unknown;
    for (const address of order) {
      let connection: Connection | undefined;
      try {
        connection = await this.#open(address, timeoutMs, (c, error) =>
          this.#onDrop(c, address, error),
        );
        this.#hello = (await this.#send(connection, this.#helloFields(), timeoutMs)).value;
        this.address = address;
        const frameBytesMax = (this.#hello as { frameBytesMax?: unknown } | undefined)
          ?.frameBytesMax;
        if (typeof frameBytesMax === 'number' && frameBytesMax > 0)
          connection.sendBytesMax = Math.min(connection.sendBytesMax, frameBytesMax);
        return connection;
      } catch (error) {
        connection?.close();
        if (error instanceof AuthError || error instanceof ValidationError) throw error;
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

  #open(
    address: string,
    timeoutMs: number,
    onClose: (connection: Connection, error: Error | undefined) => void,
  ): Promise<Connection> {
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
        const connection: Connection = new Connection(
          socket,
          DEFAULT_CONNECTION_LIMITS,
          {
            onMessage: (frame) => this.#onAnswer(frame),
            onClose: (error) => onClose(connection, error),
          },
          { decodeInPlace: (frame) => endsWithLargeByteString(frame, ANSWER_PREFIX_BYTES_MAX) },
        );
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
      notRun?: unknown;
    };
    const pending = typeof answer.id === 'number' ? this.#pending.get(answer.id) : undefined;
    if (pending === undefined) return;
    this.#pending.delete(answer.id as number);
    if (answer.ok === false && answer.notRun === true && pending.fields.op !== 'hello') {
      this.#resendElsewhere(pending);
      return;
    }
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

  /**
   * A node that is stopping refuses new requests without running them (and closes each
   * connection once its requests in flight are answered): this one goes to the next node,
   * within what is left of its deadline, and so do all later requests.
   */
  #resendElsewhere(pending: Pending, rerun = false): void {
    if (this.#live === pending.connection) {
      this.#live = undefined;
      this.#connection = undefined;
    }
    const leftMs = pending.deadlineMs - performance.now();
    if (leftMs <= 0) {
      pending.reject(new TimeoutError(`no answer within ${pending.timeoutMs} ms`));
      return;
    }
    this.request(pending.fields, leftMs, rerun || pending.rerun === true).then(
      pending.resolve,
      pending.reject,
    );
  }

  #onDrop(connection: Connection, address: string, error: Error | undefined): void {
    if (this.#live === connection) {
      this.#connection = undefined;
      this.#live = undefined;
    }
    this.#failSentOn(connection, address, error);
  }

  /**
   * The requests sent on a connection that dropped (answers that come on other connections
   * still count): a read is sent again to the next node, as it changes nothing; anything
   * else may or may not have run there, so it fails with TimeoutError, the error that means
   * "outcome unknown" (UnavailableError means it did not run: safe to send again).
   */
  #failSentOn(connection: Connection, address: string, error: Error | undefined): void {
    const reason = error === undefined ? 'connection closed' : error.message;
    for (const [id, pending] of this.#pending) {
      if (pending.connection !== connection) continue;
      this.#pending.delete(id);
      // What answered does not speak squall (an HTTP port, say): nothing ran there.
      if (error instanceof FrameError) {
        pending.reject(new UnavailableError(`cannot use ${address}: ${error.message}`));
        continue;
      }
      if (READS.has(pending.fields.op as string)) {
        this.#resendElsewhere(pending);
        continue;
      }
      if (
        this.#rerunCalls &&
        pending.rerun === undefined &&
        CALLS.has(pending.fields.op as string)
      ) {
        // Under the id it was first sent with: the node derives its message ids from it.
        pending.fields.callKey = pending.fields.id;
        this.#resendElsewhere(pending, true);
        continue;
      }
      pending.reject(
        new TimeoutError(
          `lost the connection to ${address} (${reason}) before it answered: the ${String(pending.fields.op)} may or may not have run there`,
        ),
      );
    }
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    clearInterval(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
  }
}
