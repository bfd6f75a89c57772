/**
 * The shape of a registered DAG (SPEC.md `registerDag`; REFERENCE.md, Cloudburst DAGs):
 * named functions joined by `[from, to]` edges, any number of sources, exactly one sink.
 * `buildDag` validates an untrusted request and derives what the scheduler needs to run
 * it — each function's upstream functions (a function runs once all of them delivered,
 * fan-in), its downstream functions (its result goes to each, fan-out), the sink that
 * answers, and a topological order. `parseDagGraph` reads a stored or received graph back.
 *
 * Invariants of every DagGraph this module returns: names are valid and distinct; every
 * edge joins two listed functions, is not a self-loop and appears once; the graph is
 * acyclic with exactly one sink, so every function reaches the sink; `predecessors` and
 * `successors` have an own entry for every function (and no other), listed in the order
 * of `edges`; `order` is the topological order that breaks ties by `functions` order.
 *
 * Why this way: the derived fields are a pure function of (name, functions, edges), so
 * parsing validates those three and recomputes the rest instead of trusting stored copies:
 * a scheduler handed a wrong `predecessors` would wait forever for an input that never
 * comes, a graph stored by an older version still reads back, and a codec that mangles
 * object keys (cbor-x decodes a `__proto__` key as `__proto_`) cannot corrupt a graph,
 * since names only travel inside arrays. The per-function records are built with
 * `Object.fromEntries`, which defines own properties, so a function named `__proto__` or
 * `constructor` is an ordinary entry. Pure: no I/O, no clock, no randomness.
 */
import { describeValue, ValidationError } from '../errors.js';
import { requireName, requireRecord } from './validate.js';

export interface DagSpec {
  name: string;
  functions: string[];
  edges: [string, string][];
}

export interface DagGraph extends DagSpec {
  /** The one function with no outgoing edge: its result answers the call. */
  sink: string;
  /** Functions with no incoming edge, in `functions` order. */
  sources: string[];
  /** Per function, its upstream functions in the order their edges appear in `edges`. */
  predecessors: Record<string, string[]>;
  /** Per function, its downstream functions in the order their edges appear in `edges`. */
  successors: Record<string, string[]>;
  /** A topological order; among functions ready at the same time, `functions` order first. */
  order: string[];
  /** One path (each function has at most one predecessor and one successor), in `order`. */
  linear: boolean;
}

/** An untrusted DAG request: each field is checked before use. */
export interface DagInput {
  readonly name?: unknown;
  readonly functions?: unknown;
  readonly edges?: unknown;
}

export interface DagLimits {
  /** Most functions one DAG may list. */
  functionsMax?: number;
  /** Most edges one DAG may list. */
  edgesMax?: number;
}

export const DAG_FUNCTIONS_MAX = 256;
export const DAG_EDGES_MAX = 4096;

/**
 * Validates a DAG request and builds its graph. Throws ValidationError naming the problem;
 * `isRegistered` is asked about every function, and all unregistered ones are named.
 */
export function buildDag(
  spec: DagInput,
  isRegistered: (name: string) => boolean,
  limits: DagLimits = {},
): DagGraph {
  const graph = buildStructure(spec, limits);
  const unknown = graph.functions.filter((fn) => !isRegistered(fn));
  if (unknown.length > 0) {
    throw new ValidationError(
      `DAG ${quote(graph.name)} uses functions that are not registered: ${unknown.join(', ')}`,
    );
  }
  return graph;
}

/**
 * Parses an untrusted stored or wire value (a DagGraph, or just its DagSpec) back into a
 * DagGraph: name, functions and edges are validated as `buildDag` does — without asking
 * which functions are registered, since a stored DAG may outlive one of its functions —
 * and the derived fields are recomputed from them; stored copies of those are ignored.
 */
export function parseDagGraph(x: unknown, limits: DagLimits = {}): DagGraph {
  return buildStructure(requireRecord(x, 'stored DAG'), limits);
}

function buildStructure(spec: DagInput, limits: DagLimits): DagGraph {
  const functionsMax = limits.functionsMax ?? DAG_FUNCTIONS_MAX;
  const edgesMax = limits.edgesMax ?? DAG_EDGES_MAX;
  if (!Number.isInteger(functionsMax) || functionsMax < 1) {
    throw new RangeError(`functionsMax must be a positive integer, got ${functionsMax}`);
  }
  if (!Number.isInteger(edgesMax) || edgesMax < 0) {
    throw new RangeError(`edgesMax must be a non-negative integer, got ${edgesMax}`);
  }
  const name = requireName(spec.name, 'DAG name');
  const functions = readFunctions(name, spec.functions, functionsMax);
  const edges = readEdges(name, spec.edges, functions, edgesMax);
  return linkGraph(name, functions, edges);
}

function quote(name: string): string {
  return JSON.stringify(name);
}

function readFunctions(dag: string, value: unknown, functionsMax: number): string[] {
  if (!Array.isArray(value)) {
    throw new ValidationError(`DAG ${quote(dag)}: functions must be an array of function names`);
  }
  if (value.length === 0) throw new ValidationError(`DAG ${quote(dag)} has no functions`);
  if (value.length > functionsMax) {
    throw new ValidationError(
      `DAG ${quote(dag)} has ${value.length} functions, more than the limit of ${functionsMax}`,
    );
  }
  const what = `DAG ${quote(dag)}: function`;
  const seen = new Set<string>();
  for (const fn of value) {
    const checked = requireName(fn, what);
    if (seen.has(checked)) {
      throw new ValidationError(`DAG ${quote(dag)} lists function ${quote(checked)} twice`);
    }
    seen.add(checked);
  }
  return [...seen];
}

/** Validated edges: as named pairs, and as positions in `functions` (`from[i]` → `to[i]`). */
interface Edges {
  named: [string, string][];
  from: number[];
  to: number[];
}

function readEdges(dag: string, value: unknown, functions: string[], edgesMax: number): Edges {
  if (!Array.isArray(value)) {
    throw new ValidationError(`DAG ${quote(dag)}: edges must be an array of [from, to] pairs`);
  }
  if (value.length > edgesMax) {
    throw new ValidationError(
      `DAG ${quote(dag)} has ${value.length} edges, more than the limit of ${edgesMax}`,
    );
  }
  const position = new Map(functions.map((fn, index) => [fn, index]));
  const edges: Edges = { named: [], from: [], to: [] };
  const seen = new Set<number>();
  for (let index = 0; index < value.length; index += 1) {
    const [from, to] = readEdge(dag, value[index], index, position);
    const key = from * functions.length + to;
    const pair: [string, string] = [functions[from]!, functions[to]!];
    if (seen.has(key)) {
      throw new ValidationError(`DAG ${quote(dag)} lists edge ${pair[0]} → ${pair[1]} twice`);
    }
    seen.add(key);
    edges.named.push(pair);
    edges.from.push(from);
    edges.to.push(to);
  }
  return edges;
}

/** One edge, checked, as the positions of its two ends. */
function readEdge(
  dag: string,
  edge: unknown,
  index: number,
  position: ReadonlyMap<string, number>,
): [number, number] {
  if (
    !Array.isArray(edge) ||
    edge.length !== 2 ||
    typeof edge[0] !== 'string' ||
    typeof edge[1] !== 'string'
  ) {
    throw new ValidationError(
      `DAG ${quote(dag)}: edge #${index} must be a [from, to] pair of function names, got ${describeValue(edge)}`,
    );
  }
  const ends: [string, string] = [edge[0], edge[1]];
  const [from, to] = ends.map((end) => {
    const at = position.get(end);
    if (at !== undefined) return at;
    throw new ValidationError(
      `DAG ${quote(dag)}: edge #${index} ${JSON.stringify(ends)} names ${JSON.stringify(end)}, which is not one of its functions`,
    );
  }) as [number, number];
  if (from === to) {
    throw new ValidationError(
      `DAG ${quote(dag)}: edge ${ends[0]} → ${ends[1]} is a self-loop (a function cannot feed itself)`,
    );
  }
  return [from, to];
}

/** Derives the graph's fields from validated names and edges; rejects cycles and ≠ 1 sink. */
function linkGraph(name: string, functions: string[], edges: Edges): DagGraph {
  const predecessors: number[][] = functions.map(() => []);
  const successors: number[][] = functions.map(() => []);
  edges.from.forEach((from, index) => {
    const to = edges.to[index]!;
    successors[from]!.push(to);
    predecessors[to]!.push(from);
  });
  const names = (positions: readonly number[]) => positions.map((at) => functions[at]!);
  const order = topologicalOrder(predecessors, successors);
  if (order.length < functions.length) {
    const cycle = names(findCycle(order, predecessors));
    throw new ValidationError(`DAG ${quote(name)} has a cycle: ${cycle.join(' → ')}`);
  }
  const sinks = functions.filter((_, at) => successors[at]!.length === 0);
  const [sink] = sinks;
  if (sink === undefined || sinks.length > 1) {
    throw new ValidationError(
      sink === undefined
        ? `DAG ${quote(name)} has no sink (a function with no outgoing edge)`
        : `DAG ${quote(name)} has ${sinks.length} sinks (functions with no outgoing edge): ${sinks.join(', ')}; a DAG needs exactly one, whose result answers the call`,
    );
  }
  return {
    name,
    functions,
    edges: edges.named,
    sink,
    sources: functions.filter((_, at) => predecessors[at]!.length === 0),
    predecessors: Object.fromEntries(functions.map((fn, at) => [fn, names(predecessors[at]!)])),
    successors: Object.fromEntries(functions.map((fn, at) => [fn, names(successors[at]!)])),
    order: names(order),
    linear: functions.every(
      (_, at) => predecessors[at]!.length <= 1 && successors[at]!.length <= 1,
    ),
  };
}

/**
 * Kahn's algorithm over positions, always taking the ready function listed first (a
 * binary min-heap). Returns fewer than all positions when there is a cycle.
 */
function topologicalOrder(
  predecessors: readonly (readonly number[])[],
  successors: readonly (readonly number[])[],
): number[] {
  const waiting = predecessors.map((upstream) => upstream.length);
  const ready: number[] = [];
  waiting.forEach((count, at) => {
    if (count === 0) heapPush(ready, at);
  });
  const order: number[] = [];
  for (let next = heapPop(ready); next !== undefined; next = heapPop(ready)) {
    order.push(next);
    for (const downstream of successors[next]!) {
      waiting[downstream]! -= 1;
      if (waiting[downstream] === 0) heapPush(ready, downstream);
    }
  }
  return order;
}

function heapPush(heap: number[], value: number): void {
  heap.push(value);
  let child = heap.length - 1;
  while (child > 0) {
    const parent = (child - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[child] = heap[parent]!;
    child = parent;
  }
  heap[child] = value;
}

function heapPop(heap: number[]): number | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (top === undefined || last === undefined || heap.length === 0) return top;
  let parent = 0;
  for (;;) {
    let child = 2 * parent + 1;
    if (child >= heap.length) break;
    if (child + 1 < heap.length && heap[child + 1]! < heap[child]!) child += 1;
    if (heap[child]! >= last) break;
    heap[parent] = heap[child]!;
    parent = child;
  }
  heap[parent] = last;
  return top;
}

/**
 * One cycle among the positions Kahn's algorithm could not order, as a closed path
 * `[a, b, …, a]` that follows the edges and starts at its function listed first. Each
 * such function still waits on a predecessor that is also unordered, so walking back
 * through those must revisit a function; the revisited stretch, reversed, is a cycle.
 */
function findCycle(order: readonly number[], predecessors: readonly (readonly number[])[]) {
  const ordered = new Set(order);
  const stuck = (at: number) => !ordered.has(at);
  const path: number[] = [];
  const seenAt = new Map<number, number>();
  let current = predecessors.findIndex((_, at) => stuck(at));
  while (current !== -1 && !seenAt.has(current)) {
    seenAt.set(current, path.length);
    path.push(current);
    current = predecessors[current]!.find(stuck) ?? -1;
  }
  if (current === -1) throw new Error('findCycle: no unordered function waits on another');
  const cycle = path.slice(seenAt.get(current)).reverse();
  const start = cycle.indexOf(Math.min(...cycle));
  const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
  return [...rotated, rotated[0]!];
}
