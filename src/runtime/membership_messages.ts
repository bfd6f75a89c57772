/**
 * The membership protocol's records and wire messages, the precedence between two claims
 * about one member, and the validator every message from the network goes through.
 *
 * Invariants: a parsed message is a fresh plain object holding only the known fields (no
 * prototype tricks, no extra keys survive), every string and array in it is bounded by the
 * limits below, and every number is a non-negative safe integer. `parseMembershipMessage`
 * throws ValidationError and nothing else, whatever it is given.
 *
 * Why this way: peers are not trusted to be well-formed (DESIGN.md principle 4), and the
 * precedence order is the one rule every node must apply identically for the cluster to
 * converge: it is a total order on (incarnation, state), so merging claims is a max.
 */
import { describeValue, ValidationError } from '../errors.js';
import { isRecord, type Record_ } from './validate.js';

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** One node as a member of the cluster; also the shape of every gossiped claim. */
export interface Member {
  id: string;
  address: string;
  state: MemberState;
  incarnation: number;
}

/** A node speaking for itself: the self-record every message carries. */
export interface SenderRecord extends Member {
  state: 'alive' | 'left';
}

interface Envelope {
  sender: SenderRecord;
}

interface Piggybacked extends Envelope {
  /** Claims about other members, at most UPDATES_PER_MESSAGE_MAX. */
  updates: Member[];
}

/** Asks a seed (known only by address) to let the sender in; answered by `welcome`. */
export interface JoinMessage extends Piggybacked {
  t: 'join';
}

/** The answer to `join`: the whole member table of the answering node. */
export interface WelcomeMessage extends Envelope {
  t: 'welcome';
  members: Member[];
}

/** A direct probe; answered by `ack` with the same `seq`. */
export interface PingMessage extends Piggybacked {
  t: 'ping';
  seq: number;
}

export interface AckMessage extends Piggybacked {
  t: 'ack';
  seq: number;
}

/** Asks the receiver to probe `target` on the sender's behalf (SWIM's indirect probe). */
export interface PingReqMessage extends Piggybacked {
  t: 'ping-req';
  seq: number;
  target: { id: string; address: string };
}

/** Tells the ping-req sender that `target` answered the relayed probe `seq`. */
export interface IndirectAckMessage extends Piggybacked {
  t: 'indirect-ack';
  seq: number;
  target: string;
}

export type MembershipMessage =
  | JoinMessage
  | WelcomeMessage
  | PingMessage
  | AckMessage
  | PingReqMessage
  | IndirectAckMessage;

/** Limits of the wire format, independent of any node's configuration. */
export const ID_LENGTH_MAX = 128;
export const ADDRESS_LENGTH_MAX = 256;
export const UPDATES_PER_MESSAGE_MAX = 256;
export const WELCOME_MEMBERS_MAX = 16_384;

const STATE_RANK: Readonly<Record<MemberState, number>> = {
  alive: 0,
  suspect: 1,
  dead: 2,
  left: 3,
};

/**
 * Whether claim `a` replaces claim `b` about the same member: a higher incarnation wins;
 * at equal incarnation alive < suspect < dead < left. `left` beats `dead` because both are
 * final for the incarnation and `left` says more (the node went away on purpose, its data
 * was handed over), and a total order is what lets every node end with the same answer.
 */
export function supersedes(a: Member, b: Member): boolean {
  if (a.incarnation !== b.incarnation) return a.incarnation > b.incarnation;
  return STATE_RANK[a.state] > STATE_RANK[b.state];
}

/** Whether a member of this state owns data on the ring. */
export function isLive(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect';
}

// ---------------------------------------------------------------------------------------
// Validation

function text(record: Record_, field: string, lengthMax: number, what: string): string {
  const value = record[field];
  if (typeof value !== 'string' || value.length === 0 || value.length > lengthMax) {
    throw new ValidationError(
      `${what}.${field} must be a string of 1 to ${lengthMax} characters, not ${describeValue(value, 40)}`,
    );
  }
  return value;
}

function count(record: Record_, field: string, what: string): number {
  const value = record[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(`${what}.${field} must be a non-negative safe integer`);
  }
  return value;
}

function object(value: unknown, what: string): Record_ {
  if (!isRecord(value)) throw new ValidationError(`${what} must be an object`);
  return value;
}

function list(record: Record_, field: string, lengthMax: number, what: string): unknown[] {
  const value = record[field];
  if (!Array.isArray(value)) throw new ValidationError(`${what}.${field} must be an array`);
  if (value.length > lengthMax) {
    throw new ValidationError(`${what}.${field} has more than ${lengthMax} elements`);
  }
  return value;
}

function state(record: Record_, what: string): MemberState {
  const value = record.state;
  if (typeof value !== 'string' || !Object.hasOwn(STATE_RANK, value)) {
    throw new ValidationError(`${what}.state must be alive, suspect, dead or left`);
  }
  return value as MemberState;
}

function parseMember(value: unknown, what: string): Member {
  const record = object(value, what);
  return {
    id: text(record, 'id', ID_LENGTH_MAX, what),
    address: text(record, 'address', ADDRESS_LENGTH_MAX, what),
    state: state(record, what),
    incarnation: count(record, 'incarnation', what),
  };
}

function parseSender(value: unknown): SenderRecord {
  const member = parseMember(value, 'sender');
  if (member.state !== 'alive' && member.state !== 'left') {
    throw new ValidationError('sender.state must be alive or left');
  }
  return { ...member, state: member.state };
}

function parseMembers(record: Record_, field: string, lengthMax: number): Member[] {
  return list(record, field, lengthMax, 'message').map((m, i) => parseMember(m, `${field}[${i}]`));
}

function parsePiggybacked(record: Record_): Piggybacked {
  return {
    sender: parseSender(record.sender),
    updates: parseMembers(record, 'updates', UPDATES_PER_MESSAGE_MAX),
  };
}

/** Validates an untrusted value as a membership message; throws ValidationError. */
export function parseMembershipMessage(x: unknown): MembershipMessage {
  const record = object(x, 'membership message');
  const t = record.t;
  switch (t) {
    case 'join':
      return { t, ...parsePiggybacked(record) };
    case 'welcome':
      return {
        t,
        sender: parseSender(record.sender),
        members: parseMembers(record, 'members', WELCOME_MEMBERS_MAX),
      };
    case 'ping':
    case 'ack':
      return { t, seq: count(record, 'seq', 'message'), ...parsePiggybacked(record) };
    case 'ping-req': {
      const target = object(record.target, 'target');
      return {
        t,
        seq: count(record, 'seq', 'message'),
        target: {
          id: text(target, 'id', ID_LENGTH_MAX, 'target'),
          address: text(target, 'address', ADDRESS_LENGTH_MAX, 'target'),
        },
        ...parsePiggybacked(record),
      };
    }
    case 'indirect-ack':
      return {
        t,
        seq: count(record, 'seq', 'message'),
        target: text(record, 'target', ID_LENGTH_MAX, 'message'),
        ...parsePiggybacked(record),
      };
    default:
      throw new ValidationError(`unknown membership message type ${describeValue(t, 40)}`);
  }
}
