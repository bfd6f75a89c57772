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
 * parsing recomputes them and refuses a stored value whose derived fields disagree — a
 * scheduler trusting a wrong `predecessors` would wait forever for an input that never
 * comes. The per-function records are built with `Object.fromEntries`, which defines own
 * properties, so a function named `__proto__` or `constructor` is an ordinary entry.
 * Pure: no I/O, no clock, no randomness.
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
 * Parses an untrusted stored or wire value back into a DagGraph: the structure is
 * validated as `buildDag` does (without asking which functions are registered: a stored
 * DAG may outlive one of its functions), and the derived fields must match it.
 */
export function parseDagGraph(x: unknown, limits: DagLimits = {}): DagGraph {
  const record = requireRecord(x, 'stored DAG');
  const graph = buildStructure(record, limits);
  const stale = staleField(record, graph);
  if (stale !== undefined) {
    throw new ValidationError(
      `stored DAG ${quote(graph.name)} is inconsistent: its ${stale} does not follow from its functions and edges`,
    );
  }
  return graph;
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
  const edges = readEdges(name, spec.edges, new Set(functions), edgesMax);
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
  const seen = new Set<string>();
  for (const fn of value) {
    const checked = requireName(fn, `DAG ${quote(dag)}: function`);
    if (seen.has(checked)) {
      throw new ValidationError(`DAG ${quote(dag)} lists function ${quote(checked)} twice`);
    }
    seen.add(checked);
  }
  return [...seen];
}

function readEdges(
  dag: string,
  value: unknown,
  functions: ReadonlySet<string>,
  edgesMax: number,
): [string, string][] {
  if (!Array.isArray(value)) {
    throw new ValidationError(`DAG ${quote(dag)}: edges must be an array of [from, to] pairs`);
  }
  if (value.length > edgesMax) {
    throw new ValidationError(
      `DAG ${quote(dag)} has ${value.length} edges, more than the limit of ${edgesMax}`,
    );
  }
  const edges: [string, string][] = [];
  const seen = new Set<string>();
  value.forEach((edge: unknown, index) => {
    const pair = readEdge(dag, edge, index, functions);
    const [from, to] = pair;
    // Names never hold a space (requireName), so this key is unambiguous.
    const key = `${from} ${to}`;
    if (seen.has(key)) {
      throw new ValidationError(`DAG ${quote(dag)} lists edge ${from} → ${to} twice`);
    }
    seen.add(key);
    edges.push(pair);
  });
  return edges;
}

function readEdge(
  dag: string,
  edge: unknown,
  index: number,
  functions: ReadonlySet<string>,
): [string, string] {
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
  const [from, to] = edge as [string, string];
  for (const end of [from, to]) {
    if (!functions.has(end)) {
      throw new ValidationError(
        `DAG ${quote(dag)}: edge #${index} ${describeValue(edge)} names ${describeValue(end)}, which is not one of its functions`,
      );
    }
  }
  if (from === to) {
    throw new ValidationError(
      `DAG ${quote(dag)}: edge ${from} → ${to} is a self-loop (a function cannot feed itself)`,
    );
  }
  return [from, to];
}

/** Derives the graph's fields from validated names and edges; rejects cycles and ≠ 1 sink. */
function linkGraph(name: string, functions: string[], edges: [string, string][]): DagGraph {
  const predecessors = new Map<string, string[]>(functions.map((fn) => [fn, []]));
  const successors = new Map<string, string[]>(functions.map((fn) => [fn, []]));
  for (const [from, to] of edges) {
    successors.get(from)!.push(to);
    predecessors.get(to)!.push(from);
  }
  const order = topologicalOrder(functions, predecessors, successors);
  if (order.length < functions.length) {
    const cycle = findCycle(functions, new Set(order), predecessors);
    throw new ValidationError(`DAG ${quote(name)} has a cycle: ${cycle.join(' → ')}`);
  }
  const sinks = functions.filter((fn) => successors.get(fn)!.length === 0);
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
    edges,
    sink,
    sources: functions.filter((fn) => predecessors.get(fn)!.length === 0),
    predecessors: Object.fromEntries(predecessors),
    successors: Object.fromEntries(successors),
    order,
  };
}

/**
 * Kahn's algorithm, always taking the ready function listed first in `functions` (a
 * binary min-heap of positions). Returns fewer than all functions when there is a cycle.
 */
function topologicalOrder(
  functions: readonly string[],
  predecessors: ReadonlyMap<string, readonly string[]>,
  successors: ReadonlyMap<string, readonly string[]>,
): string[] {
  const position = new Map(functions.map((fn, index) => [fn, index]));
  const waiting = functions.map((fn) => predecessors.get(fn)!.length);
  const ready: number[] = [];
  waiting.forEach((count, index) => {
    if (count === 0) heapPush(ready, index);
  });
  const order: string[] = [];
  for (let next = heapPop(ready); next !== undefined; next = heapPop(ready)) {
    const fn = functions[next]!;
    order.push(fn);
    for (const downstream of successors.get(fn)!) {
      const index = position.get(downstream)!;
      waiting[index]! -= 1;
      if (waiting[index] === 0) heapPush(ready, index);
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
 * One cycle among the functions Kahn's algorithm could not order, as a closed path
 * `[a, b, …, a]` that follows the edges and starts at its function listed first. Each
 * such function still waits on a predecessor that is also unordered, so walking back
 * through those must revisit a function; the revisited stretch, reversed, is a cycle.
 */
function findCycle(
  functions: readonly string[],
  ordered: ReadonlySet<string>,
  predecessors: ReadonlyMap<string, readonly string[]>,
): string[] {
  const stuck = (fn: string) => !ordered.has(fn);
  const path: string[] = [];
  const seenAt = new Map<string, number>();
  let current = functions.find(stuck);
  while (current !== undefined && !seenAt.has(current)) {
    seenAt.set(current, path.length);
    path.push(current);
    current = predecessors.get(current)!.find(stuck);
  }
  if (current === undefined) throw new Error('findCycle: no unordered function waits on another');
  const cycle = path.slice(seenAt.get(current)).reverse();
  const rank = new Map(functions.map((fn, index) => [fn, index]));
  let start = 0;
  cycle.forEach((fn, index) => {
    if (rank.get(fn)! < rank.get(cycle[start]!)!) start = index;
  });
  const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
  return [...rotated, rotated[0]!];
}

/** The first derived field of `record` that differs from `graph`'s, or undefined. */
function staleField(record: Record<string, unknown>, graph: DagGraph): string | undefined {
  if (record.sink !== graph.sink) return 'sink';
  if (!sameStrings(record.sources, graph.sources)) return 'sources';
  if (!sameStrings(record.order, graph.order)) return 'order';
  if (!sameLists(record.predecessors, graph.predecessors)) return 'predecessors';
  if (!sameLists(record.successors, graph.successors)) return 'successors';
  return undefined;
}

function sameStrings(value: unknown, expected: readonly string[]): boolean {
  return (
    Array.isArray(value) &&
    value.length === expected.length &&
    value.every((item, index) => item === expected[index])
  );
}

/** Whether `value` has exactly the own keys of `expected`, each with the same list. */
function sameLists(value: unknown, expected: Record<string, string[]>): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(expected);
  if (Object.keys(value).length !== keys.length) return false;
  return keys.every(
    (key) => Object.hasOwn(value, key) && sameStrings((value as Record<string, unknown>)[key], expected[key]!),
  );
}
