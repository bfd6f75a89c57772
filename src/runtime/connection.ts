/**
 * One framed, CBOR-encoded message stream over a TCP socket, used by clients and by
 * supervisors alike. Outbound: the socket is corked for the rest of the event-loop turn, so
 * every frame sent in that turn leaves in one writev, with Nagle off (a frame split across
 * packets with Nagle on costs 44 ms a round trip here, TOOLCHAIN.md). Inbound: frames are bounded by
 * `frameBytesMax`; a frame that is too long or is not CBOR closes this connection only.
 * The write backlog is bounded by `writeBytesMax`: past it `send` refuses with
 * UnavailableError instead of buffering without limit (DESIGN.md, principle 3).
 */
import type { Socket } from 'node:net';
import { UnavailableError, ValidationError } from '../errors.js';
import { decode, decodeLarge, encode } from '../storage/index.js';
import { FRAME_HEADER_BYTES, FrameDecoder, frameHeader } from './frame_decoder.js';

export interface ConnectionLimits {
  frameBytesMax: number;
  writeBytesMax: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  frameBytesMax: 64 * 1024 * 1024,
  writeBytesMax: 256 * 1024 * 1024,
};

export interface ConnectionOptions {
  /**
   * Decode large frames in place (codec.ts `decodeLarge`): their byte strings stay views of
   * the frame, which nothing else holds. For the client, whose answers go to the caller; a
   * node stores what it decodes, where a view would keep a whole batch frame alive.
   */
  decodeLargeInPlace?: boolean;
}

export interface ConnectionHandlers {
  onMessage(message: unknown): void;
  onClose(error: Error | undefined): void;
}

/** How long a closing connection may take to write what was already sent. */
const CLOSE_GRACE_MS = 1000;

/** Frames at or below this size are copied behind their header and written once. */
const JOIN_BYTES_MAX = 64 * 1024;

export class Connection {
  readonly socket: Socket;
  readonly #limits: ConnectionLimits;
  readonly #decoder: FrameDecoder;
  #handlers: ConnectionHandlers | undefined;
  #closed = false;
  #corked = false;
  readonly #decodeLargeInPlace: boolean;

  constructor(
    socket: Socket,
    limits: ConnectionLimits,
    handlers?: ConnectionHandlers,
    options: ConnectionOptions = {},
  ) {
    this.socket = socket;
    this.#decodeLargeInPlace = options.decodeLargeInPlace ?? false;
    this.#limits = limits;
    this.#decoder = new FrameDecoder(limits.frameBytesMax);
    this.#handlers = handlers;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.close(error));
    socket.on('close', () => this.close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
  }

  /** Encodes and sends one message. Throws ValidationError when it exceeds the frame limit. */
  send(message: unknown): void {
    if (this.#closed) throw new UnavailableError('connection closed');
    const body = encode(message);
    this.sendEncoded(body);
  }

  sendEncoded(body: Uint8Array): void {
    if (this.#closed) throw new UnavailableError('connection closed');
    if (body.length > this.#limits.frameBytesMax) {
      throw new ValidationError(
        `message of ${body.length} bytes exceeds the frame limit of ${this.#limits.frameBytesMax}`,
      );
    }
    if (this.socket.writableLength > this.#limits.writeBytesMax) {
      throw new UnavailableError('peer is not reading: write backlog full');
    }
    this.#corkUntilTickEnds();
    if (body.length <= JOIN_BYTES_MAX) {
      const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
      frame.writeUInt32BE(body.length, 0);
      frame.set(body, FRAME_HEADER_BYTES);
      this.socket.write(frame);
      return;
    }
    this.socket.write(frameHeader(body.length));
    this.socket.write(body);
  }

  /**
   * Frames sent in one turn of the event loop leave in one write (writev): with many
   * requests in flight, a write per frame cost a syscall each and most of the client's time.
   */
  #corkUntilTickEnds(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.socket.cork();
    process.nextTick(() => {
      if (!this.#corked) return;
      this.#corked = false;
      this.socket.uncork();
    });
  }

  /**
   * Closes the connection. What was already sent still goes out (a last error answer, say):
   * the socket is ended, and destroyed once that is written or after a short grace.
   */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#corked) {
      this.#corked = false;
      this.socket.uncork();
    }
    if (this.socket.destroyed || this.socket.writableLength === 0) {
      this.socket.destroy();
    } else {
      this.socket.end(() => this.socket.destroy());
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    }
    this.#handlers?.onClose(error);
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    let frames: Buffer[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      this.close(error as Error);
      return;
    }
    for (const frame of frames) {
      let message: unknown;
      try {
        // A frame that has its buffer to itself (FrameDecoder joined it) may be decoded in place.
        const own = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength;
        message = this.#decodeLargeInPlace && own ? decodeLarge(frame) : decode(frame);
      } catch {
        this.close(new Error('malformed frame: not CBOR'));
        return;
      }
      if (this.#closed) return;
      this.#handlers?.onMessage(message);
    }
  }
}
