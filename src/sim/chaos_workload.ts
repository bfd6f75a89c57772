/**
 * The clients of a chaos run: each one an SDK connection doing what users do — adding to
 * sets, counting, writing and reading back its own last-writer-wins key, calling a
 * function and a two-function DAG, sending messages to class actors and reading their
 * mailboxes — in a seeded random order, recording every outcome in the ledger. Everything
 * goes through the public API only, so a run tests the cluster as users meet it.
 *
 * Operations run one at a time per client (no think time): a run's load is set by its
 * number of clients.
 */
import type { Context } from '../actors/index.js';
import type { Cloud } from '../client/index.js';
import { lattice } from '../storage/index.js';
import type { ChaosLedger } from './chaos_ledger.js';
import type { Random } from './random.js';

export const CHAOS_SET_KEYS = 16;
export const CHAOS_COUNTER_KEYS = 4;
export const CHAOS_INBOXES = 3;

export const chaosSetKey = (i: number) => `chaos/set/${i}`;
export const chaosCounterKey = (i: number) => `chaos/count/${i}`;
export const chaosLwwKey = (client: string) => `chaos/lww/${client}`;
const inboxName = (i: number) => `chaosInbox${i}`;

/** A failed operation is followed by this pause, so a client does not spin on a dead node. */
const PAUSE_AFTER_ERROR_MS = 50;

/** Registers the run's functions, DAG and class actors; resolves to the actors' addresses. */
export async function deployChaos(cloud: Cloud): Promise<string[]> {
  await cloud.register('chaosAdd', (_ctx: Context, a: number, b: number) => a + b);
  await cloud.register('chaosDouble', (_ctx: Context, x: number) => 2 * x);
  await cloud.register('chaosInc', (_ctx: Context, x: number) => x + 1);
  await cloud.registerDag('chaosChain', ['chaosDouble', 'chaosInc'], [['chaosDouble', 'chaosInc']]);
  await cloud.register('chaosMail', async (ctx: Context, to: string, id: string) => {
    await ctx.send(to, id);
  });
  const addresses: string[] = [];
  for (let i = 0; i < CHAOS_INBOXES; i++) {
    await cloud.register(
      inboxName(i),
      class {
        run(ctx: Context, op: string) {
          // Each message with the id the platform gave it: [message, id].
          return op === 'id'
            ? ctx.id
            : ctx.recv().then((mail) => mail.map((m) => [m.message, m.id]));
        }
      },
    );
    addresses.push((await cloud.call(inboxName(i), ['id'])) as string);
  }
  return addresses;
}

/** Reads every inbox until all come back empty `quietRounds` times in a row, or time is up. */
export async function drainInboxes(
  cloud: Cloud,
  ledger: ChaosLedger,
  timeoutMs: number,
  quietRounds = 3,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  while (quiet < quietRounds && Date.now() < deadline) {
    let got = 0;
    for (let i = 0; i < CHAOS_INBOXES; i++) {
      try {
        const mail = (await cloud.call(inboxName(i), ['read'])) as [unknown, string][];
        for (const [id, platformId] of mail) ledger.received(id, i, platformId);
        got += mail.length;
      } catch (error) {
        ledger.failed('drain', error);
        got += 1;
      }
    }
    quiet = got === 0 ? quiet + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

type Operation = (seq: number) => Promise<void>;

export class ChaosClient {
  readonly #name: string;
  readonly #cloud: Cloud;
  readonly #random: Random;
  readonly #ledger: ChaosLedger;
  readonly #inboxes: string[];
  /** Each operation with its share of the draws. */
  readonly #operations: [Operation, string, number][];

  constructor(name: string, cloud: Cloud, random: Random, ledger: ChaosLedger, inboxes: string[]) {
    this.#name = name;
    this.#cloud = cloud;
    this.#random = random;
    this.#ledger = ledger;
    this.#inboxes = inboxes;
    this.#operations = [
      [(seq) => this.#addToSet(seq), 'set', 0.25],
      [() => this.#count(), 'counter', 0.15],
      [(seq) => this.#writeOwn(seq), 'lww', 0.2],
      [() => this.#call(), 'call', 0.12],
      [() => this.#callDag(), 'dag', 0.1],
      [(seq) => this.#send(seq), 'send', 0.12],
      [() => this.#receive(), 'recv', 0.06],
    ];
  }

  /** Runs operations one after another until `stopped()` says so. */
  async run(stopped: () => boolean): Promise<void> {
    for (let seq = 1; !stopped(); seq++) {
      const [operation, label] = this.#draw();
      this.#ledger.operations += 1;
      try {
        await operation(seq);
      } catch (error) {
        this.#ledger.failed(label, error);
        const code = (error as { code?: unknown }).code;
        // Neither is ever right here: the functions do not throw, the input is valid.
        if ((code === 'INVALID' || code === 'FUNCTION_FAILED') && label !== 'send')
          this.#ledger.wrong.push(`${label}: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, PAUSE_AFTER_ERROR_MS));
      }
    }
  }

  #draw(): [Operation, string] {
    let roll = this.#random.next();
    for (const [operation, label, share] of this.#operations) {
      roll -= share;
      if (roll < 0) return [operation, label];
    }
    const [operation, label] = this.#operations[0]!;
    return [operation, label];
  }

  async #addToSet(seq: number): Promise<void> {
    const key = chaosSetKey(this.#random.int(CHAOS_SET_KEYS));
    const element = `${this.#name}-${seq}`;
    this.#ledger.attemptSet(key, element);
    await this.#cloud.put(key, lattice.set([element]));
    this.#ledger.ackSet(key, element);
  }

  async #count(): Promise<void> {
    const key = chaosCounterKey(this.#random.int(CHAOS_COUNTER_KEYS));
    this.#ledger.attemptCounter(key, 1);
    await this.#cloud.put(key, lattice.counter(1));
    this.#ledger.ackCounter(key, 1);
  }

  async #writeOwn(seq: number): Promise<void> {
    const key = chaosLwwKey(this.#name);
    this.#ledger.attemptLww(key, seq);
    await this.#cloud.put(key, seq);
    this.#ledger.ackLww(key, seq);
    this.#ledger.readLww(key, await this.#cloud.get(key));
  }

  async #call(): Promise<void> {
    const a = this.#random.int(1000);
    const b = this.#random.int(1000);
    const sum = await this.#cloud.call('chaosAdd', [a, b]);
    if (sum !== a + b) this.#ledger.wrong.push(`chaosAdd(${a}, ${b}) gave ${String(sum)}`);
  }

  async #callDag(): Promise<void> {
    const x = this.#random.int(1000);
    const result = await this.#cloud.callDag('chaosChain', { chaosDouble: [x] });
    if (result !== 2 * x + 1) this.#ledger.wrong.push(`chaosChain(${x}) gave ${String(result)}`);
  }

  async #send(seq: number): Promise<void> {
    const id = `${this.#name}-m${seq}`;
    const inbox = this.#random.int(this.#inboxes.length);
    this.#ledger.sent(id, false, inbox);
    await this.#cloud.call('chaosMail', [this.#inboxes[inbox], id]);
    this.#ledger.sent(id, true);
  }

  async #receive(): Promise<void> {
    const inbox = this.#random.int(CHAOS_INBOXES);
    const mail = (await this.#cloud.call(inboxName(inbox), ['read'])) as [unknown, string][];
    for (const [id, platformId] of mail) this.#ledger.received(id, inbox, platformId);
  }
}
