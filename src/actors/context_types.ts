/**
 * The user library a function receives as its first argument (SPEC.md, "Inside a
 * function"). Only types live here, so user code and examples can import them without
 * loading any of the runtime.
 */
import type { lattice } from '../storage/index.js';

export type LatticeBuilders = typeof lattice;

export interface ReceivedMessage {
  /** The sender's actor address. */
  from: string;
  message: unknown;
  /**
   * Unique per `send`. A message is handed out once, with one exception: one received just
   * before its node's `kill -9` whose sender did not hear back in time is also in the
   * fallback mailbox, and is received again at the actor's next home — same id.
   */
  id: string;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface Context {
  /** This function actor's address, routable from any node. */
  readonly id: string;
  /** The name of the running function. */
  readonly name: string;
  /** The id of this call (also in every log line). */
  readonly callId: string;
  /** Reads through the node's shared cache: a value (undefined when absent) … */
  get(key: string): Promise<unknown>;
  /** … or, for several keys, an object of their values. */
  get(keys: string[]): Promise<Record<string, unknown>>;
  /** Writes a plain value (last-writer-wins) or a `lattice.*` value (merged). */
  put(key: string, value: unknown): Promise<void>;
  /** Delivers `message` to the actor at address `to`. */
  send(to: string, message: unknown): Promise<void>;
  /** The messages that arrived for this actor, waiting up to `timeoutMs` (default 0) for one. */
  recv(options?: { timeoutMs?: number }): Promise<ReceivedMessage[]>;
  /** Calls another registered function and resolves to its result. */
  call(name: string, args?: unknown[]): Promise<unknown>;
  readonly log: Logger;
  /** The `lattice` builders, for merge-able writes: `ctx.put(k, ctx.lattice.counter(1))`. */
  readonly lattice: LatticeBuilders;
}

/** A plain registered function. */
export type SquallFunction = (ctx: Context, ...args: never[]) => unknown;

/** A stateful function actor: constructed once per executor, `run` serves each call. */
export interface SquallClass {
  new (ctx: Context, ...init: never[]): { run(ctx: Context, ...args: never[]): unknown };
}
