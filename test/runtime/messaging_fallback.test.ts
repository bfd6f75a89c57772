/** Fallback mailboxes in the KVS: when they expire, and where a received message is marked taken. */
import test from 'ava';
import { ActorMessaging, type MessagingOptions } from '../../src/runtime/messaging.js';
import { type Lattice, merge, reveal, setOf } from '../../src/storage/lattices/index.js';

/** A node's messaging with what these tests do not use left inert; `options` replaces it. */
function messaging(options: Partial<MessagingOptions>): ActorMessaging {
  const unused = () => {
    throw new Error('not used here');
  };
  return new ActorMessaging({
    nodeId: 'n1',
    messageTtlMs: 60_000,
    requestTimeoutMs: 1000,
    cluster: unused,
    isRegistered: () => true,
    isLive: () => false,
    classHome: () => undefined,
    messageBytesMax: 1024,
    previousHomes: () => [],
    ...options,
  });
}

test('a fallback mailbox whose every entry is past the ttl and a grace is expired, no sooner', (t) => {
  const m = messaging({ messageTtlMs: 1000 });
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

/** A cluster of one store, enough for a class's mailboxes: reads, writes merged as sets. */
function storeCluster() {
  const store = new Map<string, Lattice>();
  return {
    store,
    cluster: {
      joining: false,
      readHere: (key: string) => ({ value: store.get(key) }),
      read: async (key: string) => store.get(key),
      write: async (key: string, spec: { kind: 'set'; values: unknown[] }) => {
        const incoming = setOf(spec.values);
        const current = store.get(key);
        store.set(key, current === undefined ? incoming : merge(current, incoming));
      },
    },
  };
}

test("mail a class's new home took from its old home's fallback is marked taken there: not received again", async (t) => {
  const { store, cluster } = storeCluster();
  // Sent to Box while its home n1 could not be reached: kept in n1's fallback mailbox.
  const oldBox = '__squall/mailbox/n1/Box';
  store.set(
    oldBox,
    setOf([{ id: 'm1', from: 'x', message: new Uint8Array([7]), sentMs: Date.now() }]),
  );
  const home = () =>
    messaging({
      nodeId: 'n2',
      cluster: () => cluster as never,
      isLive: () => true,
      classHome: () => 'n2',
      previousHomes: () => ['n1'],
    });
  const got = await home().recv('n2/Box', 0);
  t.deepEqual(
    got.map((m) => m.id),
    ['m1'],
  );
  // This node restarts (its memory of ids is gone) or the class moves on: read n1's again.
  t.deepEqual(await home().recv('n2/Box', 0), [], 'not handed out a second time');
  t.true(
    (reveal(store.get(oldBox)!) as { taken?: boolean }[]).some((e) => e.taken === true),
    'the marker is in the mailbox the message came from',
  );
});

test('a node on its way out saves the mail waiting, then refuses more: none is lost with it', async (t) => {
  const { store, cluster } = storeCluster();
  const leaving = messaging({
    cluster: () => cluster as never,
    isLive: () => true,
    classHome: () => 'n1',
  });
  const mail = (id: string) => ({
    to: 'n1/Box',
    from: 'n2/Sender',
    message: new Uint8Array([1]),
    id,
  });
  t.is(leaving.deliverFromPeer(mail('before')), null, 'taken in while serving');
  t.is(await leaving.saveUndelivered(), 1);
  t.deepEqual(leaving.deliverFromPeer(mail('after')), { refused: 'leaving' });
  const saved = reveal(store.get('__squall/mailbox/n1/Box')!) as { id: string }[];
  t.deepEqual(
    saved.map((e) => e.id),
    ['before'],
    'what came before is in the fallback mailbox; what came after is the sender’s to write there',
  );
});
