/**
 * The supervisor's mailboxes, driven by a fake clock: messages come out in delivery order;
 * a full mailbox and a full node are UnavailableError and lose nothing already accepted;
 * a mailbox untouched for longer than ttlMs is swept, and reading keeps it alive. A
 * property test runs random operations against a plain model of the same rules.
 */
import test from 'ava';
import fc from 'fast-check';
import { DEFAULT_MAILBOX_LIMITS, Mailboxes } from '../../src/actors/mailboxes.js';
import type { MailMessage } from '../../src/actors/messages.js';
import { UnavailableError } from '../../src/errors.js';

const seed =
  Number(process.env.SQUALL_SEED) || (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;

function msg(from: string, n: number): MailMessage {
  return { from, message: new Uint8Array([n & 0xff, n >> 8]) };
}

function ids(messages: MailMessage[]): number[] {
  return messages.map((m) => m.message[0]! + (m.message[1]! << 8));
}

class FakeClock {
  ms = 1_000_000;
  readonly now = () => this.ms;
}

test('the defaults are bounded', (t) => {
  t.deepEqual(DEFAULT_MAILBOX_LIMITS, {
    messagesMax: 10_000,
    mailboxesMax: 100_000,
    ttlMs: 60_000,
  });
});

test('take returns delivered messages in order, once', (t) => {
  const clock = new FakeClock();
  const boxes = new Mailboxes({ messagesMax: 100, mailboxesMax: 10, ttlMs: 1000 }, clock.now);
  t.deepEqual(boxes.take('nobody'), []);
  t.is(boxes.size, 0, 'take of an unknown actor creates nothing');
  for (let i = 0; i < 50; i++) boxes.deliver(i % 2 === 0 ? 'a' : 'b', msg(`s${i}`, i));
  t.is(boxes.size, 2);
  const a = boxes.take('a');
  t.deepEqual(
    ids(a),
    Array.from({ length: 25 }, (_, i) => 2 * i),
  );
  t.is(a[0]!.from, 's0');
  t.deepEqual(boxes.take('a'), []);
  boxes.deliver('a', msg('late', 99));
  t.deepEqual(ids(boxes.take('a')), [99]);
  t.deepEqual(
    ids(boxes.take('b')),
    Array.from({ length: 25 }, (_, i) => 2 * i + 1),
  );
});

test('a full mailbox refuses with UnavailableError and keeps what it accepted', (t) => {
  const boxes = new Mailboxes({ messagesMax: 3, mailboxesMax: 10, ttlMs: 1000 }, () => 0);
  for (let i = 0; i < 3; i++) boxes.deliver('a', msg('s', i));
  const error = t.throws(() => boxes.deliver('a', msg('s', 3)), { instanceOf: UnavailableError });
  t.is(error.code, 'UNAVAILABLE');
  t.regex(error.message, /mailbox of a is full \(3 messages/);
  t.throws(() => boxes.deliver('a', msg('s', 4)), { instanceOf: UnavailableError });
  boxes.deliver('b', msg('s', 5)); // other mailboxes are not affected
  t.deepEqual(ids(boxes.take('a')), [0, 1, 2]);
  boxes.deliver('a', msg('s', 6)); // drained: room again
  t.deepEqual(ids(boxes.take('a')), [6]);
  t.deepEqual(ids(boxes.take('b')), [5]);
});

test('the mailboxes limit refuses a new mailbox, not one that exists', (t) => {
  const clock = new FakeClock();
  const boxes = new Mailboxes({ messagesMax: 10, mailboxesMax: 2, ttlMs: 1000 }, clock.now);
  boxes.deliver('a', msg('s', 1));
  boxes.deliver('b', msg('s', 2));
  const error = t.throws(() => boxes.deliver('c', msg('s', 3)), { instanceOf: UnavailableError });
  t.regex(error.message, /2 mailboxes, its limit/);
  t.is(boxes.size, 2);
  boxes.deliver('a', msg('s', 4));
  t.deepEqual(ids(boxes.take('a')), [1, 4]);
  t.deepEqual(ids(boxes.take('b')), [2]);
  t.deepEqual(boxes.take('c'), []);
});

test('at the mailboxes limit, expired mailboxes are swept to make room', (t) => {
  const clock = new FakeClock();
  const boxes = new Mailboxes({ messagesMax: 10, mailboxesMax: 2, ttlMs: 1000 }, clock.now);
  boxes.deliver('old', msg('s', 1));
  clock.ms += 600;
  boxes.deliver('young', msg('s', 2));
  clock.ms += 401; // 'old' untouched for 1001 ms, 'young' for 401 ms
  boxes.deliver('new', msg('s', 3));
  t.is(boxes.size, 2);
  t.deepEqual(boxes.take('old'), [], 'the expired mailbox and its message are gone');
  t.deepEqual(ids(boxes.take('young')), [2]);
  t.deepEqual(ids(boxes.take('new')), [3]);
  // Nothing is expired now: the limit holds.
  t.throws(() => boxes.deliver('another', msg('s', 4)), { instanceOf: UnavailableError });
});

test('ttl: a mailbox lives exactly ttlMs after its last touch', (t) => {
  const clock = new FakeClock();
  const boxes = new Mailboxes({ messagesMax: 10, mailboxesMax: 10, ttlMs: 1000 }, clock.now);
  boxes.deliver('a', msg('s', 1));
  clock.ms += 1000;
  t.is(boxes.sweep(), 0, 'at exactly ttlMs it is still kept');
  clock.ms += 1;
  t.is(boxes.sweep(), 1);
  t.is(boxes.size, 0);
  t.deepEqual(boxes.take('a'), []);
});

test('a live actor keeps its mail past the ttl', (t) => {
  const clock = new FakeClock();
  const boxes = new Mailboxes({ messagesMax: 10, mailboxesMax: 10, ttlMs: 1000 }, clock.now);
  boxes.deliver('alive', msg('s', 1));
  boxes.deliver('gone', msg('s', 2));
  clock.ms += 5000;
  t.is(
    boxes.sweep((actorId) => actorId === 'alive'),
    1,
  );
  t.deepEqual(ids(boxes.take('alive')), [1]);
  t.deepEqual(boxes.take('gone'), []);
});

test('a delivery restarts the ttl', (t) => {
  const clock = new FakeClock();
  const boxes = new Mailboxes({ messagesMax: 10, mailboxesMax: 10, ttlMs: 1000 }, clock.now);
  boxes.deliver('a', msg('s', 1));
  clock.ms += 900;
  boxes.deliver('a', msg('s', 2));
  clock.ms += 900;
  t.is(boxes.sweep(), 0);
  t.deepEqual(ids(boxes.take('a')), [1, 2]);
});

test('take keeps a mailbox alive, even an empty one', (t) => {
  const clock = new FakeClock();
  const boxes = new Mailboxes({ messagesMax: 10, mailboxesMax: 10, ttlMs: 1000 }, clock.now);
  boxes.deliver('a', msg('s', 1));
  boxes.deliver('b', msg('s', 2));
  for (let i = 0; i < 5; i++) {
    clock.ms += 800;
    boxes.take('a'); // empties it the first time, then only touches it
    t.is(boxes.sweep(), i === 1 ? 1 : 0, `round ${i}`);
  }
  t.is(boxes.size, 1);
  clock.ms += 500;
  boxes.deliver('a', msg('s', 3));
  t.deepEqual(ids(boxes.take('a')), [3]);
  t.deepEqual(boxes.take('b'), [], "b's message expired with it");
});

test('a refused delivery does not refresh the ttl', (t) => {
  const clock = new FakeClock();
  const boxes = new Mailboxes({ messagesMax: 1, mailboxesMax: 10, ttlMs: 1000 }, clock.now);
  boxes.deliver('a', msg('s', 1));
  clock.ms += 900;
  t.throws(() => boxes.deliver('a', msg('s', 2)), { instanceOf: UnavailableError });
  clock.ms += 200;
  t.is(boxes.sweep(), 1);
});

// ---- property: the real thing against a simple model ----

type Op =
  | { op: 'deliver'; to: number; n: number }
  | { op: 'take'; to: number }
  | { op: 'advance'; ms: number }
  | { op: 'sweep' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ op: fc.constant('deliver' as const), to: fc.nat(5), n: fc.nat(60_000) }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('take' as const), to: fc.nat(5) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.oneof(fc.nat(4), fc.nat(150)),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('sweep' as const) }) },
);

interface ModelBox {
  messages: number[];
  touchedMs: number;
}

class Model {
  readonly boxes = new Map<string, ModelBox>();
  constructor(
    readonly messagesMax: number,
    readonly mailboxesMax: number,
    readonly ttlMs: number,
  ) {}

  sweep(now: number): number {
    let dropped = 0;
    for (const [id, box] of this.boxes) {
      if (now - box.touchedMs > this.ttlMs) {
        this.boxes.delete(id);
        dropped += 1;
      }
    }
    return dropped;
  }

  /** Returns false when the delivery is refused. */
  deliver(to: string, n: number, now: number): boolean {
    let box = this.boxes.get(to);
    if (box === undefined) {
      if (this.boxes.size >= this.mailboxesMax) this.sweep(now);
      if (this.boxes.size >= this.mailboxesMax) return false;
      box = { messages: [], touchedMs: now };
      this.boxes.set(to, box);
    }
    if (box.messages.length >= this.messagesMax) return false;
    box.messages.push(n);
    box.touchedMs = now;
    return true;
  }

  take(to: string, now: number): number[] {
    const box = this.boxes.get(to);
    if (box === undefined) return [];
    box.touchedMs = now;
    const out = box.messages;
    box.messages = [];
    return out;
  }
}

test('property: random operations behave like the model', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  let refusals = 0;
  let swept = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 4 }),
      fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 300 })),
      fc.array(opArb, { maxLength: 80 }),
      (messagesMax, mailboxesMax, ttlMs, ops) => {
        const clock = new FakeClock();
        const real = new Mailboxes({ messagesMax, mailboxesMax, ttlMs }, clock.now);
        const model = new Model(messagesMax, mailboxesMax, ttlMs);
        for (const step of ops) {
          if (step.op === 'advance') clock.ms += step.ms;
          else if (step.op === 'sweep') {
            const dropped = real.sweep();
            swept += dropped;
            if (dropped !== model.sweep(clock.ms)) return false;
          } else if (step.op === 'take') {
            const got = ids(real.take(`actor${step.to}`));
            const want = model.take(`actor${step.to}`, clock.ms);
            if (got.join() !== want.join()) return false;
          } else {
            let accepted = true;
            try {
              real.deliver(`actor${step.to}`, msg('sender', step.n));
            } catch (error) {
              if (!(error instanceof UnavailableError)) return false;
              accepted = false;
              refusals += 1;
            }
            if (accepted !== model.deliver(`actor${step.to}`, step.n, clock.ms)) return false;
          }
          if (real.size !== model.boxes.size || real.size > mailboxesMax) return false;
        }
        // Drain: everything still held comes out, in order.
        for (const [id, box] of model.boxes) {
          if (ids(real.take(id)).join() !== box.messages.join()) return false;
        }
        return true;
      },
    ),
    { seed, numRuns: 5_000 },
  );
  t.true(refusals > 100, `${refusals} refusals`);
  t.true(swept > 100, `${swept} mailboxes swept`);
});

test('a graceful stop takes the undelivered messages: a recv after it gets none of them again', (t) => {
  const clock = new FakeClock();
  const boxes = new Mailboxes({ messagesMax: 100, mailboxesMax: 10, ttlMs: 1000 }, clock.now);
  boxes.deliver('a', msg('s', 1));
  boxes.deliver('a', msg('s', 2));
  boxes.deliver('b', msg('s', 3));
  boxes.take('b');
  const saved = boxes.takeUndelivered();
  t.deepEqual(
    saved.map(([actor, mail]) => [actor, ids(mail)]),
    [['a', [1, 2]]],
  );
  t.deepEqual(boxes.take('a'), [], 'moved out, not copied');
  t.deepEqual(boxes.takeUndelivered(), []);
});
