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
  readonly #onUnsendable: (message: M, error: Error) => void;
  #queue: M[] = [];
  /** Each queued message's transfer list, by position (undefined: none). */
  #transfers: (readonly ArrayBuffer[] | undefined)[] = [];

  /** `onUnsendable` hears of a message that structured clone refused (a function in it). */
  constructor(port: MessagePort, onUnsendable: (message: M, error: Error) => void) {
    this.#port = port;
    this.#onUnsendable = onUnsendable;
  }

  post(message: M, transfer?: readonly ArrayBuffer[]): void {
    this.#queue.push(message);
    this.#transfers.push(transfer);
    if (this.#queue.length === 1) process.nextTick(this.flush);
  }

  /** Posts what is waiting now. */
  readonly flush = (): void => {
    const queue = this.#queue;
    if (queue.length === 0) return;
    const transfers = this.#transfers;
    this.#queue = [];
    this.#transfers = [];
    if (queue.length === 1) {
      this.#postOne(queue[0]!, transfers[0]);
      return;
    }
    // Each buffer once: listing one twice makes postMessage throw.
    const transfer = [...new Set(transfers.flatMap((list) => list ?? []))];
    try {
      this.#port.postMessage({ t: 'batch', messages: queue } satisfies Batched<M>, transfer);
    } catch {
      // One of them cannot be cloned: the others still go, and that one's sender is told.
      // (Serialising fails before anything is transferred, so every buffer is still here.)
      for (let i = 0; i < queue.length; i++) this.#postOne(queue[i]!, transfers[i]);
    }
  };

  #postOne(message: M, transfer: readonly ArrayBuffer[] | undefined): void {
    try {
      this.#port.postMessage(message, transfer);
    } catch (error) {
      this.#onUnsendable(message, error as Error);
    }
  }
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
