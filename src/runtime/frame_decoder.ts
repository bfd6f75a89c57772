/**
 * Splits a TCP byte stream into length-prefixed frames: a 4-byte big-endian length, then
 * that many bytes of CBOR. The length is checked against `frameBytesMax` before any byte
 * of the body is buffered, so a peer cannot make us allocate more than the limit; a
 * violation is a `FrameError` and the caller closes that one connection (DESIGN.md,
 * principle 4). Chunks are kept as a list and only joined when a frame is complete, so a
 * 10 MB frame arriving in 64 KB chunks costs one copy, not a quadratic number of them.
 */

export const FRAME_HEADER_BYTES = 4;
/** The first four bytes of an HTTP response or request, read as a frame header. */
const HTTP_STARTS = new Set(['HTTP', 'GET ', 'POST', 'PUT ', 'HEAD', 'DELE', 'OPTI', 'PATC']);

export class FrameError extends Error {
  override name = 'FrameError';
}

export class FrameDecoder {
  readonly #frameBytesMax: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #expected = -1;

  constructor(frameBytesMax: number) {
    this.#frameBytesMax = frameBytesMax;
  }

  /** Feeds a chunk; returns the frame bodies it completed, in order. Throws FrameError. */
  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.#expected < 0) {
        if (this.#buffered < FRAME_HEADER_BYTES) break;
        const header = this.#take(FRAME_HEADER_BYTES);
        const length = header.readUInt32BE(0);
        if (length === 0) throw new FrameError('empty frame');
        if (length > this.#frameBytesMax) {
          // "HTTP", "GET ", "POST"…: the other side speaks HTTP, not squall frames.
          if (HTTP_STARTS.has(header.toString('latin1')))
            throw new FrameError(
              'the other side speaks HTTP, not squall: that is an HTTP port (the gateway listens on its own port, by default the node port + 80)',
            );
          throw new FrameError(
            `frame of ${length} bytes exceeds the limit of ${this.#frameBytesMax}`,
          );
        }
        this.#expected = length;
      }
      if (this.#buffered < this.#expected) break;
      frames.push(this.#take(this.#expected));
      this.#expected = -1;
    }
    return frames;
  }

  /** Removes exactly `count` buffered bytes from the front (count ≤ buffered). */
  #take(count: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length === count) {
      this.#chunks.shift();
      this.#buffered -= count;
      return first;
    }
    if (first.length > count) {
      this.#chunks[0] = first.subarray(count);
      this.#buffered -= count;
      return first.subarray(0, count);
    }
    const out = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.#chunks[0]!;
      const used = Math.min(chunk.length, count - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(used);
    }
    this.#buffered -= count;
    return out;
  }
}

/** Builds the 4-byte length header of a frame. */
export function frameHeader(bodyBytes: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(bodyBytes, 0);
  return header;
}
