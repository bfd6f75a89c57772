/**
 * The supervisor of one node: it owns the store shard, the only writer of the shared cache
 * segment, the executor threads and the actors' mailboxes, and it serves both clients
 * (through the gateway) and running functions (through each executor's port). On one node
 * a call flows: client frame → `call` → an executor picked by load (or the executor
 * holding a class instance) → the result bytes straight back to the client, never decoded
 * here.
 */
import { nanoid } from 'nanoid';
import pino from 'pino';
import {
  ExecutorPool,
  type ExecutorRequest,
  type FunctionDef,
  instanceLost,
  MODULE_LOAD_TIMEOUT_MS,
  type PoolCall,
  type PoolStep,
  type PutValue,
  type SnapshotEntry,
} from '../actors/index.js';
import {
  errorFromWire,
  errorToWire,
  FunctionError,
  NotFoundError,
  TimeoutError,
  UnavailableError,
  ValidationError,
  type WireError,
} from '../errors.js';
import {
  CacheWriter,
  createCacheBuffer,
  type DurableLog,
  decode,
  encodeOwned,
  HybridClock,
  type Lattice,
  PEERS_MAX,
  reveal,
  StoreShard,
  savePeers,
} from '../storage/index.js';
import { type Ack, Cluster } from './cluster.js';
import type { ConnectionLimits } from './connection.js';
import type { DagReply } from './dag_runner.js';
import { DagService } from './dag_service.js';
import { ActorMessaging } from './messaging.js';
import { checkUserKey, NodeStore, SYSTEM_PREFIX } from './node_store.js';
import type { ResolvedOptions } from './options.js';
import { Registry } from './registry.js';
import {
  type Outcome,
  parseOutcome,
  RESULT_ERROR_SUFFIX,
  ResultStore,
  resultProducer,
} from './result_store.js';
import { type NodeStatus, nodeStatus } from './status.js';
import {
  isRecord,
  optionalTimeoutMs,
  requireKey,
  requireName,
  TIMEOUT_QUERY_MS_MAX,
} from './validate.js';

const SWEEP_INTERVAL_MS = 5_000;
/** Classes whose lost instance the next caller is still to hear of (past this, forgotten). */
const LOST_INSTANCES_MAX = 10_000;
/** Extra time a long-poll `await` at another node gets for its answer to travel back. */
const AWAIT_GRACE_MS = 1_000;
/** Beyond twice its timeout, how long a call may take to settle (a re-run, a hand-off). */
const SETTLE_SLACK_MS = 2_000;
/** Polling a result's replicas (its producer gone): first pause, and the longest. */
const AWAIT_POLL_MS_MIN = 10;
const AWAIT_POLL_MS_MAX = 250;
/** How often a node tells the others its load and cached keys (for the scheduler). */
const LOAD_REPORT_INTERVAL_MS = 1_000;

/** How `Supervisor.call` runs a function. */
export interface CallOptions {
  timeoutMs?: number | undefined;
  /** Upstream DAG results, passed before the caller's arguments. */
  inputs?: Uint8Array[];
  /** Functions to run after it on the same thread, each given the previous result. */
  chain?: readonly { name: string; args: Uint8Array }[];
  /** Whether this node's next call may follow soon (the answer leaves from here). */
  awaitNext?: boolean;
  /** Repeatable read: the versions upstream functions read, and where new reads go. */
  snapshot?: SnapshotEntry[];
  onReads?: (reads: SnapshotEntry[]) => void;
  /** Causal mode: reads at every live owner, writes acknowledged by all of them. */
  consistency?: 'causal';
  /** The class turns held up a nested call's chain (call_context.ts `CallInfo.holding`). */
  holding?: string[] | undefined;
  /** Stable across a DAG call's attempts: each function's message ids derive from it. */
  sendKey?: string;
}

export class Supervisor {
  readonly nodeId: string;
  readonly options: ResolvedOptions;
  readonly log: pino.Logger;
  readonly startedMs = Date.now();
  address = '';
  httpAddress: string | undefined;
  /**
   * Answers a client request on this node's connection to that client (set by the client
   * server); false when the client has no connection here.
   */
  answerClient: (reply: DagReply, bytes: Uint8Array) => boolean = () => false;
  readonly cache: CacheWriter;
  readonly store: NodeStore;
  readonly registry: Registry;
  readonly pool: ExecutorPool;
  readonly #results: ResultStore;
  readonly messaging: ActorMessaging;
  readonly dags: DagService;
  #lastLoad = { atMs: performance.now(), busyMs: 0 };
  #loadTimer: NodeJS.Timeout | undefined;
  readonly #classHomes = new Map<string, number>();
  readonly #sweeper: NodeJS.Timeout;
  readonly counters = { calls: 0, failed: 0, dagAnswersDirect: 0 };

  /** This node's part in the cluster; set by `startCluster` once the node has an address. */
  #cluster: Cluster | undefined;
  readonly #incarnation: number;
  /** Classes whose instance died with its thread, and why, until their next call. */
  readonly #lostInstances = new Map<string, string>();

  readonly #durable: DurableLog | undefined;
  #diskFailureLogged = false;

  constructor(
    options: ResolvedOptions,
    identity: { id: string; incarnation: number },
    durable?: DurableLog,
  ) {
    this.options = options;
    this.#durable = durable;
    this.nodeId = identity.id;
    this.#incarnation = identity.incarnation;
    this.log = pino({ base: { node: this.nodeId } }, pino.destination({ dest: 2, sync: false }));
    const cacheBuffer = createCacheBuffer({ bytes: options.cacheBytes });
    this.cache = new CacheWriter(cacheBuffer);
    this.#results = new ResultStore(options.resultTtlMs, () => Date.now());
    this.store = this.#nodeStore(durable);
    this.registry = new Registry(
      this.store,
      (key, spec) => this.cluster.write(key, spec, 'all'),
      options.functionsMax,
      () => nanoid(10),
    );
    this.dags = new DagService({
      nodeId: this.nodeId,
      store: this.store,
      cluster: () => this.cluster,
      isRegistered: (name) => this.registry.get(name) !== undefined,
      run: (fn, args, options) => this.call(fn, args, options),
      chainable: (fn) => this.chainable(fn),
      answer: (reply, bytes) => this.answerClient(reply, bytes),
      isClass: (fn) => this.registry.get(fn)?.kind === 'class',
      frameBytesMax: options.frameBytesMax,
      log: this.log,
      load: () => ({
        utilisation: this.#recentUtilisation(),
        executors: this.pool.size,
        cachedKeys: this.cache.keys(),
        cachedCount: this.cache.stats().entries,
      }),
    });
    this.messaging = new ActorMessaging({
      nodeId: this.nodeId,
      messageTtlMs: options.messageTtlMs,
      requestTimeoutMs: options.peerTimeoutMs,
      cluster: () => this.cluster,
      isRegistered: (name) => this.registry.get(name) !== undefined,
      isLive: (actorId) => this.#isLiveActor(actorId),
      classHome: (name) =>
        this.registry.get(name)?.kind === 'class' ? this.dags.homeOfClass(name) : undefined,
      // A message that went to a fallback mailbox must fit in it beside another.
      messageBytesMax: Math.floor(options.valueBytesMax / 2),
      previousHomes: (name, withinMs) => this.dags.previousHomes(name, withinMs),
    });
    this.pool = new ExecutorPool({
      size: options.executors,
      cacheBuffer,
      nodeId: this.nodeId,
      memoryMb: options.executorMemoryMb,
      spinUs: options.spinUs,
      onRequest: (_index, request) => this.#serveExecutor(request),
      onThreadFailure: (index, reason) => this.log.warn({ executor: index }, reason),
      onInstancesLost: (names, because) => {
        this.log.warn({ classes: names }, `class instances lost: ${because}`);
        if (this.#lostInstances.size > LOST_INSTANCES_MAX) this.#lostInstances.clear();
        for (const name of names) this.#lostInstances.set(name, because);
      },
    });
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  async start(): Promise<void> {
    await this.pool.start();
  }

  get cluster(): Cluster {
    if (this.#cluster === undefined) throw new UnavailableError('the node is not serving yet');
    return this.#cluster;
  }

  /** Joins (or forms) the cluster once the node listens at `address`. */
  startCluster(address: string, limits: ConnectionLimits): void {
    this.address = address;
    this.#cluster = new Cluster({
      self: { id: this.nodeId, address },
      seeds: this.options.join,
      replication: this.options.replication,
      token: this.options.token,
      limits,
      store: this.store,
      incarnation: this.#incarnation,
      requestTimeoutMs: this.options.peerTimeoutMs,
      log: this.log,
      onPeerRequest: (_from, op, args) => this.#servePeer(op, args),
      onPeerMessage: (from, core, message) => this.#onPeerMessage(from, core, message),
      onRingChange: (peers) => this.#rememberPeers(peers),
      onPeerLost: (id) => this.dags.runner.onNodeLost(id),
      membership: {
        probeIntervalMs: this.options.probeIntervalMs,
        probeTimeoutMs: Math.max(1, Math.floor(this.options.probeIntervalMs / 2)),
        suspicionTimeoutMs: this.options.suspicionTimeoutMs,
      },
      replicationConfig: {
        gossipIntervalMs: this.options.gossipIntervalMs,
        antiEntropyIntervalMs: this.options.antiEntropyIntervalMs,
      },
    });
    this.#cluster.start();
    this.#loadTimer = setInterval(() => this.dags.reportLoad(Date.now()), LOAD_REPORT_INTERVAL_MS);
    this.#loadTimer.unref();
  }

  /** Leaves the cluster gracefully: hands this node's keys to their new owners first. */
  async leave(): Promise<void> {
    try {
      const saved = await this.messaging.saveUndelivered();
      if (saved > 0) this.log.info({ messages: saved }, 'saved messages not yet received');
    } catch (error) {
      this.log.warn({ err: error }, 'could not save the messages not yet received');
    }
    await this.#cluster?.leave();
  }

  async stop(): Promise<void> {
    clearInterval(this.#loadTimer);
    this.#cluster?.stop();
    clearInterval(this.#sweeper);
    this.messaging.close();
    this.#results.clear();
    await this.pool.stop();
    await this.#durable?.close();
    this.log.flush();
  }

  async register(name: string, source: string, init: unknown[]): Promise<FunctionDef> {
    const def = await this.registry.registerSource(name, source, init);
    // A new version starts a new instance anyway: nothing to tell its next caller.
    this.#lostInstances.delete(def.name);
    this.log.info({ fn: def.name, version: def.version, kind: def.kind }, 'registered');
    return def;
  }

  /** Loads the module on an executor (it must evaluate), then registers its exports. */
  async deploy(code: string, filename: string): Promise<string[]> {
    const probe = { id: `probe-${nanoid(8)}`, filename, code };
    let exports: Awaited<ReturnType<ExecutorPool['inspect']>>;
    try {
      // A node whose calls get less time gives a module's top-level code no more.
      exports = await this.pool.inspect(
        probe,
        Math.min(MODULE_LOAD_TIMEOUT_MS, this.options.callTimeoutMs),
      );
    } catch (error) {
      const message = `${filename} failed to load: ${(error as Error).message}`;
      throw error instanceof TimeoutError
        ? new TimeoutError(message)
        : new ValidationError(message);
    }
    const defs = await this.registry.registerModule(code, filename, exports);
    this.log.info({ file: filename, functions: defs.map((d) => d.name) }, 'deployed');
    return defs.map((def) => def.name);
  }

  /** Runs one function here and resolves to its encoded result (see `CallOptions`). */
  call(name: string, args: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    const { timeoutMs, inputs, chain = [], awaitNext = true } = options;
    const { snapshot, onReads, consistency, holding } = options;
    const def = this.registry.get(requireName(name, 'function name'));
    if (def === undefined) {
      return Promise.reject(new NotFoundError(`function ${name} is not registered`));
    }
    const lost = def.kind === 'class' ? this.#lostInstances.get(name) : undefined;
    if (lost !== undefined) {
      // Its state is gone: said once, to the next caller, rather than reset in silence.
      this.#lostInstances.delete(name);
      return Promise.reject(new FunctionError(instanceLost(name, lost), 'InstanceLost'));
    }
    if (this.pool.inFlight() >= this.options.callsInFlightMax) {
      return Promise.reject(
        new UnavailableError(
          `node has ${this.options.callsInFlightMax} calls in flight, its limit`,
        ),
      );
    }
    const callId = nanoid(12);
    const steps: PoolStep[] = [];
    for (const [i, step] of chain.entries()) {
      const stepDef = this.registry.get(step.name);
      if (stepDef === undefined)
        return Promise.reject(new NotFoundError(`function ${step.name} is not registered`));
      const chained = this.#step(stepDef, `${callId}.${i + 1}`, step.args);
      if (options.sendKey !== undefined) chained.sendKey = `${options.sendKey}/${step.name}`;
      steps.push(chained);
    }
    this.counters.calls += 1 + steps.length;
    // Plain assignments, not `...(cond ? {} : { x })` spreads: this runs for every call,
    // and the spreads cost ≈ 4 µs of it (self time under the profiler, 5.4 → 1.0 µs).
    const call: PoolCall = this.#step(def, callId, args) as PoolCall;
    call.timeoutMs = timeoutMs ?? this.options.callTimeoutMs;
    if (inputs !== undefined) call.inputs = inputs;
    if (steps.length > 0) call.chain = steps;
    if (!awaitNext) call.awaitNext = awaitNext;
    if (snapshot !== undefined) call.snapshot = snapshot;
    if (onReads !== undefined) call.onReads = onReads;
    if (consistency !== undefined) call.consistency = consistency;
    if (holding !== undefined) call.holding = holding;
    if (options.sendKey !== undefined) call.sendKey = `${options.sendKey}/${name}`;
    if (def.kind === 'class') call.executorIndex = this.#classHome(name);
    const result = this.pool.run(call);
    result.catch(() => {
      this.counters.failed += 1;
    });
    return result;
  }

  /**
   * A call from a client or from a function: here, or on a less busy node (DagService
   * `callOne`), where it is re-run if that node dies.
   */
  callAnywhere(
    name: string,
    args: Uint8Array,
    timeoutMs?: number,
    holding?: string[],
    sendKey?: string,
  ): Promise<Uint8Array> {
    const options: CallOptions = { timeoutMs, holding };
    if (sendKey !== undefined) options.sendKey = sendKey;
    if (this.dags.runsHere(name)) return this.call(name, args, options);
    const budgetMs = timeoutMs ?? this.options.callTimeoutMs;
    const here = () => this.call(name, args, options);
    return this.dags.callOne(name, args, budgetMs, here, holding, sendKey);
  }

  /** Whether `name` can run chained after another function on that one's thread. */
  chainable(name: string): boolean {
    return this.registry.get(name)?.kind === 'function';
  }

  #step(def: FunctionDef, callId: string, args: Uint8Array): PoolStep {
    const { name } = def;
    const actorId =
      def.kind === 'class' ? `${this.nodeId}/${name}` : `${this.nodeId}/${name}/${callId}`;
    const step: PoolStep = { callId, actorId, def, args };
    const module = def.module === undefined ? undefined : this.registry.module(def.module.id);
    if (module !== undefined) step.module = module;
    return step;
  }

  /** Starts a call and returns the key its result will be stored under. */
  callAsync(name: string, args: Uint8Array, timeoutMs?: number, sendKey?: string): string {
    // An unknown name is refused now, as `call` refuses it, not first at the Future's get.
    if (this.registry.get(requireName(name, 'function name')) === undefined)
      throw new NotFoundError(`function ${name} is not registered`);
    const settleMs = timeoutMs ?? this.options.callTimeoutMs;
    return this.runAsync(
      () => this.callAnywhere(name, args, timeoutMs, undefined, sendKey),
      settleMs,
    );
  }

  /**
   * Starts any call (a function, a DAG) that settles within `settleMs` and returns the key
   * its result will be stored under.
   */
  runAsync(start: () => Promise<Uint8Array>, settleMs: number): string {
    // Slack for the re-runs and hand-offs a call may still go through at its deadline.
    const key = this.#results.newKey(this.nodeId, Date.now() + 2 * settleMs + SETTLE_SLACK_MS);
    const fail = (error: unknown) => this.#results.fail(this.store, key, errorToWire(error));
    void start().then((bytes) => {
      try {
        this.#results.succeed(this.store, key, decode(bytes));
      } catch (error) {
        fail(error);
      }
    }, fail);
    return key;
  }

  /** Waits for a call result (or any key) to exist; resolves to its encoded value. */
  async awaitResult(key: string, timeoutMs?: number): Promise<Uint8Array> {
    const waitMs = timeoutMs ?? this.options.callTimeoutMs;
    const outcome = await this.#awaitOutcome(key, waitMs);
    if (outcome === undefined) throw new TimeoutError(`no result at ${key} within ${waitMs} ms`);
    if ('error' in outcome) throw errorFromWire(outcome.error as WireError);
    return encodeOwned(outcome.value);
  }

  /**
   * A result lives on the node that ran the call and on its replicas, and that node learns
   * first when it is written: so a result made elsewhere is waited for there (one long-poll
   * peer request), and, should that node be gone, read from the replicas until it appears.
   * Anything else is waited for here, where every write to this node's keys lands.
   */
  async #awaitOutcome(key: string, timeoutMs: number): Promise<Outcome | undefined> {
    const here = this.#results.read(this.store, key);
    if (here !== undefined) return here;
    if (this.#results.isGone(key)) throw this.#expired(key);
    const producer = resultProducer(key);
    const owned = this.cluster.owners(key).includes(this.nodeId);
    if (
      producer === undefined ||
      producer === this.nodeId ||
      (owned && !this.cluster.isAlive(producer))
    )
      return this.#results.wait(this.store, key, timeoutMs);
    const deadline = Date.now() + timeoutMs;
    if (this.cluster.isAlive(producer)) {
      try {
        const wire = await this.cluster.requestNode(
          producer,
          'await',
          { key, timeoutMs },
          timeoutMs + AWAIT_GRACE_MS,
        );
        if (isRecord(wire) && wire.gone === true) throw this.#expired(key);
        const outcome = parseOutcome(wire);
        if (outcome !== undefined || Date.now() >= deadline) return outcome;
      } catch (error) {
        if (error instanceof NotFoundError) throw error;
        // The producer died or cannot be reached: its replicas hold what it wrote.
      }
    }
    return this.#pollReplicas(key, deadline);
  }

  #expired(key: string): NotFoundError {
    return new NotFoundError(
      `the result at ${key} has expired: results are kept ${this.#results.ttlMs} ms (resultTtlMs) after their call`,
    );
  }

  /** Reads a result (or its error) from the cluster until it exists or the deadline passes. */
  async #pollReplicas(key: string, deadline: number): Promise<Outcome | undefined> {
    for (let pauseMs = AWAIT_POLL_MS_MIN; ; pauseMs = Math.min(2 * pauseMs, AWAIT_POLL_MS_MAX)) {
      const value = await this.cluster.read(key).catch(() => undefined);
      if (value !== undefined) return { value: reveal(value) };
      const error = await this.cluster.read(key + RESULT_ERROR_SUFFIX).catch(() => undefined);
      if (error !== undefined) return { error: reveal(error) as WireError };
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) return undefined;
      await new Promise((resolve) => setTimeout(resolve, Math.min(pauseMs, leftMs)));
    }
  }

  /** Reads a key wherever it lives; the plain value, or undefined. */
  async get(key: string): Promise<unknown> {
    const value = await this.cluster.read(key);
    return value === undefined ? undefined : reveal(value);
  }

  /** `get` without a promise when this node can answer alone; undefined otherwise. */
  getHere(key: string): { value: unknown } | undefined {
    const here = this.cluster.readHere(key);
    return here === undefined
      ? undefined
      : { value: here.value === undefined ? undefined : reveal(here.value) };
  }

  /** `put` without a promise when this node can complete it alone; false otherwise. */
  putHere(key: string, value: PutValue, ack: Ack): boolean {
    checkUserKey(key);
    const spec = value.t === 'plain' ? ({ kind: 'lww', value: value.v } as const) : value.spec;
    return this.cluster.writeHere(key, spec, ack) !== undefined;
  }

  /** Writes a key at its owner. */
  async put(key: string, value: PutValue, ack: Ack = 'one'): Promise<void> {
    checkUserKey(key);
    await this.cluster.write(
      key,
      value.t === 'plain' ? { kind: 'lww', value: value.v } : value.spec,
      ack,
    );
  }

  /** For an executor's cache miss: the encoded value, cached here on the way. */
  async #readForExecutor(key: string): Promise<Uint8Array | undefined> {
    const cluster = this.cluster;
    const owned = cluster.owners(key).includes(this.nodeId);
    const value = await cluster.read(key, !owned);
    return value === undefined ? undefined : this.store.fillCache(key, value);
  }

  /** For a causal call's read: the merge of every live owner's copy, not the cache. */
  async #readFresh(key: string): Promise<Uint8Array | undefined> {
    const value = await this.cluster.readAll(key);
    return value === undefined ? undefined : encodeOwned(reveal(value));
  }

  /** A class actor (NODE/NAME) lives as long as its class; a call's (NODE/NAME/CALL) while it runs. */
  #isLiveActor(actorId: string): boolean {
    const [, name = '', callId] = actorId.split('/', 3);
    if (callId !== undefined) return this.pool.isRunning(callId);
    return this.registry.get(name)?.kind === 'class';
  }

  #nodeStore(durable: DurableLog | undefined): NodeStore {
    return new NodeStore({
      store: new StoreShard(),
      cache: this.cache,
      clock: new HybridClock(() => Date.now()),
      writerId: `${this.nodeId}.${this.#incarnation.toString(36)}`,
      valueBytesMax: this.options.valueBytesMax,
      onChange: (key, _value, delta) => {
        this.#results.changed(key);
        this.#cluster?.onLocalChange(key, delta);
      },
      onDelete: (key) => this.#cluster?.replication.deleted(key),
      isExpired: (key, value) =>
        this.#results.isExpired(key, value) || this.messaging.isExpiredMailbox(key, value),
      onConflict: (key, kept, dropped) =>
        this.log.warn(
          { key, kept, dropped },
          'owners held values of different lattice kinds for one key (two first writes crossed): every owner keeps the same one',
        ),
      ...(durable === undefined
        ? {}
        : {
            persist: (key, value) => this.#persist(durable, key, value),
            persistFailure: () => durable.failure,
          }),
    });
  }

  status(): NodeStatus {
    return nodeStatus(this);
  }

  /**
   * Keeps, in the data dir, the addresses of the members seen (the newest first, those
   * gone too: they may come back), so that a restart without `--join` rejoins.
   */
  #rememberPeers(current: string[]): void {
    const dir = this.options.dataDir;
    if (dir === undefined) return;
    const seen = [...current, ...this.#peersSeen.filter((a) => !current.includes(a))];
    this.#peersSeen = seen.filter((address) => address !== this.address).slice(0, PEERS_MAX);
    const peers = this.#peersSeen;
    this.#peersSaving = this.#peersSaving
      .then(() => savePeers(dir, peers))
      .catch((error: unknown) =>
        this.log.warn({ err: error }, 'could not remember the peers in the data dir'),
      );
  }

  #peersSeen: string[] = [];
  #peersSaving: Promise<void> = Promise.resolve();

  /** The data dir's part of status: absent without one. */
  dataDirStatus(): Pick<NodeStatus, 'dataDir'> {
    const { dataDir, fsync } = this.options;
    if (this.#durable === undefined || dataDir === undefined) return {};
    const failure = this.#durable.failure;
    return {
      dataDir: { path: dataDir, fsync, ...(failure !== undefined && { failed: failure.message }) },
    };
  }

  /** Serves requests from other supervisors beyond reads and writes. */
  #servePeer(op: string, args: unknown): unknown {
    if (op === 'deliver') return this.messaging.deliverFromPeer(args);
    if (op === 'await') {
      const timeoutMs = isRecord(args)
        ? optionalTimeoutMs(args, 'timeoutMs', TIMEOUT_QUERY_MS_MAX)
        : undefined;
      if (!isRecord(args) || typeof args.key !== 'string' || timeoutMs === undefined)
        throw new ValidationError('await needs {key, timeoutMs}');
      const here = this.#results.read(this.store, args.key);
      if (here === undefined && this.#results.isGone(args.key)) return { gone: true };
      return this.#results.wait(this.store, args.key, timeoutMs).then((outcome) => outcome ?? null);
    }
    throw new UnavailableError(`unknown peer operation ${op}`);
  }

  /** One-way messages from other supervisors beyond the cluster's own. */
  #onPeerMessage(from: string, core: string, message: unknown): void {
    if (core === 'dag') {
      this.dags.fromPeer(message);
      return;
    }
    if (core !== 'load') return;
    const node = this.cluster.membership.members().find((m) => m.address === from)?.id;
    this.dags.onLoad(node, message, Date.now());
  }

  /** Executor utilisation since the last report (0..1), for the scheduler. */
  #recentUtilisation(): number {
    const stats = this.pool.stats();
    const nowMs = performance.now();
    const busyMs = stats.reduce((sum, e) => sum + e.busyMs, 0);
    const windowMs = Math.max(1, nowMs - this.#lastLoad.atMs);
    const recent = (busyMs - this.#lastLoad.busyMs) / (windowMs * Math.max(1, stats.length));
    this.#lastLoad = { atMs: nowMs, busyMs };
    return Math.min(1, Math.max(0, recent));
  }

  #serveExecutor(request: ExecutorRequest): unknown {
    switch (request.op) {
      case 'get':
        return Promise.all(
          request.keys.map((key) =>
            request.fresh
              ? this.#readFresh(requireKey(key))
              : this.#readForExecutor(requireKey(key)),
          ),
        );
      case 'put':
        return this.put(
          requireKey(request.key),
          request.value,
          request.ack === 'all' ? 'all' : 'one',
        );
      case 'call':
        // A nested call of a causal call runs here in causal mode too.
        if (request.consistency === 'causal') {
          const options: CallOptions = {
            timeoutMs: request.timeoutMs,
            consistency: 'causal',
            holding: request.holding,
          };
          if (request.sendKey !== undefined) options.sendKey = request.sendKey;
          return this.call(request.name, request.args, options);
        }
        return this.callAnywhere(
          request.name,
          request.args,
          request.timeoutMs,
          request.holding,
          request.sendKey,
        );
      case 'send':
        return this.messaging.send(request.from, request.to, request.message, request.id);
      case 'recv':
        return this.messaging.recv(request.actorId, request.timeoutMs);
      case 'await':
        return this.awaitResult(request.key, request.timeoutMs);
    }
  }

  /** Appends a changed value to the log; compacts it into a snapshot when it grew large. */
  async #persist(log: DurableLog, key: string, value: Lattice): Promise<void> {
    try {
      await log.append(key, value);
    } catch (error) {
      if (!this.#diskFailureLogged && log.failure !== undefined) {
        this.#diskFailureLogged = true;
        this.log.error(
          { err: log.failure },
          'the data dir failed: this node takes no more writes (restart it once the disk is fixed)',
        );
      }
      throw error;
    }
    if (log.snapshotDue) {
      log.snapshot(this.store.entries()).catch((error: unknown) => {
        this.log.error(`snapshot failed: ${(error as Error).message}`);
      });
    }
  }

  #classHome(name: string): number {
    let home = this.#classHomes.get(name);
    if (home === undefined) {
      home = this.pool.pick();
      this.#classHomes.set(name, home);
    }
    return home;
  }

  #sweep(): void {
    this.messaging.sweep();
    this.dags.runner.sweep();
    this.#results.expire(this.store);
    this.#results.expireStored(this.store);
    this.messaging.sweepStored(this.store);
  }
}

export { SYSTEM_PREFIX };
