/**
 * The consistent-hashing ring (DESIGN.md, "Supervisors gossip membership to form the
 * ring"): which nodes own a key. Every node puts `vnodes` tokens on a 32-bit circle, token
 * `i` of node `id` at `ringHash(`${id}#${i}`)`; a key's owners are the distinct nodes met
 * walking clockwise from the key's hash, the first being the primary. Only the id after
 * the last `#` is a number, so distinct (node, i) pairs hash distinct strings.
 *
 * Invariants:
 * - A ring is an immutable value of its member set and `vnodes`: the same set gives the
 *   same ring (bit for bit) whatever order it was built or joined in. Tokens are sorted by
 *   (token, node id), so two nodes that draw the same token are ordered by id everywhere.
 * - `owners(key, n)` is exactly min(n, size) distinct members in walk order. Removing a
 *   node only deletes its tokens, so the walk of every other node is unchanged: a key's
 *   owners change on a join or a leave only if the changed node is among them (minimal
 *   movement), and the expected share of keys that move is min(n, N)/N of the larger ring.
 *
 * Why built this way: a lookup is one murmur3 hash, a binary search over a sorted
 * Uint32Array of tokens, and a short walk over a parallel Uint16Array of node indices,
 * with a stamp array instead of a Set to skip nodes already taken, so `owners` allocates
 * only its result. `with`/`without` merge or filter the sorted arrays in linear time
 * instead of re-sorting, so membership churn stays cheap. The ring is a protocol core
 * (principle 1): no clock, randomness, timers or I/O.
 */
import { ringHash } from './ring_hash.js';

/**
 * Virtual nodes per node. A node's share of keys deviates from 1/N by ~1/sqrt(vnodes)
 * (measured: 6% at 256, 4.4% at 512, 3% at 1024; the worst node of 200 random 10-node
 * rings was 23% off at 256, 14% at 512). A lookup costs the same (~140 ns) at any of them;
 * building a 20-node ring from scratch costs 0.9 / 2 / 3 ms, and `with`/`without` about a
 * tenth of that. 512 keeps every node within ~±15% of 1/N and a single join or leave under
 * ~1.1·min(n, N)/N + 0.02 of a 5,000-key sample (worst of 180,000 random changes).
 */
export const VNODES_DEFAULT = 512;
/** The most virtual nodes per node a ring accepts. */
export const RING_VNODES_MAX = 4096;
/** The most nodes a ring holds: node indices are stored in a Uint16Array. */
export const RING_NODES_MAX = 65_535;
/** The most tokens (nodes × vnodes) a ring holds: 8 bytes each, so at most 32 MiB. */
export const RING_TOKENS_MAX = 2 ** 22;
/** The most buckets `bucketOf` accepts: hash × buckets stays an exact float below 2^53. */
export const RING_BUCKETS_MAX = 2 ** 21;

const CIRCLE = 2 ** 32;
/** Packs (token, node index) into one float that sorts by token, then by index. */
const INDEX_SPAN = 65_536;

/** The number of the first token >= hash, or tokens.length when there is none. */
function lowerBound(tokens: Uint32Array, hash: number): number {
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (tokens[mid]! < hash) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Where `id` is in the sorted `nodes`, or -(insertion point) - 1 when it is absent. */
function searchNodes(nodes: readonly string[], id: string): number {
  let lo = 0;
  let hi = nodes.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = nodes[mid]!;
    if (at < id) lo = mid + 1;
    else if (at > id) hi = mid - 1;
    else return mid;
  }
  return -lo - 1;
}

/** The node's tokens, sorted ascending. */
function nodeTokens(id: string, vnodes: number): Uint32Array {
  const tokens = new Uint32Array(vnodes);
  for (let i = 0; i < vnodes; i++) tokens[i] = ringHash(`${id}#${i}`);
  return tokens.sort();
}

function checkVnodes(vnodes: number): void {
  if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > RING_VNODES_MAX) {
    throw new RangeError(`vnodes must be an integer in [1, ${RING_VNODES_MAX}], got ${vnodes}`);
  }
}

function checkSize(nodeCount: number, vnodes: number): void {
  if (nodeCount > RING_NODES_MAX || nodeCount * vnodes > RING_TOKENS_MAX) {
    throw new RangeError(
      `a ring holds at most ${RING_NODES_MAX} nodes and ${RING_TOKENS_MAX} tokens ` +
        `(nodes × vnodes), asked for ${nodeCount} × ${vnodes}`,
    );
  }
}

function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string') throw new TypeError(`a node id must be a string, got ${typeof id}`);
}

function checkCount(n: number): void {
  if (Number.isNaN(n)) throw new RangeError('the number of owners must be a number, got NaN');
}

/** The sorted tokens of every node, with the index (in `nodes`) of each token's node. */
function buildTokens(
  nodes: readonly string[],
  vnodes: number,
): { tokens: Uint32Array; owners: Uint16Array } {
  const packed = new Float64Array(nodes.length * vnodes);
  let at = 0;
  for (let index = 0; index < nodes.length; index++) {
    for (const token of nodeTokens(nodes[index]!, vnodes))
      packed[at++] = token * INDEX_SPAN + index;
  }
  packed.sort();
  const tokens = new Uint32Array(packed.length);
  const owners = new Uint16Array(packed.length);
  for (let i = 0; i < packed.length; i++) {
    const value = packed[i]!;
    tokens[i] = Math.floor(value / INDEX_SPAN);
    owners[i] = value % INDEX_SPAN;
  }
  return { tokens, owners };
}

/**
 * Merges the sorted `added` tokens of a node joining at index `joined` into a ring's sorted
 * tokens, shifting the indices of the nodes after it by one; ties order by node index.
 */
function mergeTokens(
  tokens: Uint32Array,
  owners: Uint16Array,
  added: Uint32Array,
  joined: number,
): { tokens: Uint32Array; owners: Uint16Array } {
  const length = tokens.length + added.length;
  const outTokens = new Uint32Array(length);
  const outOwners = new Uint16Array(length);
  let i = 0;
  let j = 0;
  for (let out = 0; out < length; out++) {
    const old = i < tokens.length ? tokens[i]! : CIRCLE;
    const owner = i < owners.length ? owners[i]! : 0;
    const shifted = owner >= joined ? owner + 1 : owner;
    const fresh = j < added.length ? added[j]! : CIRCLE;
    if (old < fresh || (old === fresh && shifted < joined)) {
      outTokens[out] = old;
      outOwners[out] = shifted;
      i++;
    } else {
      outTokens[out] = fresh;
      outOwners[out] = joined;
      j++;
    }
  }
  return { tokens: outTokens, owners: outOwners };
}

/** A ring's tokens without those of the node at index `left`, later indices shifted down. */
function dropTokens(
  tokens: Uint32Array,
  owners: Uint16Array,
  left: number,
): { tokens: Uint32Array; owners: Uint16Array } {
  let kept = 0;
  for (let i = 0; i < owners.length; i++) if (owners[i] !== left) kept++;
  const outTokens = new Uint32Array(kept);
  const outOwners = new Uint16Array(kept);
  let out = 0;
  for (let i = 0; i < owners.length; i++) {
    const owner = owners[i]!;
    if (owner === left) continue;
    outTokens[out] = tokens[i]!;
    outOwners[out] = owner > left ? owner - 1 : owner;
    out++;
  }
  return { tokens: outTokens, owners: outOwners };
}

export class HashRing {
  /** The member node ids, sorted by UTF-16 code units; frozen. */
  readonly nodes: readonly string[];
  readonly size: number;
  readonly #vnodes: number;
  /** Every token, ascending; ties between nodes in node order. */
  readonly #tokens: Uint32Array;
  /** The index in `nodes` of each token's node. */
  readonly #owners: Uint16Array;
  /**
   * Lookup scratch, the only mutable state: `#seen[i] === #stamp` marks node i as taken in
   * the current walk, and `#picked` holds the walk's result. JS runs one walk at a time and
   * a walk calls out to nothing, so sharing them cannot be observed.
   */
  readonly #seen: Uint32Array;
  readonly #picked: Uint16Array;
  #stamp = 0;

  private constructor(
    nodes: string[],
    vnodes: number,
    built: { tokens: Uint32Array; owners: Uint16Array },
  ) {
    this.nodes = Object.freeze(nodes);
    this.size = nodes.length;
    this.#vnodes = vnodes;
    this.#tokens = built.tokens;
    this.#owners = built.owners;
    this.#seen = new Uint32Array(nodes.length);
    this.#picked = new Uint16Array(nodes.length);
  }

  /** The ring of these nodes (duplicates ignored); the same set gives the same ring. */
  static of(nodeIds: Iterable<string>, vnodes: number = VNODES_DEFAULT): HashRing {
    checkVnodes(vnodes);
    const unique = new Set<string>();
    for (const id of nodeIds) {
      checkId(id);
      unique.add(id);
    }
    checkSize(unique.size, vnodes);
    const nodes = [...unique].sort();
    return new HashRing(nodes, vnodes, buildTokens(nodes, vnodes));
  }

  /**
   * A stable bucket in [0, buckets) for a key, the same in every process. Buckets are
   * contiguous arcs of the ring (bucket = ringHash(key) · buckets / 2^32), so the keys that
   * change owners on a join or a leave gather in few buckets.
   */
  static bucketOf(key: string, buckets: number): number {
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > RING_BUCKETS_MAX) {
      throw new RangeError(
        `buckets must be an integer in [1, ${RING_BUCKETS_MAX}], got ${buckets}`,
      );
    }
    return Math.floor((ringHash(key) * buckets) / CIRCLE);
  }

  /** This ring with `nodeId` added; this ring itself when it is already a member. */
  with(nodeId: string): HashRing {
    checkId(nodeId);
    const found = searchNodes(this.nodes, nodeId);
    if (found >= 0) return this;
    checkSize(this.size + 1, this.#vnodes);
    const joined = -found - 1;
    const nodes = [...this.nodes];
    nodes.splice(joined, 0, nodeId);
    const added = nodeTokens(nodeId, this.#vnodes);
    return new HashRing(
      nodes,
      this.#vnodes,
      mergeTokens(this.#tokens, this.#owners, added, joined),
    );
  }

  /** This ring with `nodeId` removed; this ring itself when it is not a member. */
  without(nodeId: string): HashRing {
    checkId(nodeId);
    const left = searchNodes(this.nodes, nodeId);
    if (left < 0) return this;
    const nodes = [...this.nodes];
    nodes.splice(left, 1);
    return new HashRing(nodes, this.#vnodes, dropTokens(this.#tokens, this.#owners, left));
  }

  /** The distinct nodes owning `key`, in preference order (the first is the primary), exactly min(n, size) of them. */
  owners(key: string, n: number): string[] {
    const count = this.#pick(key, n);
    const result = new Array<string>(count);
    for (let i = 0; i < count; i++) result[i] = this.nodes[this.#picked[i]!]!;
    return result;
  }

  /** Whether `nodeId` is one of the first `n` owners of `key`. */
  isOwner(key: string, nodeId: string, n: number): boolean {
    const index = searchNodes(this.nodes, nodeId);
    if (index < 0) return false;
    const count = this.#pick(key, n);
    for (let i = 0; i < count; i++) if (this.#picked[i] === index) return true;
    return false;
  }

  /** Whether the other ring has the same members, vnodes and therefore the same tokens. */
  equals(other: HashRing): boolean {
    if (other === this) return true;
    if (other.#vnodes !== this.#vnodes || other.size !== this.size) return false;
    for (let i = 0; i < this.size; i++) if (other.nodes[i] !== this.nodes[i]) return false;
    const tokens = other.#tokens;
    const owners = other.#owners;
    for (let i = 0; i < tokens.length; i++) {
      if (tokens[i] !== this.#tokens[i] || owners[i] !== this.#owners[i]) return false;
    }
    return true;
  }

  /** A summary for the status page. */
  describe(): { nodes: string[]; vnodes: number; tokens: number } {
    return { nodes: [...this.nodes], vnodes: this.#vnodes, tokens: this.#tokens.length };
  }

  /** Walks clockwise from the key's hash, putting min(n, size) distinct node indices in #picked. */
  #pick(key: string, n: number): number {
    checkCount(n);
    const count = n < this.size ? Math.max(0, Math.floor(n)) : this.size;
    if (count === 0) return 0;
    const tokens = this.#tokens;
    const owners = this.#owners;
    const seen = this.#seen;
    const stamp = this.#nextStamp();
    let at = lowerBound(tokens, ringHash(key));
    let picked = 0;
    while (picked < count) {
      if (at === tokens.length) at = 0;
      const owner = owners[at++]!;
      if (seen[owner] !== stamp) {
        seen[owner] = stamp;
        this.#picked[picked++] = owner;
      }
    }
    return count;
  }

  #nextStamp(): number {
    this.#stamp = (this.#stamp + 1) >>> 0;
    if (this.#stamp === 0) {
      this.#seen.fill(0);
      this.#stamp = 1;
    }
    return this.#stamp;
  }
}
