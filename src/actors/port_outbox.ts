/**
 * Messages to one thread's port, sent in batches: what a turn of the event loop posts
 * leaves as one `postMessage` at its end (process.nextTick), not one each. A post costs a
 * fixed few µs on each side besides the copy of the message (the queue, the wake-up of the
 * other thread, and there a callback of its own with its ticks and microtasks), and with
 * many calls in flight the supervisor posted two or three messages per call. Order is
 * kept; a turn's lone message goes out as it is, so a single call sees no wrapper.
 */
import type { MessagePort } from 'node:worker_threads';

/** What crosses a port: one message, or a turn's messages in order. */
export type Batched<M> = M | { t: 'batch'; messages: M[] };

export class PortOutbox<M extends { t: string }> {
  readonly #port: MessagePort;
  #queue: M[] = [];
  #transfer: ArrayBuffer[] = [];

  constructor(port: MessagePort) {
    this.#port = port;
  }

  post(message: M, transfer?: readonly ArrayBuffer[]): void {
    this.#queue.push(message);
    if (transfer !== undefined) {
      // Listing one buffer twice makes postMessage throw.
      for (const buffer of transfer)
        if (!this.#transfer.includes(buffer)) this.#transfer.push(buffer);
    }
    if (this.#queue.length === 1) process.nextTick(this.flush);
  }

  /** Posts what is waiting now; callers about to block the thread (a spin) call it first. */
  readonly flush = (): void => {
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    const transfer = this.#transfer;
    this.#transfer = [];
    const message: Batched<M> = queue.length === 1 ? queue[0]! : { t: 'batch', messages: queue };
    this.#port.postMessage(message, transfer);
  };
}

/** Hands each message of what arrived to `handle`, in the order it was posted. */
export function unbatch<M extends { t: string }>(
  received: Batched<M>,
  handle: (message: M) => void,
): void {
  if (received.t !== 'batch') {
    handle(received as M);
    return;
  }
  for (const message of (received as { messages: M[] }).messages) handle(message);
}
