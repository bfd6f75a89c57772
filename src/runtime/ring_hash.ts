/**
 * The hash that places keys and virtual nodes on the consistent-hashing ring: MurmurHash3
 * (x86, 32-bit) over the string's UTF-16 code units, read two at a time as one little-endian
 * 32-bit block. That is bit for bit murmur3 of the string's UTF-16LE bytes, so any process
 * (or another language) computes the same value, and the ring a node builds from a member
 * list matches every other node's. It walks `charCodeAt` rather than encoding the string,
 * so a call allocates nothing; murmur3 is chosen over FNV-1a because its block mixing and
 * final avalanche spread short, similar strings (`node-1#0`, `node-1#1`, `user:42`) evenly
 * over all 32 bits, which is what the ring's balance rests on.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Mixes one 32-bit block into the running hash state `h`. */
function mixBlock(h: number, block: number): number {
  let k = Math.imul(block, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  let next = h ^ k;
  next = (next << 13) | (next >>> 19);
  return (Math.imul(next, 5) + 0xe6546b64) | 0;
}

/** murmur3's final avalanche: every input bit flips each output bit with probability ~1/2. */
function fmix32(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** MurmurHash3_x86_32 of the string's UTF-16LE bytes, as an unsigned integer in [0, 2^32). */
export function ringHash(text: string, seed = 0): number {
  const length = text.length;
  const even = length & ~1;
  let h = seed | 0;
  for (let i = 0; i < even; i += 2) {
    h = mixBlock(h, text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16));
  }
  if (even !== length) {
    let k = Math.imul(text.charCodeAt(even), C1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, C2);
  }
  return fmix32(h ^ (length * 2));
}
