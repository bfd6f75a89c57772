/**
 * The connections between supervisors. A node opens one connection to a peer lazily, on
 * the first frame for it, says hello with its identity (and the cluster token), and keeps
 * it; a connection a peer opened to us serves as our route back to it too, so a pair of
 * nodes usually shares one connection. Frames are one-way core messages (membership,
 * replication) or numbered requests with replies (forwarded reads and writes), answered on
 * the connection they came in on.
 *
 * Limits: frames queued while connecting are bounded (past it they are dropped: the cores
 * tolerate loss, and a request fails with UnavailableError); a peer that cannot be reached
 * is not retried before a backoff that doubles up to `retryMaxMs`; requests have deadlines.
 */
import { connect as netConnect } from 'node:net';
import {
  errorFromWire,
  errorToWire,
  parseWireError,
  TimeoutError,
  UnavailableError,
  type WireError,
} from '../errors.js';
import { encode, endsWithLargeByteString } from '../storage/index.js';
import { Connection, type ConnectionLimits } from './connection.js';
import { FrameError } from './frame_decoder.js';
import { PROTOCOL_VERSION } from './protocol.js';
import { isRecord } from './validate.js';

export interface PeerIdentity {
  id: string;
  address: string;
}

/** The request never reached the peer (no connection): safe to try elsewhere. */
export class PeerUnreachableError extends UnavailableError {}

export type PeerFrame =
  | { p: 'core'; core: string; m: unknown }
  | { p: 'rpc'; id: number; op: string; a: unknown }
  | { p: 'reply'; id: number; ok: true; v: unknown }
  | { p: 'reply'; id: number; ok: false; e: WireError };

/** Serves one request from a peer; resolves to the reply value. */
export type RpcHandler = (
  fromAddress: string,
  op: string,
  args: unknown,
) => Promise<unknown> | unknown;
export type CoreHandler = (fromAddress: string, core: string, message: unknown) => void;

const QUEUED_FRAMES_MAX = 4096;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;
const REQUESTS_PENDING_MAX = 100_000;

interface Link {
  connection: Connection | undefined;
  queue: PeerFrame[];
  connecting: boolean;
  retryAtMs: number;
  backoffMs: number;
}

export class PeerLinks {
  readonly #self: PeerIdentity;
  readonly #token: string | undefined;
  readonly #replication: number | undefined;
  readonly #limits: ConnectionLimits;
  readonly #links = new Map<string, Link>();
  readonly #pending = new Map<
    number,
    {
      resolve(v: unknown): void;
      reject(e: Error): void;
      timer: NodeJS.Timeout;
      /** The connection the request went out on (once sent): it fails if that one closes. */
      sentOn?: Connection;
    }
  >();
  #onCore: CoreHandler = () => undefined;
  #onRpc: RpcHandler = () => undefined;
  #nextId = 1;
  #closed = false;
  /**
   * Told when the link to `address` is lost: its connection closed, or a dial failed with
   * frames waiting (which are then dropped). One-way messages on it may be lost, and a peer
   * that restarted has lost what it was running (dag_runner.ts fails those attempts).
   */
  onLinkLost: ((address: string) => void) | undefined;

  readonly #onRefused: (address: string, error: Error) => void;

  /**
   * `onRefused`: a peer answered this node's hello with an error (a wrong token, a
   * different replication factor). `replication`: the copies per key this node keeps,
   * told in its hello so that a peer that keeps another number refuses it.
   */
  constructor(
    self: PeerIdentity,
    token: string | undefined,
    limits: ConnectionLimits,
    onRefused: (address: string, error: Error) => void = () => undefined,
    replication?: number,
  ) {
    this.#self = self;
    this.#token = token;
    this.#replication = replication;
    this.#limits = limits;
    this.#onRefused = onRefused;
  }

  handle(onCore: CoreHandler, onRpc: RpcHandler): void {
    this.#onCore = onCore;
    this.#onRpc = onRpc;
  }

  /** Best-effort delivery of a core message. */
  /**
   * A one-way message; false when it was dropped, not sent or queued (the peer was
   * unreachable moments ago and its redial waits out a backoff): a caller that must know
   * it arrived (a DAG's plan or input) acts on that at once rather than at its timeout.
   */
  sendCore(address: string, core: string, message: unknown): boolean {
    return this.#send(address, { p: 'core', core, m: message });
  }

  /**
   * The peer is known alive again (the membership heard from it): the next message dials it
   * at once, instead of being dropped until the backoff its absence built up (up to
   * RETRY_MAX_MS) runs out — DAG messages to a node that had just restarted were lost so,
   * and their calls ran to their timeout (found by a chaos soak).
   */
  retryNow(address: string): void {
    const link = this.#links.get(address);
    if (link === undefined) return;
    link.retryAtMs = 0;
    link.backoffMs = RETRY_MIN_MS;
  }

  request(address: string, op: string, args: unknown, timeoutMs: number): Promise<unknown> {
    if (this.#pending.size >= REQUESTS_PENDING_MAX) {
      return Promise.reject(new UnavailableError('too many requests to peers in flight'));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new TimeoutError(`peer ${address} did not answer ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      if (!this.#send(address, { p: 'rpc', id, op, a: args })) {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(new PeerUnreachableError(`peer ${address} cannot be reached`));
      }
    });
  }

  /** Takes over a connection a peer opened to us (after its hello). */
  adopt(connection: Connection, peer: PeerIdentity): void {
    // A peer that reconnects after this node stopped its links gets no link.
    if (this.#closed) {
      connection.close();
      return;
    }
    const link = this.#link(peer.address);
    connection.decodeInPlace = isLargeReplyFrame;
    connection.setHandlers({
      onMessage: (frame) => this.#onFrame(peer.address, connection, frame),
      onClose: () => {
        if (link.connection === connection) link.connection = undefined;
        this.#failSentOn(connection, peer.address);
      },
    });
    if (link.connection === undefined || link.connection.closed) {
      link.connection = connection;
      this.#flush(link);
    }
  }

  close(): void {
    this.#closed = true;
    for (const link of this.#links.values()) link.connection?.close();
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new UnavailableError('node stopped'));
    }
    this.#pending.clear();
  }

  /** Queues or writes a frame; false when the peer is known to be unreachable right now. */
  #send(address: string, frame: PeerFrame): boolean {
    if (this.#closed || address === this.#self.address) return false;
    const link = this.#link(address);
    if (link.connection !== undefined && !link.connection.closed) {
      try {
        link.connection.send(frame);
        this.#sentOn(frame, link.connection);
        return true;
      } catch {
        return false;
      }
    }
    if (!link.connecting && performance.now() < link.retryAtMs) return false;
    if (link.queue.length >= QUEUED_FRAMES_MAX) return false;
    link.queue.push(frame);
    if (!link.connecting) this.#dial(address, link);
    return true;
  }

  #link(address: string): Link {
    let link = this.#links.get(address);
    if (link === undefined) {
      link = {
        connection: undefined,
        queue: [],
        connecting: false,
        retryAtMs: 0,
        backoffMs: RETRY_MIN_MS,
      };
      this.#links.set(address, link);
    }
    return link;
  }

  #dial(address: string, link: Link): void {
    link.connecting = true;
    const [host, portText] = splitAddress(address);
    const socket = netConnect({ host, port: Number(portText) });
    const fail = () => {
      link.connecting = false;
      if (link.queue.length > 0) this.onLinkLost?.(address);
      for (const frame of link.queue) {
        if (frame.p === 'rpc')
          this.#fail(frame.id, new PeerUnreachableError(`peer ${address} cannot be reached`));
      }
      link.queue = [];
      link.retryAtMs = performance.now() + link.backoffMs;
      link.backoffMs = Math.min(RETRY_MAX_MS, link.backoffMs * 2);
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.off('error', fail);
      const connection = new Connection(socket, this.#limits, undefined, {
        decodeInPlace: isLargeReplyFrame,
      });
      connection.setHandlers({
        onMessage: (frame) => this.#onFrame(address, connection, frame),
        onClose: (error) => {
          if (link.connection === connection) link.connection = undefined;
          this.#failSentOn(connection, address);
          if (!this.#closed) this.onLinkLost?.(address);
          // Something answered, but not in frames: a seed given as another program's port
          // (a node's HTTP port, say) is named as such, not left as "has not answered".
          if (error instanceof FrameError) this.#onRefused(address, error);
        },
      });
      const hello: Record<string, unknown> = {
        id: 0,
        op: 'hello',
        version: PROTOCOL_VERSION,
        peer: this.#self,
      };
      if (this.#token !== undefined) hello.token = this.#token;
      if (this.#replication !== undefined) hello.replication = this.#replication;
      connection.send(hello);
      link.connection = connection;
      link.connecting = false;
      link.backoffMs = RETRY_MIN_MS;
      this.#flush(link);
    });
  }

  #flush(link: Link): void {
    const queue = link.queue;
    link.queue = [];
    for (const frame of queue) {
      try {
        link.connection?.send(frame);
        if (link.connection !== undefined) this.#sentOn(frame, link.connection);
      } catch {
        // a frame too large for the link: dropped like any lost message
      }
    }
  }

  #onFrame(address: string, connection: Connection, frame: unknown): void {
    if (!isRecord(frame)) return;
    if (frame.p === 'core' && typeof frame.core === 'string') {
      this.#onCore(address, frame.core, frame.m);
    } else if (frame.p === 'rpc' && typeof frame.id === 'number' && typeof frame.op === 'string') {
      void this.#serve(address, connection, frame.id, frame.op, frame.a);
    } else if (frame.p === 'reply' && typeof frame.id === 'number') {
      this.#settle(frame);
    } else if (frame.p === undefined && frame.id === 0 && frame.ok === false) {
      // The answer to our hello (id 0): refused. The peer closes the connection next.
      const wire = parseWireError(frame.error);
      this.#onRefused(
        address,
        wire === undefined ? new UnavailableError('refused') : errorFromWire(wire),
      );
    }
  }

  async #serve(address: string, connection: Connection, id: number, op: string, args: unknown) {
    let reply: PeerFrame;
    try {
      reply = { p: 'reply', id, ok: true, v: await this.#onRpc(address, op, args) };
    } catch (error) {
      reply = { p: 'reply', id, ok: false, e: errorToWire(error) };
    }
    if (connection.closed) return;
    try {
      connection.send(reply);
    } catch (error) {
      connection.send({ p: 'reply', id, ok: false, e: errorToWire(error) });
    }
  }

  #sentOn(frame: PeerFrame, connection: Connection): void {
    if (frame.p !== 'rpc') return;
    const pending = this.#pending.get(frame.id);
    if (pending !== undefined) pending.sentOn = connection;
  }

  /**
   * Fails at once the requests sent on a connection that closed (a peer killed under them)
   * instead of letting each wait for its timeout, so a read can go to another owner now.
   * As a timeout: the peer may have applied the request, so a write is not sent elsewhere.
   */
  #failSentOn(connection: Connection, address: string): void {
    for (const [id, pending] of this.#pending) {
      if (pending.sentOn !== connection) continue;
      const message = `the connection to peer ${address} closed before it answered`;
      this.#fail(id, new TimeoutError(`${message} (the request may have been applied)`));
    }
  }

  #fail(id: number, error: Error): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    pending.reject(error);
  }

  #settle(frame: Record<string, unknown>): void {
    const pending = this.#pending.get(frame.id as number);
    if (pending === undefined) return;
    this.#pending.delete(frame.id as number);
    clearTimeout(pending.timer);
    if (frame.ok === true) {
      pending.resolve(frame.v);
      return;
    }
    const wire = parseWireError(frame.e);
    pending.reject(
      wire === undefined ? new UnavailableError('malformed reply from peer') : errorFromWire(wire),
    );
  }
}

/** `host:port`, with an IPv6 host in brackets (what `splitAddress` takes apart). */
export function joinAddress(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function splitAddress(address: string): [string, string] {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  return [host, address.slice(colon + 1)];
}

/**
 * The encoded start of a reply frame, `{p: 'reply', ...}` with its four fields (the order
 * `#serve` writes them in): the map header, the key "p", the string "reply" — taken from
 * the codec itself, so it cannot drift from what the codec writes.
 */
const REPLY_PREFIX = ((): Buffer => {
  const sample = Buffer.from(encode({ p: 'reply', id: 0, ok: true, v: null }));
  const end = sample.indexOf('reply') + 'reply'.length;
  return Buffer.from(sample.subarray(0, end));
})();

/**
 * Whether a frame answers one of this node's requests: each carries one value (a read's, a
 * write's), so decoding it in place keeps nothing larger than that value alive.
 */
export function isReplyFrame(frame: Buffer): boolean {
  return (
    frame.length > REPLY_PREFIX.length &&
    frame.subarray(0, REPLY_PREFIX.length).equals(REPLY_PREFIX)
  );
}

/** An answer's fields and the lattice's before its payload stay well within this. */
const REPLY_PREFIX_BYTES_MAX = 160;

/** A reply that is nearly all one large byte string: decoded in place (connection.ts). */
function isLargeReplyFrame(frame: Buffer): boolean {
  return isReplyFrame(frame) && endsWithLargeByteString(frame, REPLY_PREFIX_BYTES_MAX);
}
