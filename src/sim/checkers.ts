/**
 * What a simulation must end with, checked once the faults have healed: the ledger of every
 * client write (issued, merged into which shards, acknowledged or failed), and the three
 * checks the issue names.
 *
 * 1. Nothing acknowledged is lost: every acknowledged set token is in the merge of the
 *    key's owners' values, and so is every token that was applied at all (a merged write is
 *    durable whether or not its reply got back); a counter's value is exactly the number of
 *    increments applied (so at least the number acknowledged: an increment is applied once,
 *    at one node, and never re-sent).
 * 2. Replicas converge: every owner of a key holds it, and all owners hold equal lattices
 *    (`latticeEquals`).
 * 3. Ring ownership is consistent: every running node's membership reports the same ring
 *    members, which are exactly the running nodes, its replication view uses that ring, no
 *    hand-off is pending, and no node that does not own a key holds it.
 *
 * Owners are computed on a reference view built from the running nodes exactly as a node
 * builds its own (HashRing of the ids, `replication` copies capped at the ring size,
 * `placementOf`), so the check does not trust any one node's opinion.
 * Invariants: checks only read node state; messages come out in a deterministic order and
 * are capped at MESSAGES_MAX, so a failure report stays readable; a message about one key
 * starts with `<key>: ` (reports look its history up by that).
 */
import { type HashRing, ownersIn, placementOf, type RingView } from '../runtime/index.js';
import { counterValue, type Lattice, latticeEquals, merge, setHas } from '../storage/index.js';
import type { SimNode, WriteListener } from './sim_node.js';

export type WriteKind = 'set' | 'counter';

export interface WriteRecord {
  readonly id: number;
  readonly key: string;
  readonly kind: WriteKind;
  /** The unique element a set write adds. */
  readonly token: string | undefined;
  readonly contact: string;
  readonly atMs: number;
  /** The nodes whose shard merged it (more than one would be a double application). */
  readonly appliedAt: string[];
  outcome: 'pending' | 'acknowledged' | 'failed';
  reason: string | undefined;
}

export interface LedgerSummary {
  issued: number;
  acknowledged: number;
  failed: number;
  pending: number;
  applied: number;
}

export class Ledger implements WriteListener {
  readonly #writes = new Map<number, WriteRecord>();
  #nextId = 1;

  /** Records a new client write; set writes get a unique token. */
  issue(key: string, kind: WriteKind, contact: string, atMs: number): WriteRecord {
    const id = this.#nextId++;
    const token = kind === 'set' ? `t${id}` : undefined;
    const record: WriteRecord = {
      id,
      key,
      kind,
      token,
      contact,
      atMs,
      appliedAt: [],
      outcome: 'pending',
      reason: undefined,
    };
    this.#writes.set(id, record);
    return record;
  }

  applied(opId: number, nodeId: string): void {
    this.#get(opId).appliedAt.push(nodeId);
  }

  acknowledged(opId: number): void {
    const record = this.#get(opId);
    if (record.outcome !== 'pending') throw new Error(`write#${opId} answered twice`);
    record.outcome = 'acknowledged';
  }

  failed(opId: number, reason: string): void {
    const record = this.#get(opId);
    if (record.outcome !== 'pending') throw new Error(`write#${opId} answered twice`);
    record.outcome = 'failed';
    record.reason = reason;
  }

  records(): IterableIterator<WriteRecord> {
    return this.#writes.values();
  }

  summary(): LedgerSummary {
    const s: LedgerSummary = { issued: 0, acknowledged: 0, failed: 0, pending: 0, applied: 0 };
    for (const record of this.#writes.values()) {
      s.issued++;
      s[record.outcome]++;
      if (record.appliedAt.length > 0) s.applied++;
    }
    return s;
  }

  #get(opId: number): WriteRecord {
    const record = this.#writes.get(opId);
    if (record === undefined) throw new Error(`unknown write#${opId}`);
    return record;
  }
}

export const MESSAGES_MAX = 30;

/** Collects failure messages, keeping the first MESSAGES_MAX and counting the rest. */
class Findings {
  readonly list: string[] = [];
  #more = 0;

  add(message: string): void {
    if (this.list.length < MESSAGES_MAX) this.list.push(message);
    else this.#more++;
  }

  done(): string[] {
    return this.#more === 0 ? this.list : [...this.list, `... and ${this.#more} more`];
  }
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/** Check 3, membership side: one ring everywhere, made of the running nodes, no hand-off left. */
export function checkRing(nodes: readonly SimNode[]): string[] {
  const findings = new Findings();
  for (const node of nodes) {
    if (node.state === 'down' || node.state === 'leaving')
      findings.add(`${node.id} is ${node.state}`);
  }
  const live = nodes.filter((node) => node.state === 'up');
  const expected = live.map((node) => node.id).sort();
  for (const node of live) {
    const members = node.ringMembers();
    if (!sameIds(members, expected)) {
      findings.add(`${node.id} has ring members [${members}], expected [${expected}]`);
    }
    const view = node.viewNodes();
    if (!sameIds(view, expected))
      findings.add(`${node.id} replicates over [${view}], expected [${expected}]`);
    const pending = node.pendingHandoff();
    if (pending > 0) findings.add(`${node.id} has ${pending} keys still to hand off`);
  }
  return findings.done();
}

/** The view every running node should end up with. */
export function referenceView(
  ids: readonly string[],
  replication: number,
  ring: HashRing,
): RingView {
  const view: RingView = {
    ring,
    replication: Math.max(1, Math.min(replication, ids.length)),
    addressOf: () => undefined,
    placement: (key) => placementOf(key, view),
  };
  return view;
}

/** Checks 1, 2 and the data side of 3, for every key written or held anywhere. */
export function checkData(nodes: readonly SimNode[], ledger: Ledger, view: RingView): string[] {
  const findings = new Findings();
  const live = nodes.filter((node) => node.state === 'up');
  const byKey = new Map<string, WriteRecord[]>();
  for (const record of ledger.records()) {
    const list = byKey.get(record.key) ?? [];
    list.push(record);
    byKey.set(record.key, list);
  }
  const keys = new Set<string>();
  for (const [key, records] of byKey)
    if (records.some((r) => r.appliedAt.length > 0)) keys.add(key);
  for (const node of live) for (const [key] of node.entries()) keys.add(key);
  for (const key of [...keys].sort()) {
    const merged = checkPlacement(key, live, ownersIn(view, key), findings);
    checkWrites(key, merged, byKey.get(key) ?? [], findings);
  }
  return findings.done();
}

/** Every owner holds the key, they agree, and nobody else holds it; returns their merge. */
function checkPlacement(
  key: string,
  live: readonly SimNode[],
  owners: readonly string[],
  findings: Findings,
): Lattice | undefined {
  let merged: Lattice | undefined;
  let first: { id: string; value: Lattice } | undefined;
  for (const node of live) {
    const value = node.shard.get(key);
    const owner = owners.includes(node.id);
    if (!owner) {
      if (value !== undefined) findings.add(`${key}: held by ${node.id}, which does not own it`);
      continue;
    }
    if (value === undefined) {
      findings.add(`${key}: owner ${node.id} does not hold it (owners [${owners}])`);
      continue;
    }
    if (first === undefined) first = { id: node.id, value };
    else if (!latticeEquals(first.value, value)) {
      findings.add(`${key}: owners ${first.id} and ${node.id} hold different values`);
    }
    merged = merged === undefined ? value : merge(merged, value);
  }
  return merged;
}

/** Check 1 for one key, against the merge of its owners' values. */
function checkWrites(
  key: string,
  merged: Lattice | undefined,
  records: readonly WriteRecord[],
  findings: Findings,
): void {
  let applied = 0;
  let acknowledged = 0;
  for (const record of records) {
    if (record.appliedAt.length > 1) {
      findings.add(`${key}: write#${record.id} applied ${record.appliedAt.length} times`);
    }
    applied += record.appliedAt.length;
    if (record.outcome === 'acknowledged') acknowledged++;
    if (record.kind !== 'set' || record.token === undefined) continue;
    const held = merged?.kind === 'set' && setHas(merged, record.token);
    const lost = !held && (record.outcome === 'acknowledged' || record.appliedAt.length > 0);
    if (lost) {
      findings.add(
        `${key}: lost ${record.outcome} write#${record.id} (${record.token}, ` +
          `applied at [${record.appliedAt}], issued at ${record.atMs}ms via ${record.contact})`,
      );
    }
  }
  const kind = records[0]?.kind;
  if (kind !== 'counter') return;
  const value = merged?.kind === 'counter' ? counterValue(merged) : 0;
  if (value !== applied || value < acknowledged) {
    findings.add(
      `${key}: counter is ${value}, but ${applied} increments were applied ` +
        `(${acknowledged} acknowledged)`,
    );
  }
}
