/**
 * The TCP endpoint clients talk to. Each connection must open with `hello` (protocol
 * version, and the token when the node has one); requests are then pipelined and answered
 * by id, in whatever order they finish. A frame that is too large, is not CBOR or carries
 * no usable id closes that connection only; a request with bad fields gets an INVALID
 * answer. Requests in flight per connection are bounded.
 */
import { createServer, type Server, type Socket } from 'node:net';
import {
  AuthError,
  errorToWire,
  NotFoundError,
  UnavailableError,
  ValidationError,
} from '../errors.js';
import { Connection, DEFAULT_CONNECTION_LIMITS } from './connection.js';
import type { DagReply } from './dag_runner.js';
import type { DagCallOptions } from './dag_service.js';
import { joinAddress } from './peer_links.js';
import { type ClientRequest, parseClientRequest, requestId } from './protocol.js';
import type { Supervisor } from './supervisor.js';
import { isRecord } from './validate.js';

const REQUESTS_IN_FLIGHT_MAX = 4096;
/** Client connections open at once; more are refused by the kernel backlog. */
const CONNECTIONS_MAX = 10_000;
/** How often a draining server looks for sessions whose requests were all answered. */
const DRAIN_POLL_MS = 20;
/** How long a draining session must send nothing before it is closed. */
const DRAIN_QUIET_MS = 100;

interface Session {
  connection: Connection;
  authed: boolean;
  inFlight: number;
  /** When the last request arrived (Date.now), for draining. */
  lastFrameMs: number;
  /** The id the client gave in its hello (DAG sinks on this node may answer it here). */
  clientId?: string;
}

export class ClientServer {
  readonly #supervisor: Supervisor;
  readonly #server: Server;
  readonly #sessions = new Set<Session>();
  /** Sessions by client id: the latest connection of each client that gave one. */
  readonly #byClient = new Map<string, Session>();

  /** Every socket accepted and still open (sessions, and peers adopted by the cluster). */
  readonly #sockets = new Set<Socket>();
  /** Set once the listener was told to close; resolves when every accepted socket closed. */
  #closed: Promise<void> | undefined;
  /** Stopping: new requests are refused unrun (see `drain`). */
  #draining = false;

  constructor(supervisor: Supervisor) {
    this.#supervisor = supervisor;
    this.#server = createServer((socket) => this.#accept(socket));
    this.#server.maxConnections = CONNECTIONS_MAX;
    supervisor.answerClient = (reply, bytes) => this.#answer(reply, bytes);
  }

  /** Answers request `reply.id` of client `reply.client` on its connection to this node. */
  #answer(reply: DagReply, bytes: Uint8Array): boolean {
    const session = this.#byClient.get(reply.client);
    if (session === undefined || session.connection.closed) return false;
    // Not handed over (a full backlog, a result too large): the coordinator answers instead.
    if (!this.#reply(session, reply.id, undefined, { bytes })) return false;
    this.#supervisor.counters.dagAnswersDirect += 1;
    return true;
  }

  /** Listens on `host`; resolves to the address to give out, `advertiseHost:port`. */
  listen(host: string, port: number, advertiseHost = host): Promise<string> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error) =>
        reject(new UnavailableError(`cannot listen on ${host}:${port}: ${error.message}`));
      this.#server.once('error', fail);
      this.#server.listen(port, host, () => {
        this.#server.off('error', fail);
        const address = this.#server.address();
        if (address === null || typeof address === 'string') {
          reject(new Error('server has no TCP address'));
          return;
        }
        resolve(joinAddress(advertiseHost, address.port));
      });
    });
  }

  /**
   * Stops accepting and closes every connection it accepted — client sessions and the peer
   * connections it handed to the cluster alike: `server.close` waits for all of them, and a
   * peer that reconnected while this node was leaving would otherwise keep it from exiting.
   */
  async close(): Promise<void> {
    const closed = this.#stopListening();
    for (const session of this.#sessions) session.connection.close();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  /**
   * The first step of a graceful stop. The listener stops taking connections; a request that
   * arrives from now on is refused unrun (`notRun`: the SDK sends it to another node); each
   * client session is closed once the requests it has in flight are answered and it has
   * sent nothing for DRAIN_QUIET_MS (closing under a request just sent would fail it though
   * it never ran), or at `drainMs`. Peer connections stay open: the node still hands its
   * keys off over them.
   */
  async drain(drainMs: number): Promise<void> {
    this.#draining = true;
    void this.#stopListening();
    const deadline = Date.now() + drainMs;
    for (;;) {
      const quietSinceMs = Date.now() - DRAIN_QUIET_MS;
      for (const session of this.#sessions)
        if (session.inFlight === 0 && session.lastFrameMs <= quietSinceMs)
          session.connection.close();
      if (this.#sessions.size === 0 || Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
    for (const session of this.#sessions) session.connection.close();
  }

  #stopListening(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => this.#server.close(() => resolve()));
    return this.#closed;
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const limits = {
      ...DEFAULT_CONNECTION_LIMITS,
      frameBytesMax: this.#supervisor.options.frameBytesMax,
    };
    const session: Session = {
      connection: new Connection(socket, limits),
      authed: false,
      inFlight: 0,
      lastFrameMs: Date.now(),
    };
    this.#sessions.add(session);
    session.connection.setHandlers({
      onMessage: (frame) => this.#onFrame(session, frame),
      onClose: (error) => {
        this.#sessions.delete(session);
        if (session.clientId !== undefined && this.#byClient.get(session.clientId) === session)
          this.#byClient.delete(session.clientId);
        if (error !== undefined) {
          this.#supervisor.log.warn(
            { peer: socket.remoteAddress },
            `client connection closed: ${error.message}`,
          );
        }
      },
    });
  }

  #onFrame(session: Session, frame: unknown): void {
    session.lastFrameMs = Date.now();
    const id = requestId(frame);
    if (id === undefined || !isRecord(frame)) {
      session.connection.close(new Error('malformed request: no id'));
      return;
    }
    if (session.inFlight >= REQUESTS_IN_FLIGHT_MAX) {
      this.#reply(
        session,
        id,
        new UnavailableError(`more than ${REQUESTS_IN_FLIGHT_MAX} requests in flight`),
      );
      return;
    }
    let request: ClientRequest;
    try {
      request = parseClientRequest(id, frame);
      this.#checkAuth(session, request);
    } catch (error) {
      this.#reply(session, id, error);
      // A refused hello ends the connection: a peer refused (another token, another
      // replication factor) must not stay half in the cluster.
      if (error instanceof AuthError || isRecord(frame.peer)) session.connection.close();
      return;
    }
    if (this.#draining && request.op !== 'hello') {
      this.#refuseUnrun(session, id);
      return;
    }
    let quick: Reply | undefined;
    try {
      quick = this.#handleNow(request);
    } catch (error) {
      this.#reply(session, id, error);
      return;
    }
    if (quick !== undefined) {
      this.#reply(session, id, undefined, quick);
      return;
    }
    session.inFlight += 1;
    void this.#serve(request, session, id);
  }

  /**
   * Handles a request that needs a promise and answers it. One async method, not a chain of
   * `then` callbacks: under tsx every closure made per request also costs a `__name`
   * definition (docs/ARCHITECTURE.md, "Latency").
   */
  async #serve(request: ClientRequest, session: Session, id: number): Promise<void> {
    // Handled after the frames already read are parsed, as a `then` callback would be.
    await undefined;
    try {
      this.#reply(session, id, undefined, await this.#handle(request, session));
    } catch (error) {
      this.#reply(session, id, error);
    } finally {
      session.inFlight -= 1;
    }
  }

  #checkAuth(session: Session, request: ClientRequest): void {
    if (request.op === 'hello') {
      const token = this.#supervisor.options.token;
      if (token !== undefined && request.token !== token) {
        throw new AuthError('this node requires a valid token');
      }
      // A peer with a token expects a cluster that keeps others out: joining one without
      // would hand its data to anyone who asks (found by QA). Clients may still bring one.
      if (token === undefined && request.peer !== undefined && request.token !== undefined) {
        throw new AuthError('this node runs without a token, the joining node with one');
      }
      session.authed = true;
      if (request.client !== undefined && request.peer === undefined) {
        const previous = session.clientId;
        if (previous !== undefined && this.#byClient.get(previous) === session)
          this.#byClient.delete(previous);
        session.clientId = request.client;
        this.#byClient.set(request.client, session);
      }
      if (request.peer !== undefined) {
        this.#supervisor.cluster.checkPeerReplication(request.replication);
        // Another supervisor: from now on this connection carries peer frames.
        this.#sessions.delete(session);
        this.#supervisor.cluster.adoptPeer(session.connection, request.peer);
      }
      return;
    }
    if (!session.authed)
      throw new AuthError('say hello first (with the token, when the node has one)');
  }

  /** Reads and writes this node can answer alone, answered without a promise (hot path). */
  #handleNow(request: ClientRequest): Reply | undefined {
    if (request.op === 'get') {
      const here = this.#supervisor.getHere(request.key);
      return here === undefined ? undefined : { value: here.value };
    }
    if (request.op === 'put') {
      return this.#supervisor.putHere(request.key, request.value, request.ack) ? {} : undefined;
    }
    return undefined;
  }

  async #handle(request: ClientRequest, session: Session): Promise<Reply> {
    const s = this.#supervisor;
    switch (request.op) {
      case 'hello': {
        // The live members' addresses: where the client goes if it loses this node.
        const members = s.cluster
          .liveNodes()
          .map((id) => (id === s.nodeId ? s.address : s.cluster.membership.addressOf(id)))
          .filter((address) => address !== undefined);
        // Its frame limit: a client sends nothing larger (the node would close the connection).
        const { frameBytesMax } = s.options;
        return { value: { nodeId: s.nodeId, address: s.address, members, frameBytesMax } };
      }
      case 'register': {
        const def = await s.register(request.name, request.source, request.init);
        return { value: { name: def.name, version: def.version, kind: def.kind } };
      }
      case 'deploy':
        return { value: await s.deploy(request.code, request.filename) };
      case 'call': {
        const { name, args, timeoutMs } = request;
        return {
          bytes: await s.callAnywhere(name, args, timeoutMs, undefined, sendKey(request, session)),
        };
      }
      case 'callAsync': {
        const key = s.callAsync(
          request.name,
          request.args,
          request.timeoutMs,
          sendKey(request, session),
        );
        return { value: { key } };
      }
      case 'await':
        return { bytes: await s.awaitResult(request.key, request.timeoutMs) };
      case 'get':
        return { value: await s.get(request.key) };
      case 'put':
        await s.put(request.key, request.value, request.ack);
        return {};
      case 'registerDag': {
        const dag = await s.dags.register(request.name, request.functions, request.edges);
        return { value: { name: dag.name, functions: dag.functions, sink: dag.sink } };
      }
      case 'callDag':
        return this.#callDag(request, session);
      case 'deleteDag':
        await s.dags.delete(request.name);
        return {};
      case 'listDags':
        return { value: s.dags.list() };
      case 'status':
        return { value: s.status() };
      case 'owners': {
        const cluster = s.cluster;
        const owners = cluster.owners(request.key);
        return { value: owners.map((id) => ({ id, address: cluster.view.addressOf(id) ?? '' })) };
      }
      case 'listFunctions':
        return { value: s.registry.list(request.prefix).map((def) => def.name) };
    }
  }

  async #callDag(request: ClientRequest & { op: 'callDag' }, session: Session): Promise<Reply> {
    const s = this.#supervisor;
    const options: DagCallOptions = { timeoutMs: request.timeoutMs ?? s.options.callTimeoutMs };
    if (request.consistency !== undefined) options.consistency = request.consistency;
    if (request.outputKey !== undefined) options.outputKey = request.outputKey;
    if (request.placement !== undefined) options.placement = request.placement;
    const key = sendKey(request, session);
    if (key !== undefined) options.sendKey = key;
    if (request.direct) {
      if (session.clientId !== undefined)
        options.reply = { client: session.clientId, id: request.id };
      const bytes = await s.dags.answer(request.name, request.args, options);
      // Undefined: the sink's node answered the client on its own connection there.
      return bytes === undefined ? { answered: true } : { bytes };
    }
    // An unknown DAG is refused now (as a direct call is), not first at the Future's get.
    if (s.dags.get(request.name) === undefined)
      throw new NotFoundError(`DAG ${request.name} is not registered`);
    const start = () => s.dags.call(request.name, request.args, options);
    return { value: { key: s.runAsync(start, options.timeoutMs) } };
  }

  #refuseUnrun(session: Session, id: number): void {
    if (session.connection.closed) return;
    const error = errorToWire(new UnavailableError(`node ${this.#supervisor.nodeId} is stopping`));
    session.connection.send({ id, ok: false, error, notRun: true });
  }

  /** Answers request `id`; false when the answer could not be handed to the connection. */
  #reply(session: Session, id: number, error: unknown, result?: Reply): boolean {
    if (error === undefined && result?.answered) return true;
    if (session.connection.closed) return false;
    try {
      if (error !== undefined) {
        session.connection.send({ id, ok: false, error: errorToWire(error) });
      } else {
        session.connection.send({ id, ok: true, ...result });
      }
      return true;
    } catch (sendError) {
      if (sendError instanceof ValidationError && error === undefined) {
        this.#reply(session, id, sendError);
      } else {
        session.connection.close(sendError as Error);
      }
      return false;
    }
  }
}

type Reply = { value?: unknown; bytes?: Uint8Array; answered?: true };

/**
 * What a client's call's message ids derive from: its client's id and the id the request
 * was first sent under, so that the call sent again to another node after its node was
 * lost sends its messages under the same ids, and receivers drop those that came twice.
 */
function sendKey(request: { id: number; callKey?: number }, session: Session): string | undefined {
  if (session.clientId === undefined) return undefined;
  return `${session.clientId}.${request.callKey ?? request.id}`;
}
