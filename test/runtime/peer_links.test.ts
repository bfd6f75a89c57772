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

test('a message to a peer in its redial backoff is refused, and sent at once after retryNow', async (t) => {
  t.timeout(10_000);
  // A port that refuses connections now and listens later: a node restarting there.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const address = `127.0.0.1:${port}`;
  const links = new PeerLinks(
    { id: 'self', address: '127.0.0.1:1' },
    undefined,
    DEFAULT_CONNECTION_LIMITS,
  );
  const lost: string[] = [];
  links.onLinkLost = (a) => lost.push(a);
  const received: Buffer[] = [];
  const server = createServer((socket) => socket.on('data', (d) => received.push(d)));
  try {
    t.true(links.sendCore(address, 'dag', { n: 1 }), 'queued while it dials');
    // The dial fails: the link is lost (with a message waiting) and backs off.
    for (let i = 0; i < 100 && lost.length === 0; i++) await sleep(10);
    t.deepEqual(lost, [address]);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    t.false(links.sendCore(address, 'dag', { n: 2 }), 'dropped within the backoff: said so');
    links.retryNow(address);
    t.true(links.sendCore(address, 'dag', { n: 3 }));
    for (let i = 0; i < 200 && received.length === 0; i++) await sleep(10);
    t.true(received.length > 0, 'the peer got the hello and the message');
  } finally {
    links.close();
    server.close();
  }
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
