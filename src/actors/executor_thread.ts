/**
 * The entry point of an executor worker thread. It owns no socket and no store: it reads
 * the shared cache segment directly and sends everything else to the supervisor over its
 * own MessagePort (handed over in workerData), which is this thread's mailbox. Log lines go to stderr as JSON (pino,
 * synchronous, so lines written just before a thread is killed are not lost) and carry
 * the node, the function name and the call id.
 */
import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { CacheReader } from '../storage/index.js';
import type { Logger } from './context_types.js';
import { Executor } from './executor.js';
import type { FromExecutor, ToExecutor } from './messages.js';
import { type Batched, unbatch } from './port_outbox.js';
import { SupervisorLink } from './supervisor_link.js';

export interface ExecutorThreadData {
  cacheBuffer: SharedArrayBuffer;
  executorIndex: number;
  nodeId: string;
  /** This thread's end of its channel to the supervisor. */
  port: MessagePort;
  /** Written as calls enter user code; read by the pool when it stops this thread. */
  progress: Int32Array;
}

const data = workerData as ExecutorThreadData;
const { port } = data;

const root = pino(
  { base: { node: data.nodeId, executor: data.executorIndex } },
  pino.destination({ dest: 2, sync: true }),
);
const link = new SupervisorLink(port);
const executor = new Executor(
  {
    link,
    cache: new CacheReader(data.cacheBuffer, data.executorIndex),
    logger: (info): Logger => {
      const child = root.child({ fn: info.name, call: info.callId });
      return {
        info: (message, fields) => child.info(fields ?? {}, message),
        warn: (message, fields) => child.warn(fields ?? {}, message),
        error: (message, fields) => child.error(fields ?? {}, message),
      };
    },
  },
  data.progress,
);

function post(message: FromExecutor, transfer?: ArrayBuffer[]): void {
  link.post(message, transfer);
}

type CallMessage = Extract<ToExecutor, { t: 'call' }>;

/** Calls in flight on this thread, by id; a call leaves it when it is answered. */
const inFlight = new Map<string, CallMessage>();

async function runCall(message: CallMessage): Promise<void> {
  inFlight.set(message.callId, message);
  let done: FromExecutor;
  let transfer: ArrayBuffer[] | undefined;
  try {
    const { bytes, reads } = await executor.run(message);
    done = { t: 'done', callId: message.callId, ok: true, bytes, ...(reads && { reads }) };
    transfer = [bytes.buffer];
  } catch (error) {
    // Code that failed to load is not kept, so the supervisor sends it again next time.
    const resend = Executor.isSetupFailure(error) ? true : undefined;
    const wire = Executor.describeFailure(error);
    done = { t: 'done', callId: message.callId, ok: false, error: wire, ...(resend && { resend }) };
  }
  // Already answered when a stray error was pinned on it (onStrayError).
  if (!inFlight.delete(message.callId)) return;
  post(done, transfer);
  if (inFlight.size === 0 && message.spinUs !== undefined) {
    const spinUs = message.spinUs;
    setImmediate(() => idleSpin(spinUs));
  }
}

/*
 * An error nothing awaited — a throw in a timer, a promise no one handles — would by Node's
 * default end the thread, and with it every class instance living here. Instead it fails
 * the call whose code it came from, when its stack names the code of exactly one call in
 * flight (culpritOf), so that call's caller learns of it; otherwise (that call already
 * returned, the error has no stack, or the code is no call's) it is only logged. No other
 * call is blamed, and the thread serves on with its actors' state.
 */
function onStrayError(error: unknown, kind: string): void {
  const callId = culpritOf(error);
  if (callId !== undefined && inFlight.delete(callId)) {
    root.warn({ err: error, call: callId }, `${kind}: failed the call whose code it came from`);
    post({ t: 'done', callId, ok: false, error: Executor.describeFailure(error) });
    return;
  }
  root.error({ err: error, callsInFlight: inFlight.size }, `${kind}: logged; the thread serves on`);
}

/**
 * The call in flight whose functions' code the error's stack names, if exactly one is.
 * Read from the stack rather than tracked per call (AsyncLocalStorage did that, for ≈ 0.7
 * µs on every cached `ctx.get`), since a timer or promise callback runs in the code of the
 * function that made it.
 */
function culpritOf(error: unknown): string | undefined {
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : '';
  if (stack === '') return undefined;
  const names = (message: CallMessage) =>
    [message, ...(message.chain ?? [])].some((step) => {
      const file = executor.codeFile(step.version);
      return file !== undefined && stack.includes(`${file}:`);
    });
  const found = [...inFlight].filter(([, message]) => names(message));
  return found.length === 1 ? found[0]![0] : undefined;
}
process.on('uncaughtException', (error) => onStrayError(error, 'uncaught error outside a call'));
process.on('unhandledRejection', (reason) => onStrayError(reason, 'unhandled rejection'));

/**
 * `process.exit` in a function would end this thread and every call and actor on it; it
 * throws in the calling code instead, so only that call fails (with the error below) and
 * no other call has to run again elsewhere.
 */
class ProcessExit extends Error {
  override name = 'ProcessExit';
}
process.exit = ((code?: number | string | null) => {
  throw new ProcessExit(
    `process.exit(${code ?? ''}) was called: a function cannot end its executor thread`,
  );
}) as typeof process.exit;

function idleSpin(spinUs: number): void {
  const deadline = performance.now() + spinUs / 1000;
  while (inFlight.size === 0 && performance.now() < deadline) {
    const received = receiveMessageOnPort(port);
    if (received !== undefined) {
      unbatch(received.message as Batched<ToExecutor>, onMessage);
      return;
    }
  }
}

function inspect(message: Extract<ToExecutor, { t: 'inspect' }>): void {
  try {
    post({
      t: 'inspected',
      taskId: message.taskId,
      ok: true,
      exports: executor.inspect(message.module),
    });
  } catch (error) {
    post({
      t: 'inspected',
      taskId: message.taskId,
      ok: false,
      error: Executor.describeFailure(error),
    });
  }
}

function onMessage(message: ToExecutor): void {
  switch (message.t) {
    case 'call':
      void runCall(message);
      break;
    case 'reply':
      link.settle(message);
      break;
    case 'inspect':
      inspect(message);
      break;
    case 'forget':
      executor.forgetModule(message.moduleId);
      break;
    case 'ping':
      post({ t: 'pong', seq: message.seq, steps: executor.steps() });
      break;
  }
}
port.on('message', (received: Batched<ToExecutor>) => unbatch(received, onMessage));
post({ t: 'ready' });
