/**
 * The tidy test: DESIGN.md's rules that a reviewer would otherwise have to remember,
 * checked on every file of `src/` (principle 7, "enforce rules by tests, not by memory").
 * Each rule is its own test, and a failure lists every offending `file:line`:
 *
 * 1. no `console.log`, `console.debug` or `debugger`, and no TODO, FIXME or XXX;
 * 2. every module opens with a comment of at least one sentence;
 * 3. no function body longer than FUNCTION_LINES_MAX lines;
 * 4. protocol cores are pure: no sockets, timers, disk, threads, clock or randomness;
 * 5. a folder's `index.ts` is its public face: nothing outside a folder imports its other
 *    files (type-only imports included);
 * 6. no `any` without a comment on its line or the line before saying why.
 *
 * There is no allowlist: a violation is fixed in `src/`, or, if the checker is wrong,
 * in the checker. The `checker:` tests below run each checker on small strings, so a
 * checker that silently stops firing fails too. The checkers live in tidy_checks.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import test from 'ava';
import {
  checkHeader,
  findBoundaryCrossings,
  findImports,
  findImpureUses,
  findLeftovers,
  findLongFunctions,
  findUnexplainedAny,
  formatViolations,
  hasSentence,
  maskSource,
  type SourceFile,
  type Violation,
} from './tidy_checks.js';

/**
 * The protocol cores (DESIGN.md principle 1): pure state machines that take the clock,
 * random source, transport and disk as parameters. An entry ending in `/` is a folder:
 * every file under it is a core.
 */
const PROTOCOL_CORES = [
  'src/actors/mailboxes.ts',
  'src/storage/hlc.ts',
  'src/storage/store.ts',
  'src/storage/log_format.ts',
  'src/storage/lattices/',
  'src/runtime/placement.ts',
  'src/runtime/subscriptions.ts',
  'src/runtime/core_effects.ts',
  'src/sim/random.ts',
  'src/sim/event_queue.ts',
  'src/sim/clock.ts',
  'src/sim/network.ts',
  'src/sim/sim_node.ts',
  'src/sim/checkers.ts',
  'src/sim/cluster_sim.ts',
];

/** Cores still to be written are known by name: the cluster protocols, and any `*_core.ts`. */
const PROTOCOL_CORE_PATTERNS = [
  /^src\/runtime\/(membership|ring|hash_ring|replication|anti_entropy|scheduler|consistency)/,
  /^src\/.*_core\.ts$/,
];

/** DESIGN.md principle 7: "when a function grows past ~70 lines". */
const FUNCTION_LINES_MAX = 70;

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function listTypeScript(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listTypeScript(path));
    else if (entry.isFile() && entry.name.endsWith('.ts')) files.push(path);
  }
  return files;
}

function loadSources(): SourceFile[] {
  return listTypeScript(join(ROOT, 'src'))
    .map((path) => ({
      path: relative(ROOT, path).split(sep).join('/'),
      text: readFileSync(path, 'utf8'),
    }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

const SOURCES = loadSources();

/** Whether a PROTOCOL_CORES entry (a file, or a folder ending in `/`) covers the path. */
function coreCovers(core: string, path: string): boolean {
  return core.endsWith('/') ? path.startsWith(core) : path === core;
}

function isProtocolCore(path: string): boolean {
  const listed = PROTOCOL_CORES.some((core) => coreCovers(core, path));
  return listed || PROTOCOL_CORE_PATTERNS.some((pattern) => pattern.test(path));
}

function assertClean(t: ExecutionContext, rule: string, violations: readonly Violation[]): void {
  const list = formatViolations(violations);
  t.is(violations.length, 0, `${rule}: ${violations.length} violation(s)\n${list}\n`);
}

function checkAll(check: (file: SourceFile) => Violation[]): Violation[] {
  return SOURCES.flatMap((file) => check(file));
}

// ---------------------------------------------------------------------------------------
// The rules, on src/

test('src/ holds TypeScript files to check', (t) => {
  t.true(SOURCES.length > 10, `found only ${SOURCES.length} files under src/`);
  t.true(SOURCES.some((file) => isProtocolCore(file.path)));
});

test('rule 1: no console.log, console.debug, debugger, TODO, FIXME or XXX in src/', (t) => {
  assertClean(t, 'debugging leftovers', checkAll(findLeftovers));
});

test('rule 2: every module opens with a comment of at least one sentence', (t) => {
  assertClean(t, 'module header', checkAll(checkHeader));
});

test(`rule 3: no function body is longer than ${FUNCTION_LINES_MAX} lines`, (t) => {
  assertClean(
    t,
    'long functions',
    checkAll((file) => findLongFunctions(file, FUNCTION_LINES_MAX)),
  );
});

test('rule 4: protocol cores use no socket, timer, disk, thread, clock or randomness', (t) => {
  const missing = PROTOCOL_CORES.filter(
    (core) => !SOURCES.some((file) => coreCovers(core, file.path)),
  );
  t.deepEqual(missing, [], 'PROTOCOL_CORES names files that no longer exist: update the list');
  const cores = SOURCES.filter((file) => isProtocolCore(file.path));
  assertClean(
    t,
    'impure protocol cores',
    cores.flatMap((file) => findImpureUses(file)),
  );
});

test("rule 5: imports between folders go through the folder's index.js", (t) => {
  assertClean(t, 'folder boundaries', checkAll(findBoundaryCrossings));
});

test('rule 6: no any without a comment saying why', (t) => {
  assertClean(t, 'unexplained any', checkAll(findUnexplainedAny));
});

// ---------------------------------------------------------------------------------------
// The checkers, on small strings: each must fire on a violation and stay quiet otherwise

function file(path: string, ...lines: string[]): SourceFile {
  return { path, text: lines.join('\n') };
}

function lineNumbers(violations: readonly Violation[]): number[] {
  return violations.map((v) => v.line);
}

test('checker: maskSource blanks comments, strings, templates and regexes, keeping lines', (t) => {
  const text = [
    "const a = '// not a comment'; // a comment",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: source text holding a template
    'const b = `x ${ { k: "/*" }.k } y`; /* block',
    'still block */ const c = /\\/*[/]x/g.test(a) ? 4 / 2 / 1 : 0;',
    'const d = "it\'s \\" quoted";',
  ].join('\n');
  const masked = maskSource(text);
  t.is(masked.code.length, text.length);
  t.is(masked.code.split('\n').length, 4);
  t.deepEqual([...masked.commentLines].sort(), [1, 2, 3]);
  t.false(masked.code.includes('not a comment'));
  t.false(masked.code.includes('a comment'));
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the template's code stays as is
  t.true(masked.code.includes('${ { k: "  " }.k }'));
  t.true(masked.code.includes('const c = /'));
  t.true(masked.code.includes('? 4 / 2 / 1 : 0;'));
  t.false(masked.code.includes('quoted'));
  t.true(masked.code.includes('const d = "'));
});

test('checker: findImports sees static, type-only, re-export, side-effect and dynamic imports', (t) => {
  const text = [
    "import type { A } from './a.js';",
    'import {',
    '  b,',
    "} from '../b.js';",
    "export * from './c.js';",
    "import './d.js';",
    "const e = await import('./e.js');",
    "const s = 'import \"./no.js\"'; // from './no2.js'",
  ].join('\n');
  t.deepEqual(findImports(text), [
    { specifier: './a.js', line: 1 },
    { specifier: '../b.js', line: 4 },
    { specifier: './c.js', line: 5 },
    { specifier: './d.js', line: 6 },
    { specifier: './e.js', line: 7 },
  ]);
});

test('checker: findLeftovers fires on console.log, debugger and TODO', (t) => {
  const bad = file(
    'src/x.ts',
    'console.log(1);',
    'console . debug(2);',
    'debugger;',
    '// TODO: later',
    'const x = 1; /* FIXME */',
    "const y = 'XXX';",
  );
  t.deepEqual(lineNumbers(findLeftovers(bad)), [1, 2, 3, 4, 5, 6]);
  const good = file(
    'src/x.ts',
    "const s = 'console.log(1) debugger';",
    '// console.log is fine in a comment',
    'console.error(new Error("todo and fixme in lower case"));',
    'logger.console.log(1);',
  );
  t.deepEqual(findLeftovers(good), []);
});

test('checker: checkHeader wants an opening comment with a sentence', (t) => {
  const header = '/**\n * The store shard: merges every write.\n */\nexport {};';
  t.deepEqual(checkHeader(file('src/x.ts', header)), []);
  t.deepEqual(checkHeader(file('src/x.ts', '// Runs the node in this process.', 'x();')), []);
  t.deepEqual(checkHeader(file('src/x.ts', '#!/usr/bin/env node', '', '/* Starts a node. */')), []);
  t.is(checkHeader(file('src/x.ts', "import x from './x.js';", '/** Late. */')).length, 1);
  t.is(checkHeader(file('src/x.ts', '/** store */', 'export {};')).length, 1);
  t.is(checkHeader(file('src/x.ts', '// biome-ignore lint: x', 'export {};')).length, 1);
  t.is(checkHeader(file('src/x.ts', '')).length, 1);
  t.true(hasSentence('Merges every write. More'));
  t.false(hasSentence('Merges every write'));
  t.false(hasSentence('See x.ts.'));
});

function longFunction(name: string, bodyLines: number): string[] {
  const body = Array.from({ length: bodyLines - 2 }, (_, i) => `  total += ${i};`);
  return [`function ${name}(start: number): number {`, ...body, '}'];
}

test('checker: findLongFunctions counts original lines and names the function', (t) => {
  const typesFirst = ['interface Shape {', '  a: number;', '  b: string;', '}', 'let total = 0;'];
  const bad = file('src/x.ts', ...typesFirst, ...longFunction('tooLong', 71));
  const found = findLongFunctions(bad, 70);
  t.deepEqual(lineNumbers(found), [6]);
  t.regex(found[0]?.message ?? '', /tooLong is 71 lines/);
  const good = file('src/x.ts', ...typesFirst, ...longFunction('justRight', 70));
  t.deepEqual(findLongFunctions(good, 70), []);
  const body = Array.from({ length: 75 }, () => '      n++;');
  const inClass = [
    'class Runner {',
    '  private n = 0;',
    '  run(): void {',
    '    const step = (): void => {',
    ...body,
    '    };',
    '    step();',
    '  }',
    '}',
  ];
  const names = findLongFunctions(file('src/x.ts', ...inClass), 70).map((v) => v.message);
  t.deepEqual(names, [
    'function Runner.run is 80 lines long (at most 70): split it',
    'function step is 77 lines long (at most 70): split it',
  ]);
});

test('checker: findImpureUses fires on sockets, timers, the clock and randomness', (t) => {
  const bad = file(
    'src/storage/lattices/x.ts',
    "import { setTimeout as sleep } from 'node:timers/promises';",
    "import type { Socket } from 'node:net';",
    "import { readFileSync } from 'fs';",
    'const a = Date.now();',
    'const b = new Date();',
    'const c = Math.random();',
    'const d = performance.now();',
    'setTimeout(() => {}, 1);',
    'globalThis.setInterval(() => {}, 1);',
    'const e = process.hrtime.bigint();',
    'const f = globalThis.Date.now();',
    'const g = crypto.randomUUID();',
    'const h = [setImmediate];',
  );
  t.deepEqual(lineNumbers(findImpureUses(bad)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  const good = file(
    'src/storage/lattices/x.ts',
    "import { merge } from './timers.js';",
    '// Date.now() and Math.random() are passed in, never read here.',
    "const s = 'setTimeout Math.random';",
    'interface Env { setTimeout(cb: () => void, ms: number): void; now(): number }',
    'function run(env: Env, value: unknown): number {',
    '  env.setTimeout(() => {}, 5);',
    '  const o = { setTimeout: 1, Date: 2 };',
    '  if (value instanceof Date) return (value as Date).getTime() + o.setTimeout;',
    '  return Date.UTC(2020, 1) + env.now() + merge;',
    '}',
  );
  t.deepEqual(findImpureUses(good), []);
});

test('checker: findBoundaryCrossings wants the index.js of every folder entered', (t) => {
  const runtime = file(
    'src/runtime/x.ts',
    "import { decode } from '../storage/codec.js';",
    "import type { Msg } from '../actors/messages.js';",
    "import { store } from '../storage/index.js';",
    "import { ValidationError } from '../errors.js';",
    "import { y } from './y.js';",
    "import { lww } from '../storage/lattices/index.js';",
    "const m = await import('../cli/main.js');",
    "import { encode } from 'cbor-x';",
  );
  t.deepEqual(lineNumbers(findBoundaryCrossings(runtime)), [1, 2, 6, 7]);
  t.regex(findBoundaryCrossings(runtime)[0]?.message ?? '', /'\.\.\/storage\/index\.js'/);
  const storage = file(
    'src/storage/store.ts',
    "import { lww } from './lattices/lww.js';",
    "import { merge } from './lattices/index.js';",
    "import { codec } from './codec.js';",
  );
  t.deepEqual(lineNumbers(findBoundaryCrossings(storage)), [1]);
  const lattice = file('src/storage/lattices/lww.ts', "import { encode } from '../codec.js';");
  t.deepEqual(findBoundaryCrossings(lattice), []);
  const root = file(
    'src/index.ts',
    "export { startNode } from './runtime/index.js';",
    "export { HybridClock } from './storage/hlc.js';",
  );
  t.deepEqual(lineNumbers(findBoundaryCrossings(root)), [2]);
});

test('checker: findUnexplainedAny fires on any without a comment', (t) => {
  const bad = file(
    'src/x.ts',
    'let a: any;',
    'const b = a as any;',
    'const c = <any>a;',
    'const d: Array<any> = [];',
  );
  t.deepEqual(lineNumbers(findUnexplainedAny(bad)), [1, 2, 3, 4]);
  const good = file(
    'src/x.ts',
    '// cbor-x types its result loosely',
    'let a: any;',
    'const b = a as any; // the tag is checked below',
    "const s = 'any';",
    '/** Works for any node. */',
    '',
    'const o = { any: 1 };',
    'const p = o.any;',
  );
  t.deepEqual(findUnexplainedAny(good), []);
});
