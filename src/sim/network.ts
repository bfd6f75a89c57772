/**
 * The simulated network between node addresses, with a fault model: every message takes a
 * base delay plus a random jitter (so messages overtake each other: reordering), may be
 * lost, may be delivered twice, is dropped between the sides of a partition, and never
 * reaches a node that is down. A message is CBOR-encoded with the codec the real transport
 * uses when it is sent and decoded again on delivery, so sender and receiver share no
 * objects and the receiver sees exactly what a socket would hand it (it then validates it
 * with the core's own parser, as the runtime does).
 *
 * The core channels get every fault: the cores promise to tolerate loss, duplicates and
 * reordering. A forwarded write (`rpc`) is a request on a TCP connection, which can die
 * (loss) but never delivers a frame twice, so it is never duplicated: duplicating it would
 * apply an increment twice, a fault the real transport cannot produce.
 *
 * The connection model is TCP's: a message addressed to a node that restarted while it was
 * in flight is dropped (the connection it travelled on died with the old process), and
 * `reachable` answers what a connection attempt would (the node is up and no partition is
 * in the way), which is how a forwarded write "never left" and moves on to the next owner.
 *
 * Invariants: a partition is checked both when a message is sent and when it arrives;
 * every random draw comes from the network's own `Random`, in send order, so the same seed
 * loses, duplicates and delays the same messages; `stats` counts every outcome.
 */
import { decode, encode } from '../storage/index.js';
import type { SimClock, Trace } from './clock.js';
import type { Random } from './random.js';

/** Which core (or the forwarded-write protocol) a message belongs to. */
export type Channel = 'membership' | 'replica' | 'rpc';

export interface FaultModel {
  /** Every message takes at least this long. */
  delayMs: number;
  /** Plus a uniform extra delay in [0, jitterMs): messages reorder. */
  jitterMs: number;
  /** Probability that a message is lost. */
  lossRate: number;
  /** Probability that a delivered message is delivered a second time (with its own delay). */
  duplicateRate: number;
}

export const CLEAN_NETWORK: Readonly<FaultModel> = {
  delayMs: 1,
  jitterMs: 0,
  lossRate: 0,
  duplicateRate: 0,
};

export type Receiver = (from: string, channel: Channel, payload: unknown) => void;

export type DropReason = 'loss' | 'partition' | 'down' | 'restarted';

export interface NetworkStats {
  sent: number;
  delivered: number;
  duplicated: number;
  dropped: Record<DropReason, number>;
}

interface Envelope {
  from: string;
  to: string;
  channel: Channel;
  bytes: Uint8Array;
  /** The receiver's boot number when the message was sent. */
  toBoot: number;
  /** The message type, for the trace. */
  label: string;
}

function checkFaults(faults: FaultModel): FaultModel {
  const { delayMs, jitterMs, lossRate, duplicateRate } = faults;
  if (!(delayMs >= 0 && jitterMs >= 0 && Number.isFinite(delayMs + jitterMs))) {
    throw new RangeError('delayMs and jitterMs must be finite numbers >= 0');
  }
  if (!(lossRate >= 0 && lossRate <= 1 && duplicateRate >= 0 && duplicateRate <= 1)) {
    throw new RangeError('lossRate and duplicateRate must be probabilities');
  }
  return { ...faults };
}

function labelOf(channel: Channel, message: unknown): string {
  const t =
    typeof message === 'object' && message !== null ? (message as { t?: unknown }).t : undefined;
  return `${channel}:${typeof t === 'string' ? t : '?'}`;
}

export class Network {
  readonly #clock: SimClock;
  readonly #random: Random;
  readonly #trace: Trace | undefined;
  readonly #receivers = new Map<string, Receiver>();
  /** Boot number per address: raised on every attach, kept across detach. */
  readonly #boots = new Map<string, number>();
  /** Address → partition side; addresses on different sides cannot talk. */
  readonly #sides = new Map<string, number>();
  #faults: FaultModel;
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    duplicated: 0,
    dropped: { loss: 0, partition: 0, down: 0, restarted: 0 },
  };

  constructor(clock: SimClock, random: Random, faults: FaultModel = CLEAN_NETWORK, trace?: Trace) {
    this.#clock = clock;
    this.#random = random;
    this.#faults = checkFaults(faults);
    this.#trace = trace;
  }

  get faults(): Readonly<FaultModel> {
    return this.#faults;
  }

  setFaults(faults: FaultModel): void {
    this.#faults = checkFaults(faults);
  }

  /** A node (re)starts listening at `address`: a new boot, older connections are dead. */
  attach(address: string, receive: Receiver): void {
    this.#boots.set(address, (this.#boots.get(address) ?? 0) + 1);
    this.#receivers.set(address, receive);
  }

  /** The node at `address` is down (crashed or gone): it receives nothing more. */
  detach(address: string): void {
    this.#receivers.delete(address);
  }

  isUp(address: string): boolean {
    return this.#receivers.has(address);
  }

  /** Splits the network: each listed group is one side; unlisted addresses talk to all. */
  partition(sides: readonly (readonly string[])[]): void {
    this.#sides.clear();
    sides.forEach((side, i) => {
      for (const address of side) this.#sides.set(address, i);
    });
  }

  /** Ends every partition. */
  heal(): void {
    this.#sides.clear();
  }

  separated(a: string, b: string): boolean {
    const sideA = this.#sides.get(a);
    const sideB = this.#sides.get(b);
    return sideA !== undefined && sideB !== undefined && sideA !== sideB;
  }

  /** Whether a connection from `from` to `to` could be made right now. */
  reachable(from: string, to: string): boolean {
    return this.isUp(to) && !this.separated(from, to);
  }

  /** Sends one message; what happens to it is drawn from the fault model now. */
  send(from: string, to: string, channel: Channel, message: unknown): void {
    this.stats.sent++;
    const label = labelOf(channel, message);
    const toBoot = this.#boots.get(to) ?? 0;
    const envelope: Envelope = { from, to, channel, bytes: encode(message), toBoot, label };
    const faults = this.#faults;
    const lost = this.#random.chance(faults.lossRate);
    if (!this.isUp(to) || this.separated(from, to) || lost) {
      this.#drop(envelope, lost ? 'loss' : this.isUp(to) ? 'partition' : 'down');
      return;
    }
    this.#schedule(envelope);
    const duplicated = this.#random.chance(faults.duplicateRate);
    if (duplicated && channel !== 'rpc') {
      this.stats.duplicated++;
      this.#schedule(envelope);
    }
  }

  #schedule(envelope: Envelope): void {
    const { delayMs, jitterMs } = this.#faults;
    const delay = delayMs + (jitterMs > 0 ? this.#random.next() * jitterMs : 0);
    this.#clock.after(Math.round(delay), () => this.#deliver(envelope));
  }

  #deliver(envelope: Envelope): void {
    const { from, to, channel } = envelope;
    const receive = this.#receivers.get(to);
    if (receive === undefined) {
      this.#drop(envelope, 'down');
      return;
    }
    if (this.#boots.get(to) !== envelope.toBoot) {
      this.#drop(envelope, 'restarted');
      return;
    }
    if (this.separated(from, to)) {
      this.#drop(envelope, 'partition');
      return;
    }
    this.stats.delivered++;
    this.#trace?.add(this.#clock.now, `${from} -> ${to} ${envelope.label}`);
    receive(from, channel, decode(envelope.bytes));
  }

  #drop(envelope: Envelope, reason: DropReason): void {
    this.stats.dropped[reason]++;
    const { from, to, label } = envelope;
    this.#trace?.add(this.#clock.now, `${from} -> ${to} ${label} dropped (${reason})`);
  }
}
