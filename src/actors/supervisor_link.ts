/**
 * The executor's side of its port to the supervisor: numbered requests (a cache miss, a
 * write, a nested call, a message) and the replies that settle them. The number of
 * requests awaiting a reply is bounded so a function that fires writes in a loop without
 * awaiting them gets an error instead of exhausting the thread's memory.
 */
import type { MessagePort } from 'node:worker_threads';
import { errorFromWire, errorToWire, UnavailableError, ValidationError } from '../errors.js';
import type { ExecutorRequest, FromExecutor, ToExecutor } from './messages.js';
import { PortOutbox } from './port_outbox.js';

export const PENDING_REQUESTS_MAX = 100_000;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class SupervisorLink {
  readonly #outbox: PortOutbox<FromExecutor>;
  readonly #pending = new Map<number, Pending>();
  #nextReqId = 1;

  constructor(port: MessagePort) {
    this.#outbox = new PortOutbox(port, (message, error) => {
      // Only a request carries user values as they are (a put's plain value): its caller
      // gets the refusal. What else this thread sends is ours and always clones.
      if (message.t !== 'req') throw error;
      this.settle({
        t: 'reply',
        reqId: message.reqId,
        ok: false,
        error: errorToWire(
          new ValidationError(
            `${message.op === 'put' ? 'the value cannot be stored' : `${message.op} cannot be sent`}: ${error.message}`,
          ),
        ),
      });
    });
  }

  post(message: FromExecutor, transfer?: ArrayBuffer[]): void {
    this.#outbox.post(message, transfer);
  }

  request(request: ExecutorRequest, transfer?: ArrayBuffer[]): Promise<unknown> {
    if (this.#pending.size >= PENDING_REQUESTS_MAX) {
      return Promise.reject(
        new UnavailableError(
          `more than ${PENDING_REQUESTS_MAX} requests from this executor await replies`,
        ),
      );
    }
    const reqId = this.#nextReqId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(reqId, { resolve, reject });
      this.post({ t: 'req', reqId, ...request }, transfer);
    });
  }

  /** Settles the request a reply answers. */
  settle(reply: Extract<ToExecutor, { t: 'reply' }>): void {
    const pending = this.#pending.get(reply.reqId);
    if (pending === undefined) return;
    this.#pending.delete(reply.reqId);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(errorFromWire(reply.error));
  }
}
