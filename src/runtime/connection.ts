/**
 * One framed, CBOR-encoded message stream over a TCP socket, used by clients and by
 * supervisors alike. Outbound: the small frames sent in one event-loop turn are joined and
 * leave in writes of up to eight frames, the last at the turn's end (large ones go out as
 * they are, in order), with Nagle off
 * (a frame split across packets with Nagle on costs 44 ms a round trip here,
 * TOOLCHAIN.md). Inbound: frames are bounded by
 * `frameBytesMax`; a frame that is too long or is not CBOR closes this connection only.
 * The write backlog is bounded by `writeBytesMax`: past it `send` refuses with
 * UnavailableError instead of buffering without limit (DESIGN.md, principle 3).
 */
import type { Socket } from 'node:net';
import { UnavailableError, ValidationError } from '../errors.js';
import { decode, decodeInPlace, encode } from '../storage/index.js';
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
   * Which frames to decode in place (codec.ts `decodeInPlace`): their byte strings stay
   * views of the frame, which nothing else holds. Only frames that are nearly all one large
   * byte string (`endsWithLargeByteString`): a small byte array must not keep a large frame
   * alive, and a node stores what it decodes.
   */
  decodeInPlace?: (frame: Buffer) => boolean;
}

export interface ConnectionHandlers {
  onMessage(message: unknown): void;
  onClose(error: Error | undefined): void;
}

/** How long a closing connection may take to write what was already sent. */
const CLOSE_GRACE_MS = 1000;

/** Frames at or below this size are copied behind their header and written once. */
const JOIN_BYTES_MAX = 64 * 1024;
/**
 * A turn's frames leave early once this many are waiting (or this many bytes), the rest at
 * the turn's end. Holding a whole turn's answers back made the two ends of a pipelined
 * connection take turns: the reader sat idle while the writer built all of them, and then
 * the other way round. Sent in slices of eight, the reader starts on the first slice while
 * the writer builds the next, so on this 2-core machine both ends work at once: with 16
 * requests in flight one node served 42–48k puts/s before and 84–96k after, with 64,
 * 66–93k before and 149–157k after (bench/kvs.ts; redis-server 76–86k and 93–99k in the
 * same runs). Two or four frames a slice cost more syscalls than they save.
 */
const FLUSH_FRAMES = 8;
const FLUSH_BYTES = 32 * 1024;

export class Connection {
  readonly socket: Socket;
  readonly #limits: ConnectionLimits;
  readonly #decoder: FrameDecoder;
  #handlers: ConnectionHandlers | undefined;
  #closed = false;
  /** Small frames waiting for the end of this event-loop turn, and their bytes. */
  #outbox: Buffer[] = [];
  #outboxBytes = 0;
  /**
   * The largest frame this end sends: the limit it was made with, or less once the other
   * end says it takes less (a node's hello gives its own `frameBytesMax`), so that a frame
   * the other end would refuse — closing the connection, and failing every request on it —
   * is a ValidationError for its sender alone.
   */
  sendBytesMax: number;
  /** See ConnectionOptions; settable, as a client connection may become a peer's. */
  decodeInPlace: (frame: Buffer) => boolean;

  constructor(
    socket: Socket,
    limits: ConnectionLimits,
    handlers?: ConnectionHandlers,
    options: ConnectionOptions = {},
  ) {
    this.socket = socket;
    this.decodeInPlace = options.decodeInPlace ?? (() => false);
    this.#limits = limits;
    this.sendBytesMax = limits.frameBytesMax;
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
    if (body.length > this.sendBytesMax) {
      throw new ValidationError(
        `message of ${body.length} bytes exceeds the frame limit of ${this.sendBytesMax}`,
      );
    }
    if (this.socket.writableLength + this.#outboxBytes > this.#limits.writeBytesMax) {
      throw new UnavailableError('peer is not reading: write backlog full');
    }
    if (body.length <= JOIN_BYTES_MAX) {
      const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
      frame.writeUInt32BE(body.length, 0);
      frame.set(body, FRAME_HEADER_BYTES);
      this.#outbox.push(frame);
      this.#outboxBytes += frame.length;
      if (this.#outbox.length === 1) process.nextTick(this.#flushOutbox);
      else if (this.#outbox.length >= FLUSH_FRAMES || this.#outboxBytes >= FLUSH_BYTES) {
        this.#flushOutbox();
      }
      return;
    }
    // A large body goes out as it is (no copy), after the small frames sent before it.
    this.#flushOutbox();
    this.socket.cork();
    this.socket.write(frameHeader(body.length));
    this.socket.write(body);
    this.socket.uncork();
  }

  /**
   * Small frames sent in one turn of the event loop are joined and leave together: with
   * many requests in flight, a write per frame cost a syscall each and most of the client's
   * time, and even corked, each `socket.write` costs the stream's bookkeeping. The turn
   * ends at nextTick. Ending it at setImmediate instead (after all of this loop iteration's
   * I/O) joined more frames but cost a lone call 20–40 µs at p50 here; the executors'
   * answers arrive a turn's worth per port message anyway (actors/port_outbox.ts).
   */
  readonly #flushOutbox = (): void => {
    const frames = this.#outbox;
    if (frames.length === 0 || this.socket.destroyed) return;
    this.#outbox = [];
    const bytes = this.#outboxBytes;
    this.#outboxBytes = 0;
    this.socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames, bytes));
  };

  /**
   * Closes the connection. What was already sent still goes out (a last error answer, say):
   * the socket is ended, and destroyed once that is written or after a short grace.
   */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#flushOutbox();
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
        message = own && this.decodeInPlace(frame) ? decodeInPlace(frame) : decode(frame);
      } catch {
        this.close(new Error('malformed frame: not CBOR'));
        return;
      }
      if (this.#closed) return;
      this.#handlers?.onMessage(message);
    }
  }
}
