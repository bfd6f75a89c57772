/**
 * Peer reply frames are recognised from their first bytes (they alone may be decoded in
 * place): the prefix must match what the codec writes for every reply, and nothing else.
 */
import test from 'ava';
import { isReplyFrame } from '../../src/runtime/peer_links.js';
import { encode } from '../../src/storage/index.js';

const frame = (message: unknown) => Buffer.from(encode(message));

test('replies are recognised, requests and core messages are not', (t) => {
  const big = new Uint8Array(100_000);
  t.true(isReplyFrame(frame({ p: 'reply', id: 1, ok: true, v: big })));
  t.true(isReplyFrame(frame({ p: 'reply', id: 7, ok: false, e: { code: 'X', message: 'm' } })));
  t.false(isReplyFrame(frame({ p: 'rpc', id: 1, op: 'merge', a: { wire: big } })));
  t.false(isReplyFrame(frame({ p: 'core', core: 'replication', m: [big] })));
  t.false(isReplyFrame(frame({ id: 0, ok: false, error: {} })));
  t.false(isReplyFrame(Buffer.from([0xa4, 0x61, 0x70])));
});
