/**
 * PeerLinks against a fake peer over real sockets: a request whose connection closes
 * before the answer fails at once, as a timeout (it may have been applied), instead of
 * waiting out its deadline.
 */
import { createServer } from 'node:net';
import test from 'ava';
import { TimeoutError } from '../../src/errors.js';
import { DEFAULT_CONNECTION_LIMITS } from '../../src/runtime/connection.js';
import { PeerLinks } from '../../src/runtime/peer_links.js';

test('a request fails at once when its connection closes before the answer', async (t) => {
  t.timeout(10_000);
  // A peer that takes the hello and the request, then dies without answering.
  const server = createServer((socket) => {
    socket.once('data', () => setTimeout(() => socket.destroy(), 50));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const links = new PeerLinks(
    { id: 'self', address: '127.0.0.1:1' },
    undefined,
    DEFAULT_CONNECTION_LIMITS,
  );
  try {
    const started = Date.now();
    const error = await t.throwsAsync(links.request(`127.0.0.1:${port}`, 'get', {}, 60_000), {
      instanceOf: TimeoutError,
    });
    t.regex(error.message, /closed before it answered/);
    t.true(Date.now() - started < 5_000);
  } finally {
    links.close();
    server.close();
  }
});
