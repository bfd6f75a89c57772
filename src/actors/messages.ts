/**
 * The messages between the supervisor and its executor threads, over each thread's own
 * port (its mailbox). Arguments, results, stored values and actor messages travel as CBOR
 * bytes, so the supervisor never decodes what it only forwards and an executor decodes
 * each value exactly once. These messages cross a thread boundary of one process, not a
 * socket: they are trusted and not re-validated.
 */
import type { WireError } from '../errors.js';
import type { PutValue } from './put_value.js';

/** A registered function as executors compile it. `version` changes on every register. */
export interface FunctionDef {
  name: string;
  version: string;
  kind: 'function' | 'class';
  /** For `register`: the function's source text. */
  source?: string;
  /** For `deploy`: the bundled module and the export to take from it. */
  module?: { id: string; filename: string };
  exportName?: string;
  /** Constructor arguments (after ctx) of a class. */
  init: unknown[];
}

export interface ModuleCode {
  id: string;
  filename: string;
  code: string;
}

/** A key and the encoded version a repeatable-read DAG call read (null: absent). */
/**
 * A repeatable-read call's record of one key: the encoded version it pinned, null for a key
 * that was absent, or WROTE — the call wrote the key, so its later functions read it as
 * usual (read-your-writes beats the snapshot), on whichever node they run.
 */
export type SnapshotEntry = [string, Uint8Array | null | typeof WROTE];
export const WROTE = false;

/** One function of a call, as an executor runs it. */
export interface CallStep {
  callId: string;
  actorId: string;
  name: string;
  version: string;
  args: Uint8Array;
  /**
   * The same for this function in every attempt of one DAG or call (a re-run after a node
   * died included): its messages get ids made from it, so a re-run's sends are dropped as
   * duplicates of the first attempt's. Absent: random ids.
   */
  sendKey?: string;
  /** Sent only the first time this thread sees this version. */
  def?: FunctionDef;
  module?: ModuleCode;
}

export type ToExecutor =
  | ({
      t: 'call';
      /** Results of upstream DAG functions, in edge order: they come before `args`. */
      inputs?: Uint8Array[];
      /**
       * Functions to run after this one, each given the previous one's result as its only
       * input (a DAG's linear stretch on one node); the call answers with the last result.
       */
      chain?: CallStep[];
      /** Set when the node is nearly idle: stay awake this long for the next call. */
      spinUs?: number;
      /** Repeatable read (read_snapshot.ts): the versions upstream functions read. */
      snapshot?: SnapshotEntry[];
      /** Causal mode: see ContextDeps.causal. */
      consistency?: 'causal';
      /** The classes whose turns the callers up this call's chain hold (CallInfo.holding). */
      holding?: string[];
      /** The call's timeout: its nested calls get what is left of it (CallInfo.deadlineMs). */
      timeoutMs?: number;
      /** Names this dispatch in the thread's progress words (executor_pool.ts). */
      tag: number;
    } & CallStep)
  | { t: 'inspect'; taskId: number; module: ModuleCode }
  | { t: 'forget'; moduleId: string }
  /** Is the thread's event loop free? (A call overran: is it waiting, or stuck in code?) */
  | { t: 'ping'; seq: number }
  | { t: 'reply'; reqId: number; ok: true; value?: unknown }
  | { t: 'reply'; reqId: number; ok: false; error: WireError };

export interface ExportInfo {
  name: string;
  kind: 'function' | 'class';
}

export type ExecutorRequest =
  /** `fresh`: causal mode — the merge of every live owner's copy, never the cache. */
  | { op: 'get'; keys: string[]; fresh?: true }
  /** `ack: 'all'`: causal mode — acknowledged once every live owner merged it. */
  | { op: 'put'; key: string; value: PutValue; ack?: 'all' }
  | {
      op: 'call';
      name: string;
      args: Uint8Array;
      timeoutMs?: number;
      consistency?: 'causal';
      /** The classes whose turns this call's chain holds, the caller's own included. */
      holding?: string[];
      /** Its messages' id base: the caller's, and which of its nested calls this is. */
      sendKey?: string;
    }
  | { op: 'send'; from: string; to: string; message: Uint8Array; id?: string }
  | { op: 'recv'; actorId: string; timeoutMs: number }
  | { op: 'await'; key: string; timeoutMs?: number };

export type FromExecutor =
  | { t: 'ready' }
  /** `steps`: the chain step each call in flight is at (names the one that overran). */
  | { t: 'pong'; seq: number; steps: [callId: string, step: number][] }
  | { t: 'done'; callId: string; ok: true; bytes: Uint8Array; reads?: SnapshotEntry[] }
  | { t: 'done'; callId: string; ok: false; error: WireError; resend?: true }
  | { t: 'inspected'; taskId: number; ok: true; exports: ExportInfo[] }
  | { t: 'inspected'; taskId: number; ok: false; error: WireError }
  | ({ t: 'req'; reqId: number } & ExecutorRequest);

/** A message as `recv` hands it over: the sender's actor id and the encoded message. */
export interface MailMessage {
  from: string;
  message: Uint8Array;
  /** Unique per send: a message delivered twice (a retry, a fallback) is kept once. */
  id?: string;
}
