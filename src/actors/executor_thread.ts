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
import { SupervisorLink } from './supervisor_link.js';

export interface ExecutorThreadData {
  cacheBuffer: SharedArrayBuffer;
  executorIndex: number;
  nodeId: string;
  /** This thread's end of its channel to the supervisor. */
  port: MessagePort;
}

const data = workerData as ExecutorThreadData;
const { port } = data;

const root = pino(
  { base: { node: data.nodeId, executor: data.executorIndex } },
  pino.destination({ dest: 2, sync: true }),
);
const link = new SupervisorLink(port);
const executor = new Executor({
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
});

function post(message: FromExecutor, transfer?: ArrayBuffer[]): void {
  link.post(message, transfer);
}

let running = 0;
async function runCall(message: Extract<ToExecutor, { t: 'call' }>): Promise<void> {
  running += 1;
  try {
    const { bytes, reads } = await executor.run(message);
    post(
      {
        t: 'done',
        callId: message.callId,
        ok: true,
        bytes,
        ...(reads === undefined ? {} : { reads }),
      },
      [bytes.buffer],
    );
  } catch (error) {
    const wire = Executor.describeFailure(error);
    // Code that failed to load is not kept, so the supervisor sends it again next time.
    const resend = Executor.isSetupFailure(error) ? true : undefined;
    post({
      t: 'done',
      callId: message.callId,
      ok: false,
      error: wire,
      ...(resend ? { resend } : {}),
    });
  }
  running -= 1;
  if (running === 0 && message.spinUs !== undefined) {
    const spinUs = message.spinUs;
    setImmediate(() => idleSpin(spinUs));
  }
}

function idleSpin(spinUs: number): void {
  const deadline = performance.now() + spinUs / 1000;
  while (running === 0 && performance.now() < deadline) {
    const received = receiveMessageOnPort(port);
    if (received !== undefined) {
      onMessage(received.message as ToExecutor);
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
  }
}
port.on('message', onMessage);
post({ t: 'ready' });
