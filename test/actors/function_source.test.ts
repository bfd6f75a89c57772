import { runInThisContext } from 'node:vm';
import test from 'ava';
import fc from 'fast-check';
import {
  analyzeFunctionSource,
  closureError,
  functionExpressionSource,
} from '../../src/actors/function_source.js';
import { ValidationError } from '../../src/errors.js';

/** [description, source, expected free variables (any order)] */
const cases: [string, string, string[]][] = [
  ['plain function', 'function (ctx, a, b) { return a + b; }', []],
  ['arrow closing over a constant', '(ctx, x) => x * factor', ['factor']],
  ['async function', "async function f(ctx) { return await ctx.get('k'); }", []],
  ['generator reading an outer limit', 'function* gen(ctx) { yield limit; }', ['limit']],
  [
    'class with a field and run',
    'class Counter { total = 0; run(ctx, by) { this.total += by; return this.total; } }',
    [],
  ],
  ['method shorthand calling a helper', 'run(ctx) { return helper(ctx); }', ['helper']],
  ['async method shorthand', 'async foo(ctx, x) { return x; }', []],
  ['async generator method', 'async *items(ctx) { yield* ctx.all; }', []],
  ['method named async', 'async(ctx) { return 1; }', []],
  ['method named get', 'get(ctx, key) { return ctx.get(key); }', []],
  [
    'nested destructuring parameters',
    '({ a, b: [c, ...d] }, { e = a } = {}) => a + c + d.length + e',
    [],
  ],
  ['default referencing an earlier parameter', 'function (ctx, a, b = a * 2) { return b; }', []],
  ['default cannot see the body', 'function (ctx, a = b) { var b = 1; return a; }', ['b']],
  [
    'default referencing an outer constant',
    '(ctx, limit = DEFAULT_LIMIT) => limit',
    ['DEFAULT_LIMIT'],
  ],
  [
    'hoisted nested function',
    'function (ctx) { return inner(); function inner() { return 1; } }',
    [],
  ],
  ['nested arrow', 'function (ctx) { const k = 1; return () => k + other; }', ['other']],
  [
    'let in a static block stays there',
    'class A { static { let z = 1; A.z = z; } m() { return z; } }',
    ['z'],
  ],
  ['class expression sees its own name', 'class K { static make() { return new K(); } }', []],
  [
    'superclass is read from outside',
    'class B extends Base { run() { return super.run(); } }',
    ['Base'],
  ],
  ['this and arguments in a function', 'function () { return this.x + arguments.length; }', []],
  ['arguments in a top-level arrow', '() => arguments[0]', ['arguments']],
  ['arguments in an arrow inside a function', 'function () { return () => arguments[0]; }', []],
  [
    'labels are not variables',
    'function () { outer: for (const i of [1]) { for (;;) { break outer; } continue outer; } }',
    [],
  ],
  [
    'catch parameter destructured',
    'function () { try { risky(); } catch ({ message }) { return message; } }',
    ['risky'],
  ],
  ['catch without a parameter', 'function () { try { return 1; } catch { return err; } }', ['err']],
  [
    'typeof of an undeclared name',
    "function () { return typeof window === 'undefined'; }",
    ['window'],
  ],
  [
    'object keys are not references',
    'function () { return { alpha: 1, beta, [gamma]: 2, delta() { return 3; } }; }',
    ['beta', 'gamma'],
  ],
  ['member properties', 'function (ctx) { return ctx.config.secret + Math.max(1, 2); }', []],
  ['new.target', "function F() { if (!new.target) throw new Error('use new'); }", []],
  [
    'fields reading this and the class name',
    'class C extends Object { x = this.constructor.name; static y = C.name; }',
    [],
  ],
  [
    'let does not leave its block',
    'function () { { let hidden = 1; } return hidden; }',
    ['hidden'],
  ],
  ['var leaves its block', 'function () { { var seen = 1; } return seen; }', []],
  [
    'for-let does not leave the loop',
    'function () { for (let i = 0; i < 3; i++) {} return i; }',
    ['i'],
  ],
  [
    'switch cases',
    'function (x) { switch (x) { case 1: { const y = 2; return y; } default: return fallback; } }',
    ['fallback'],
  ],
  [
    'worker globals',
    "async (ctx) => { const b = Buffer.from('x'); console.info(b); setTimeout(() => {}, 1); " +
      "const u = new URL('http://x'); return structuredClone({ u: u.href, c: crypto.randomUUID(), " +
      'p: performance.now(), f: typeof fetch, a: new AbortController(), pid: process.pid, ' +
      't: new TextEncoder().encode(JSON.stringify(globalThis.x)) }); }',
    [],
  ],
  [
    'require is provided',
    "function (ctx) { const { createHash } = require('node:crypto'); return createHash('md5'); }",
    [],
  ],
  ['assignment to an undeclared name', 'function () { counter = 1; }', ['counter']],
  [
    'destructuring assignment',
    'function () { let a; [a, leak] = [1, 2]; ({ x: other } = {}); return a; }',
    ['leak', 'other'],
  ],
  [
    'shadowing parameter',
    'function (ctx) { const data = 1; function f(data) { return data; } return f(data); }',
    [],
  ],
  [
    'private fields',
    'class P { #n = 0; inc() { return ++this.#n; } static has(o) { return #n in o; } }',
    [],
  ],
  ['tagged template', `(ctx, n) => tag\`x\${n}\${y}\``, ['tag', 'y']],
  ['computed method key', '[Symbol.iterator]() { return items[Symbol.iterator](); }', ['items']],
  ['arrow field closing over config', 'class Q { handler = () => config.value; }', ['config']],
  ['optional chaining', '(ctx) => ctx?.a?.[key]', ['key']],
  ['recursive named function', 'function fact(n) { return n <= 1 ? 1 : n * fact(n - 1); }', []],
  ['for-of destructuring', 'function (m) { for (const [k, v] of m) use(k, v); }', ['use']],
  [
    'constructor and static method',
    'class S { constructor(ctx, ...init) { this.init = init; } static of() { return build(); } }',
    ['build'],
  ],
  ['esbuild name helper is provided', 'function (){const f=__name(()=>1,"f");return f()}', []],
  [
    'class declaration inside a block',
    'function () { if (true) { class Inner {} } return new Inner(); }',
    ['Inner'],
  ],
  ['trailing line comment', '(ctx) => value // returns value', ['value']],
];

for (const [description, source, expected] of cases) {
  test(`free variables: ${description}`, (t) => {
    const info = analyzeFunctionSource(source);
    t.deepEqual([...info.freeVariables].sort(), [...expected].sort());
  });
}

test('at least 30 distinct sources are covered', (t) => {
  t.true(new Set(cases.map(([, source]) => source)).size >= 30);
});

test('kinds: classes versus everything else', (t) => {
  t.is(analyzeFunctionSource('class A {}').kind, 'class');
  t.is(analyzeFunctionSource('class extends Array {}').freeVariables.length, 0);
  t.is(analyzeFunctionSource('function () {}').kind, 'function');
  t.is(analyzeFunctionSource('async () => 1').kind, 'function');
  t.is(analyzeFunctionSource('run(ctx) {}').kind, 'function');
});

test('real toString output, including tsx-compiled nested names', (t) => {
  const limit = 3;
  const closes = (_ctx: unknown, x: number) => x < limit;
  function selfContained(_ctx: unknown, xs: number[]) {
    function double(x: number) {
      return x * 2;
    }
    const triple = (x: number) => x * 3;
    return xs.map(double).map(triple);
  }
  class Actor {
    count = 0;
    run(_ctx: unknown, by: number) {
      this.count += by;
      return this.count;
    }
  }
  t.deepEqual(analyzeFunctionSource(closes.toString()).freeVariables, ['limit']);
  t.deepEqual(analyzeFunctionSource(selfContained.toString()).freeVariables, []);
  t.deepEqual(analyzeFunctionSource(Actor.toString()).freeVariables, []);
  t.deepEqual(analyzeFunctionSource(Actor.prototype.run.toString()).freeVariables, []);
});

const rejects: [string, string, RegExp][] = [
  ['native code', Math.max.toString(), /native code/],
  ['a bound function', (() => 1).bind(null).toString(), /bound function/],
  ['an expression', '1 + 2', /does not parse as a function or class/],
  ['a statement', 'const x = 1', /does not parse as a function or class/],
  ['empty text', '  ', /empty/],
  ['broken syntax', 'function (a, { return a; }', /does not parse as a function or class/],
  ['code after the function', 'function a() {}); evil(); (1', /does not parse/],
  ['two functions', 'function a() {}, function b() {}', /does not parse/],
  ['import.meta', 'function () { return import.meta.url; }', /import\.meta/],
  ['a getter', 'get size() { return 1; }', /getter/],
  ['sloppy-only syntax', 'function () { with (Math) { return PI; } }', /does not parse/],
];

for (const [description, source, message] of rejects) {
  test(`rejects ${description}`, (t) => {
    const error = t.throws(() => analyzeFunctionSource(source), { instanceOf: ValidationError });
    t.regex(error.message, message);
    t.is(error.code, 'INVALID');
  });
}

test('closureError names the variables and says what to do', (t) => {
  const error = closureError('score', ['weights', 'bias']);
  t.true(error instanceof ValidationError);
  t.regex(error.message, /'score'/);
  t.regex(error.message, /closes over outer variables 'weights', 'bias'/);
  t.regex(error.message, /arguments/);
  t.regex(error.message, /ctx\.get/);
  t.regex(error.message, /deploy\(\)/);
  t.regex(closureError('f', ['x']).message, /outer variable 'x'/);
});

test('functionExpressionSource evaluates to the function, class or method', (t) => {
  const evaluate = (source: string) => runInThisContext(functionExpressionSource(source));
  t.is(evaluate('(a, b) => a + b // sum')(2, 3), 5);
  t.is(evaluate('function named(x) { return x * 2; }')(4), 8);
  t.is(evaluate('async foo(ctx, x) { return x; }').constructor.name, 'AsyncFunction');
  t.is(evaluate('run(ctx, x) { return x + 1; }')(null, 1), 2);
  t.is(evaluate('[Symbol.iterator]() { return 7; }')(), 7);
  const Klass = evaluate('class K { run() { return 42; } }');
  t.is(new Klass().run(), 42);
});

const seed = Number(process.env.SQUALL_SEED ?? Math.floor(Math.random() * 2 ** 31));

test('property: free variables are exactly the read names that are not declared', (t) => {
  t.log('seed', seed, '(replay with SQUALL_SEED)');
  const name = fc.constantFrom('alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta', 'eta', 'theta');
  const shape = fc.record({
    params: fc.uniqueArray(name, { maxLength: 3 }),
    locals: fc.uniqueArray(name, { maxLength: 3 }),
    reads: fc.array(name, { minLength: 1, maxLength: 5 }),
    arrow: fc.boolean(),
    nest: fc.boolean(),
  });
  fc.assert(
    fc.property(shape, ({ params, locals: wanted, reads, arrow, nest }) => {
      // A `let` may not redeclare a parameter in the same scope.
      const locals = wanted.filter((l) => !params.includes(l));
      const declared = new Set([...params, ...locals]);
      const body = `${locals.map((l) => `let ${l} = 1;`).join(' ')} return [${reads.join(', ')}];`;
      const inner = nest ? `return (() => { ${body} })();` : body;
      const source = arrow
        ? `(${params.join(', ')}) => { ${inner} }`
        : `function (${params.join(', ')}) { ${inner} }`;
      const expected = [...new Set(reads.filter((r) => !declared.has(r)))].sort();
      const actual = [...analyzeFunctionSource(source).freeVariables].sort();
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        throw new Error(`${source}: got ${actual}, expected ${expected}`);
      }
    }),
    { seed, numRuns: 300 },
  );
  t.pass();
});
