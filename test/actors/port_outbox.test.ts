/**
 * PortOutbox: a turn's messages arrive in one post and in order, a lone one arrives as it
 * is, transferred buffers move (listed once even when two messages name the same one), and
 * later turns start new batches; a message that cannot be cloned is handed back with the
 * reason while the rest of its turn still goes.
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import test from 'ava';
import { type Batched, PortOutbox, unbatch } from '../../src/actors/port_outbox.js';

type Message = { t: 'n'; n: number } | { t: 'bytes'; bytes: Uint8Array } | { t: 'f'; f: unknown };

function drain(port: MessagePort) {
  const posts: Batched<Message>[] = [];
  for (;;) {
    const received = receiveMessageOnPort(port);
    if (received === undefined) return posts;
    posts.push(received.message as Batched<Message>);
  }
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

test('a turn of messages is one post, in order; a lone message goes as it is', async (t) => {
  const { port1, port2 } = new MessageChannel();
  const outbox = new PortOutbox<Message>(port1, (_m, error) => t.fail(error.message));
  for (let n = 0; n < 5; n++) outbox.post({ t: 'n', n });
  t.deepEqual(drain(port2), [], 'nothing leaves before the turn ends');
  await nextTurn();
  const posts = drain(port2);
  t.is(posts.length, 1);
  const got: number[] = [];
  unbatch(posts[0]!, (m) => got.push(m.t === 'n' ? m.n : -1));
  t.deepEqual(got, [0, 1, 2, 3, 4]);
  outbox.post({ t: 'n', n: 9 });
  await nextTurn();
  t.deepEqual(drain(port2), [{ t: 'n', n: 9 }]);
  port1.close();
});

test('transferred buffers move once, even when two messages list the same one', async (t) => {
  const { port1, port2 } = new MessageChannel();
  const outbox = new PortOutbox<Message>(port1, (_m, error) => t.fail(error.message));
  const bytes = new Uint8Array([1, 2, 3]);
  outbox.post({ t: 'bytes', bytes }, [bytes.buffer as ArrayBuffer]);
  outbox.post({ t: 'bytes', bytes }, [bytes.buffer as ArrayBuffer]);
  outbox.flush();
  t.is(bytes.byteLength, 0, 'the buffer was moved, not copied');
  const received: Uint8Array[] = [];
  unbatch(drain(port2)[0]!, (m) => {
    if (m.t === 'bytes') received.push(m.bytes);
  });
  t.deepEqual(
    received.map((b) => [...b]),
    [
      [1, 2, 3],
      [1, 2, 3],
    ],
  );
  port1.close();
});

test('a message that cannot be cloned is handed back; the rest of its turn still goes', async (t) => {
  const { port1, port2 } = new MessageChannel();
  const refused: [Message, string][] = [];
  const outbox = new PortOutbox<Message>(port1, (m, error) => refused.push([m, error.name]));
  const bytes = new Uint8Array([4, 5]);
  outbox.post({ t: 'n', n: 1 });
  outbox.post({ t: 'f', f: () => 1 });
  outbox.post({ t: 'bytes', bytes }, [bytes.buffer as ArrayBuffer]);
  await nextTurn();
  const got: Message[] = [];
  for (const post of drain(port2)) unbatch(post, (m) => got.push(m));
  t.deepEqual(
    got.map((m) => m.t),
    ['n', 'bytes'],
  );
  t.deepEqual(
    refused.map(([m, name]) => [m.t, name]),
    [['f', 'DataCloneError']],
  );
  port1.close();
});
