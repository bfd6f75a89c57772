import test from 'ava';
import { ActorMessaging } from '../../src/runtime/messaging.js';
import { setOf } from '../../src/storage/lattices/index.js';

function messaging(messageTtlMs: number) {
  const unused = () => {
    throw new Error('not used here');
  };
  return new ActorMessaging({
    nodeId: 'n1',
    messageTtlMs,
    requestTimeoutMs: 1000,
    cluster: unused,
    isRegistered: () => true,
    isLive: () => false,
    classHome: () => undefined,
    messageBytesMax: 1024,
    previousHomes: () => [],
  });
}

test('a fallback mailbox whose every entry is past the ttl and a grace is expired, no sooner', (t) => {
  const m = messaging(1000);
  const key = '__squall/mailbox/n1/Box';
  const old = Date.now() - 1000 - 61_000;
  const entry = (sentMs: number, id: string) => ({
    id,
    from: 'x',
    message: new Uint8Array(1),
    sentMs,
  });
  t.true(m.isExpiredMailbox(key, setOf([entry(old, 'a'), { id: 'a', taken: true, sentMs: old }])));
  t.false(
    m.isExpiredMailbox(key, setOf([entry(old, 'a'), entry(Date.now(), 'b')])),
    'one is fresh',
  );
  t.false(m.isExpiredMailbox('user/key', setOf([entry(old, 'a')])), 'not a mailbox');
});
