/**
 * The handle `callAsync` returns: the key where the call's result will be stored, and
 * `get()` to wait for it. A Future passed as an argument to another call travels as a
 * reference to that key (it extends FutureRef), and the executor waits for the result
 * before the function runs — chaining calls without a round trip through the client.
 */
import { checkOptions } from '../errors.js';
import { decodeLarge, FutureRef } from '../storage/index.js';
import type { ClientConnection } from './client_connection.js';

export class Future<T = unknown> extends FutureRef {
  readonly #connection: ClientConnection;
  readonly #timeoutMs: number;

  constructor(key: string, connection: ClientConnection, timeoutMs: number) {
    super(key);
    this.#connection = connection;
    this.#timeoutMs = timeoutMs;
  }

  /** Resolves to the call's result, or rejects with its error (TimeoutError past `timeoutMs`). */
  async get(options: { timeoutMs?: number } = {}): Promise<T> {
    checkOptions(options, 'Future.get', ['timeoutMs']);
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const answer = await this.#connection.request(
      { op: 'await', key: this.key, timeoutMs },
      timeoutMs + 1000,
    );
    return decodeLarge(answer.bytes!) as T;
  }
}
