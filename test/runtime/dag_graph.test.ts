/**
 * DAG graphs: every validation error with its message; chains, fan-out, fan-in (upstream
 * functions in edge order, not function order), diamonds; the stable topological order;
 * parsing stored graphs back. Property tests over random DAGs (accepted, with a correct
 * order and correct neighbours, and parsed back from JSON unchanged) and over random DAGs
 * with one back edge (rejected, naming a real cycle). They print their seed; replay a
 * failure with SQUALL_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import test from 'ava';
import { decode, encode } from 'cbor-x';
import fc from 'fast-check';
import { ValidationError } from '../../src/errors.js';
import type { DagGraph, DagInput } from '../../src/runtime/dag_graph.js';
import {
  buildDag,
  DAG_EDGES_MAX,
  DAG_FUNCTIONS_MAX,
  parseDagGraph,
} from '../../src/runtime/dag_graph.js';

const seed =
  Number(process.env.SQUALL_SEED) || (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;

const anyRegistered = () => true;

function build(functions: unknown, edges: unknown, name: unknown = 'pipeline'): DagGraph {
  return buildDag({ name, functions, edges }, anyRegistered);
}

function rejects(
  t: import('ava').ExecutionContext,
  run: () => unknown,
  message: string | RegExp,
): void {
  const error = t.throws(run, { instanceOf: ValidationError });
  t.is(error?.code, 'INVALID');
  if (typeof message === 'string') t.is(error?.message, message);
  else t.regex(error?.message ?? '', message);
}

// ---------------------------------------------------------------------------------------
// Shapes

test('a single function with no edges is both source and sink', (t) => {
  const graph = build(['only'], []);
  t.deepEqual(graph, {
    name: 'pipeline',
    functions: ['only'],
    edges: [],
    sink: 'only',
    sources: ['only'],
    predecessors: { only: [] },
    successors: { only: [] },
    order: ['only'],
    linear: true,
  });
});

test('only a single path is linear', (t) => {
  t.true(
    build(
      ['a', 'b', 'c'],
      [
        ['a', 'b'],
        ['b', 'c'],
      ],
    ).linear,
  );
  t.false(
    build(
      ['a', 'b', 'c'],
      [
        ['a', 'c'],
        ['b', 'c'],
      ],
    ).linear,
  );
  t.false(
    build(
      ['a', 'b', 'c', 'd'],
      [
        ['a', 'b'],
        ['a', 'c'],
        ['b', 'd'],
        ['c', 'd'],
      ],
    ).linear,
  );
});

test('a chain runs in edge order whatever order its functions are listed in', (t) => {
  const graph = build(
    ['c', 'b', 'a'],
    [
      ['b', 'c'],
      ['a', 'b'],
    ],
  );
  t.is(graph.sink, 'c');
  t.deepEqual(graph.sources, ['a']);
  t.deepEqual(graph.order, ['a', 'b', 'c']);
  t.deepEqual(graph.predecessors, { a: [], b: ['a'], c: ['b'] });
  t.deepEqual(graph.successors, { a: ['b'], b: ['c'], c: [] });
});

test('fan-in: predecessors follow edge order, not function order', (t) => {
  const graph = build(
    ['a', 'b', 'c', 'join'],
    [
      ['c', 'join'],
      ['a', 'join'],
      ['b', 'join'],
    ],
  );
  t.deepEqual(graph.predecessors.join, ['c', 'a', 'b']);
  t.deepEqual(graph.sources, ['a', 'b', 'c']);
  t.deepEqual(graph.order, ['a', 'b', 'c', 'join']);
  t.is(graph.sink, 'join');
});

test('fan-out: successors follow edge order, and the stable order breaks ties by function order', (t) => {
  const graph = build(
    ['root', 'x', 'y', 'z', 'sink'],
    [
      ['root', 'z'],
      ['root', 'x'],
      ['root', 'y'],
      ['x', 'sink'],
      ['z', 'sink'],
      ['y', 'sink'],
    ],
  );
  t.deepEqual(graph.successors.root, ['z', 'x', 'y']);
  t.deepEqual(graph.predecessors.sink, ['x', 'z', 'y']);
  t.deepEqual(graph.order, ['root', 'x', 'y', 'z', 'sink']);
});

test('a diamond with two sources', (t) => {
  const graph = build(
    ['d', 'c', 'b', 'a', 'e'],
    [
      ['a', 'b'],
      ['a', 'c'],
      ['b', 'd'],
      ['c', 'd'],
      ['e', 'c'],
    ],
  );
  t.deepEqual(graph.sources, ['a', 'e']);
  t.is(graph.sink, 'd');
  // a and e are ready first (a listed before e); after a, b is ready and listed before e.
  t.deepEqual(graph.order, ['a', 'b', 'e', 'c', 'd']);
  t.deepEqual(graph.predecessors, { d: ['b', 'c'], c: ['a', 'e'], b: ['a'], a: [], e: [] });
});

test('names that are Object.prototype members are ordinary entries', (t) => {
  const functions = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
  const graph = build(functions, [
    ['__proto__', 'constructor'],
    ['toString', 'constructor'],
    ['constructor', 'hasOwnProperty'],
  ]);
  const proto = '__proto__';
  t.true(Object.hasOwn(graph.predecessors, proto));
  t.deepEqual(graph.predecessors[proto], []);
  t.deepEqual(graph.successors[proto], ['constructor']);
  t.deepEqual(graph.predecessors.constructor, ['__proto__', 'toString']);
  t.is(Object.getPrototypeOf(graph.predecessors), Object.prototype);
  t.deepEqual(Object.keys(graph.successors), functions);
  t.deepEqual(parseDagGraph(JSON.parse(JSON.stringify(graph))), graph);
});

test('the graph owns its arrays: changing the request afterwards changes nothing', (t) => {
  const functions = ['a', 'b'];
  const edge: [string, string] = ['a', 'b'];
  const edges = [edge];
  const graph = build(functions, edges);
  functions.push('c');
  edge[1] = 'c';
  edges.push(['b', 'a']);
  t.deepEqual(graph.functions, ['a', 'b']);
  t.deepEqual(graph.edges, [['a', 'b']]);
});

test('a DagSpec and a raw request record are both accepted', (t) => {
  const raw: Record<string, unknown> = { name: 'x', functions: ['f'], edges: [], extra: 1 };
  const input: DagInput = raw;
  t.is(buildDag(input, anyRegistered).sink, 'f');
  t.is(buildDag({ name: 'x', functions: ['f'], edges: [] }, anyRegistered).sink, 'f');
});

// ---------------------------------------------------------------------------------------
// Errors

const NAME_RULE =
  'is not valid: use ASCII letters, digits, _ $ . - (at most 128, not starting with a digit)';

test('rejects a bad DAG name', (t) => {
  rejects(t, () => build(['a'], [], '1dag'), `DAG name "1dag" ${NAME_RULE}`);
  rejects(
    t,
    () => buildDag({ functions: ['a'], edges: [] }, anyRegistered),
    `DAG name undefined ${NAME_RULE}`,
  );
  rejects(t, () => build(['a'], [], 'a b'), `DAG name "a b" ${NAME_RULE}`);
  rejects(t, () => build(['a'], [], 'x'.repeat(129)), /^DAG name "x+… is not valid/);
});

test('rejects a bad function name', (t) => {
  rejects(t, () => build(['a', 'b c'], []), `DAG "pipeline": function "b c" ${NAME_RULE}`);
  rejects(t, () => build(['a', 7], []), `DAG "pipeline": function 7 ${NAME_RULE}`);
  rejects(t, () => build([''], []), `DAG "pipeline": function "" ${NAME_RULE}`);
});

test('rejects a function list that is not an array, or is empty', (t) => {
  const message = 'DAG "pipeline": functions must be an array of function names';
  rejects(t, () => build('a,b', []), message);
  rejects(t, () => build(undefined, []), message);
  rejects(t, () => build({ 0: 'a', length: 1 }, []), message);
  rejects(t, () => build([], []), 'DAG "pipeline" has no functions');
});

test('rejects a duplicate function name', (t) => {
  rejects(t, () => build(['a', 'b', 'a'], [['a', 'b']]), 'DAG "pipeline" lists function "a" twice');
});

test('rejects edges that are not an array', (t) => {
  const message = 'DAG "pipeline": edges must be an array of [from, to] pairs';
  rejects(t, () => build(['a'], undefined), message);
  rejects(t, () => build(['a'], { a: 'b' }), message);
});

test('rejects an edge that is not a pair of strings', (t) => {
  const prefix = 'DAG "pipeline": edge #1 must be a [from, to] pair of function names, got';
  const cases: [unknown, string][] = [
    [['a'], "[ 'a' ]"],
    [['a', 'b', 'c'], "[ 'a', 'b', 'c' ]"],
    [['a', 1], "[ 'a', 1 ]"],
    ['a:b', '"a:b"'],
    [null, 'null'],
    [{ 0: 'a', 1: 'b' }, "{ '0': 'a', '1': 'b' }"],
  ];
  for (const [edge, shown] of cases) {
    rejects(t, () => build(['a', 'b'], [['a', 'b'], edge]), `${prefix} ${shown}`);
  }
});

test('rejects an edge naming a function not in the list', (t) => {
  rejects(
    t,
    () => build(['a', 'b'], [['a', 'z']]),
    `DAG "pipeline": edge #0 ["a","z"] names "z", which is not one of its functions`,
  );
  rejects(
    t,
    () => build(['a', 'b'], [['q', 'b']]),
    `DAG "pipeline": edge #0 ["q","b"] names "q", which is not one of its functions`,
  );
});

test('rejects a duplicate edge and a self-loop', (t) => {
  rejects(
    t,
    () =>
      build(
        ['a', 'b'],
        [
          ['a', 'b'],
          ['a', 'b'],
        ],
      ),
    'DAG "pipeline" lists edge a → b twice',
  );
  rejects(
    t,
    () =>
      build(
        ['a', 'b'],
        [
          ['a', 'b'],
          ['b', 'b'],
        ],
      ),
    'DAG "pipeline": edge b → b is a self-loop (a function cannot feed itself)',
  );
});

test('rejects a cycle and names the functions on it, starting from the one listed first', (t) => {
  rejects(
    t,
    () =>
      build(
        ['s', 'c', 'a', 'b'],
        [
          ['s', 'a'],
          ['a', 'b'],
          ['b', 'c'],
          ['c', 'a'],
        ],
      ),
    'DAG "pipeline" has a cycle: c → a → b → c',
  );
  // The first unordered function (d) waits on the cycle but is not on it.
  rejects(
    t,
    () =>
      build(
        ['d', 'a', 'b', 'c'],
        [
          ['a', 'b'],
          ['b', 'c'],
          ['c', 'a'],
          ['c', 'd'],
        ],
      ),
    'DAG "pipeline" has a cycle: a → b → c → a',
  );
  rejects(
    t,
    () =>
      build(
        ['a', 'b'],
        [
          ['a', 'b'],
          ['b', 'a'],
        ],
      ),
    'DAG "pipeline" has a cycle: a → b → a',
  );
});

test('rejects more than one sink and names them', (t) => {
  const suffix = 'a DAG needs exactly one, whose result answers the call';
  rejects(
    t,
    () => build(['a', 'b'], []),
    `DAG "pipeline" has 2 sinks (functions with no outgoing edge): a, b; ${suffix}`,
  );
  rejects(
    t,
    () =>
      build(
        ['src', 'x', 'y', 'z'],
        [
          ['src', 'z'],
          ['src', 'x'],
          ['src', 'y'],
        ],
      ),
    `DAG "pipeline" has 3 sinks (functions with no outgoing edge): x, y, z; ${suffix}`,
  );
});

test('rejects unregistered functions and names all of them', (t) => {
  const registered = new Set(['a', 'c']);
  const calls: string[] = [];
  const isRegistered = (name: string) => {
    calls.push(name);
    return registered.has(name);
  };
  const spec = {
    name: 'etl',
    functions: ['a', 'b', 'c', 'd'],
    edges: [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
    ],
  };
  rejects(
    t,
    () => buildDag(spec, isRegistered),
    'DAG "etl" uses functions that are not registered: b, d',
  );
  t.deepEqual(calls, ['a', 'b', 'c', 'd']);
  t.notThrows(() => buildDag(spec, () => true));
});

test('rejects more functions or edges than the limits', (t) => {
  const names = (n: number) => Array.from({ length: n }, (_, i) => `f${i}`);
  const chain = (fns: string[]) => fns.slice(1).map((fn, i): [string, string] => [fns[i]!, fn]);
  const atMax = names(DAG_FUNCTIONS_MAX);
  t.is(build(atMax, chain(atMax)).sink, `f${DAG_FUNCTIONS_MAX - 1}`);
  const over = names(DAG_FUNCTIONS_MAX + 1);
  rejects(
    t,
    () => build(over, chain(over)),
    `DAG "pipeline" has ${DAG_FUNCTIONS_MAX + 1} functions, more than the limit of ${DAG_FUNCTIONS_MAX}`,
  );
  const tooManyEdges = Array.from({ length: DAG_EDGES_MAX + 1 }, () => ['a', 'b']);
  rejects(
    t,
    () => build(['a', 'b'], tooManyEdges),
    `DAG "pipeline" has ${DAG_EDGES_MAX + 1} edges, more than the limit of ${DAG_EDGES_MAX}`,
  );
  const spec = { name: 'small', functions: names(4), edges: chain(names(4)) };
  rejects(
    t,
    () => buildDag(spec, anyRegistered, { functionsMax: 3 }),
    'DAG "small" has 4 functions, more than the limit of 3',
  );
  rejects(
    t,
    () => buildDag(spec, anyRegistered, { edgesMax: 2 }),
    'DAG "small" has 3 edges, more than the limit of 2',
  );
  t.throws(() => buildDag(spec, anyRegistered, { functionsMax: 0 }), { instanceOf: RangeError });
  t.throws(() => buildDag(spec, anyRegistered, { edgesMax: 1.5 }), { instanceOf: RangeError });
});

// ---------------------------------------------------------------------------------------
// Parsing stored graphs

const diamond = () =>
  build(
    ['a', 'b', 'c', 'd'],
    [
      ['a', 'b'],
      ['a', 'c'],
      ['b', 'd'],
      ['c', 'd'],
    ],
  );

test('parseDagGraph reads back a JSON round trip of a built graph', (t) => {
  const graph = diamond();
  t.deepEqual(parseDagGraph(JSON.parse(JSON.stringify(graph))), graph);
});

test('parseDagGraph rejects what is not a graph', (t) => {
  rejects(t, () => parseDagGraph(null), 'stored DAG must be an object');
  rejects(t, () => parseDagGraph([1]), 'stored DAG must be an object');
  rejects(t, () => parseDagGraph({}), `DAG name undefined ${NAME_RULE}`);
  rejects(
    t,
    () => parseDagGraph({ ...diamond(), edges: [...diamond().edges, ['d', 'a']] }),
    'DAG "pipeline" has a cycle: a → b → d → a',
  );
});

test('parseDagGraph recomputes the derived fields rather than trusting stored copies', (t) => {
  const graph = diamond();
  const { sink: _sink, predecessors: _p, successors: _s, ...spec } = graph;
  t.deepEqual(parseDagGraph(spec), graph);
  t.deepEqual(
    parseDagGraph({ name: graph.name, functions: graph.functions, edges: graph.edges }),
    graph,
  );
  const lying = {
    ...graph,
    sink: 'c',
    sources: ['b'],
    order: ['d', 'c', 'b', 'a'],
    predecessors: { d: [] },
    successors: 'none',
  };
  t.deepEqual(parseDagGraph(lying), graph);
});

test('parseDagGraph reads back a CBOR round trip, even with a function named __proto__', (t) => {
  const graph = build(
    ['__proto__', 'constructor', 'sink'],
    [
      ['__proto__', 'sink'],
      ['constructor', 'sink'],
    ],
  );
  const decoded = decode(encode(graph));
  // cbor-x renames an own `__proto__` key on decoding, so the stored records are mangled...
  t.false(Object.hasOwn(decoded.predecessors, '__proto__'));
  // ...but the names travel in arrays, and the derived fields are recomputed from those.
  t.deepEqual(parseDagGraph(decoded), graph);
});

test('parseDagGraph does not ask about registration: a stored DAG may outlive a function', (t) => {
  const graph = diamond();
  t.deepEqual(parseDagGraph(structuredClone(graph)), graph);
});

// ---------------------------------------------------------------------------------------
// Properties

const nameArb = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[A-Za-z_$][\w$.-]{0,6}$/) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf') },
);

/** Deterministic Fisher–Yates driven by a 32-bit salt (so fast-check can replay it). */
function shuffled<T>(items: readonly T[], salt: number): T[] {
  const out = [...items];
  let state = salt | 0 || 1;
  for (let i = out.length - 1; i > 0; i -= 1) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const j = (state >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const RUNS = 3_000;

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

interface RandomDag {
  functions: string[];
  edges: [string, string][];
  sink: string;
}

/**
 * A random DAG: `names` is a random topological order; each drawn pair (i, j), i ≠ j,
 * becomes the forward edge between positions min and max; then one sink is picked and every
 * other sink is joined to it (a sink has no outgoing edge, so that adds no cycle). The
 * listing order of functions and of edges is shuffled independently of the topology.
 */
const randomDagArb = fc
  .uniqueArray(nameArb, { minLength: 1, maxLength: 40 })
  .chain((names) =>
    fc.record({
      names: fc.constant(names),
      pairs: fc.array(fc.tuple(fc.nat(names.length - 1), fc.nat(names.length - 1)), {
        maxLength: names.length * 3,
      }),
      sinkPick: fc.nat(),
      salt: fc.integer(),
    }),
  )
  .map(({ names, pairs, sinkPick, salt }): RandomDag => {
    const keys = new Set<string>();
    const edges: [string, string][] = [];
    const addEdge = (from: string, to: string) => {
      const key = `${from} ${to}`;
      if (keys.has(key)) return;
      keys.add(key);
      edges.push([from, to]);
    };
    for (const [i, j] of pairs) {
      if (i !== j) addEdge(names[Math.min(i, j)]!, names[Math.max(i, j)]!);
    }
    const sinks = names.filter((fn) => !edges.some(([from]) => from === fn));
    const sink = sinks[sinkPick % sinks.length]!;
    for (const other of sinks) if (other !== sink) addEdge(other, sink);
    return { functions: shuffled(names, salt), edges: shuffled(edges, salt ^ 0x5bd1e995), sink };
  });

/** The reference stable order: repeatedly the first listed function whose inputs all ran. */
function referenceOrder(functions: readonly string[], edges: readonly [string, string][]) {
  const placed = new Set<string>();
  const order: string[] = [];
  while (order.length < functions.length) {
    const next = functions.find(
      (fn) => !placed.has(fn) && edges.every(([from, to]) => to !== fn || placed.has(from)),
    );
    if (next === undefined) return undefined;
    placed.add(next);
    order.push(next);
  }
  return order;
}

function checkGraph(dag: RandomDag, graph: DagGraph): string | undefined {
  const { functions, edges } = dag;
  const position = new Map(graph.order.map((fn, i) => [fn, i]));
  if (graph.order.length !== functions.length || position.size !== functions.length) {
    return 'order is not a permutation of the functions';
  }
  if (!edges.every(([from, to]) => position.get(from)! < position.get(to)!)) {
    return 'order is not topological';
  }
  const expectedOrder = referenceOrder(functions, edges);
  if (JSON.stringify(graph.order) !== JSON.stringify(expectedOrder)) return 'order is not stable';
  if (graph.sink !== dag.sink) return 'wrong sink';
  for (const fn of functions) {
    const preds = edges.filter(([, to]) => to === fn).map(([from]) => from);
    const succs = edges.filter(([from]) => from === fn).map(([, to]) => to);
    if (!Object.hasOwn(graph.predecessors, fn) || !Object.hasOwn(graph.successors, fn)) {
      return `no entry for ${fn}`;
    }
    if (JSON.stringify(graph.predecessors[fn]) !== JSON.stringify(preds)) return 'predecessors';
    if (JSON.stringify(graph.successors[fn]) !== JSON.stringify(succs)) return 'successors';
  }
  const sources = functions.filter((fn) => !edges.some(([, to]) => to === fn));
  if (JSON.stringify(graph.sources) !== JSON.stringify(sources)) return 'sources';
  return undefined;
}

test('property: random DAGs are accepted with a stable topological order, exact neighbours, and survive a JSON round trip', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  let edgesSeen = 0;
  fc.assert(
    fc.property(randomDagArb, (dag) => {
      const graph = buildDag({ name: 'random', ...dag }, anyRegistered);
      edgesSeen += dag.edges.length;
      const problem = checkGraph(dag, graph);
      if (problem !== undefined) throw new Error(problem);
      assert.deepStrictEqual(graph.edges, dag.edges);
      assert.deepStrictEqual(graph.functions, dag.functions);
      assert.deepStrictEqual(parseDagGraph(JSON.parse(JSON.stringify(graph))), graph);
    }),
    { seed, numRuns: RUNS },
  );
  t.log('edges checked', edgesSeen);
  t.true(edgesSeen > RUNS);
});

test('property: a random DAG with one back edge is rejected, naming a cycle of its edges through that edge', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  let runs = 0;
  const withBackEdge = fc
    .tuple(
      randomDagArb.filter((dag) => dag.functions.length >= 2),
      fc.nat(),
      fc.nat(),
    )
    .map(([dag, pick, at]) => {
      // Every function reaches the only sink, so sink → v closes a cycle through v.
      const others = dag.functions.filter((fn) => fn !== dag.sink);
      const target = others[pick % others.length]!;
      const edges = [...dag.edges];
      edges.splice(at % (edges.length + 1), 0, [dag.sink, target]);
      return { ...dag, edges, target };
    });
  fc.assert(
    fc.property(withBackEdge, (dag) => {
      const error = thrown(() => buildDag({ name: 'random', ...dag }, anyRegistered));
      const prefix = 'DAG "random" has a cycle: ';
      if (!(error instanceof ValidationError) || !error.message.startsWith(prefix)) {
        throw new Error(`not a cycle error: ${String(error)}`);
      }
      const path = error.message.slice(prefix.length).split(' → ');
      const edgeKeys = new Set(dag.edges.map(([from, to]) => `${from} ${to}`));
      const onCycle = path.slice(0, -1);
      if (path[0] !== path.at(-1) || new Set(onCycle).size !== onCycle.length) {
        throw new Error(`not a simple closed path: ${path.join(' → ')}`);
      }
      for (let i = 0; i + 1 < path.length; i += 1) {
        if (!edgeKeys.has(`${path[i]} ${path[i + 1]}`)) throw new Error('step is not an edge');
      }
      if (!onCycle.includes(dag.sink) || !onCycle.includes(dag.target)) {
        throw new Error('cycle does not use the back edge');
      }
      const rank = (fn: string) => dag.functions.indexOf(fn);
      if (onCycle.some((fn) => rank(fn) < rank(path[0]!))) throw new Error('cycle start');
      runs += 1;
    }),
    { seed, numRuns: RUNS },
  );
  t.is(runs, RUNS);
});

/** Mean microseconds per call of `run` over `rounds` calls, after a warm-up. */
function microsPerCall(rounds: number, run: () => unknown): number {
  for (let i = 0; i < Math.min(rounds, 50); i += 1) run();
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i += 1) run();
  return Number(process.hrtime.bigint() - start) / 1000 / rounds;
}

test('measure: buildDag and parseDagGraph on the largest DAG, a long chain and a small diamond', (t) => {
  const names = Array.from({ length: DAG_FUNCTIONS_MAX }, (_, i) => `f${i}`);
  const edges: [string, string][] = [];
  // The chain f0 → f1 → … first (one sink), then skips of 2, 3, … until the edge limit.
  for (let step = 1; edges.length < DAG_EDGES_MAX; step += 1) {
    for (let i = 0; i + step < names.length && edges.length < DAG_EDGES_MAX; i += 1) {
      edges.push([names[i]!, names[i + step]!]);
    }
  }
  const chain = names.slice(1).map((fn, i): [string, string] => [names[i]!, fn]);
  const cases = {
    [`${names.length} functions, ${edges.length} edges`]: {
      name: 'big',
      functions: shuffled(names, 7),
      edges: shuffled(edges, 11),
    },
    [`${names.length}-function chain`]: { name: 'chain', functions: names, edges: chain },
    '4-function diamond': diamond(),
  };
  for (const [label, spec] of Object.entries(cases)) {
    const graph = buildDag(spec, anyRegistered);
    const stored = JSON.parse(JSON.stringify(graph));
    const build = microsPerCall(200, () => buildDag(spec, anyRegistered));
    const parse = microsPerCall(200, () => parseDagGraph(stored));
    t.log(`${label}: buildDag ${build.toFixed(1)} µs, parseDagGraph ${parse.toFixed(1)} µs`);
    t.deepEqual(parseDagGraph(stored), graph);
  }
});
