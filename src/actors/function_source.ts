/**
 * Static checks on a registered function's source text. `register` ships `fn.toString()` to
 * the nodes, where it is compiled afresh in an executor thread, so the function must not read
 * anything from the scope it was written in: a closed-over variable would be a ReferenceError
 * (or, worse, silently a global) on the node. We parse the source with acorn and list every
 * identifier it reads that is neither declared inside it nor a global of a Node 20 worker
 * thread (plus `require` and esbuild's `__name`, which the loader provides), so `register`
 * can refuse it on the client with an error that names the variables.
 *
 * Invariants: the accepted source is exactly one function, arrow, class or method shorthand
 * (nothing before or after it), parses as strict-mode code (the mode the loader compiles it
 * in, and the mode of the ES modules and classes it comes from), and never uses `import.meta`
 * or import/export declarations.
 *
 * Why our own scope walk rather than periscopic: on this version periscopic reports a class
 * expression's own name, `arguments` and the `new` of `new.target` as globals, puts `let` in
 * a class static block into the enclosing scope, and lets a default parameter see the body's
 * `var`s. Each of those is a wrong answer to exactly the question asked here.
 */
import { type AnyNode, type Node, type Options, parse } from 'acorn';
import { ValidationError } from '../errors.js';

export type FunctionKind = 'function' | 'class';

export interface FunctionSourceInfo {
  kind: FunctionKind;
  freeVariables: string[];
  /**
   * For a class: whether it can have a `run` method — one in its body (method, property
   * or accessor, not static), or any it inherits (it extends something).
   */
  canRun: boolean;
}

/** Globals of a Node 20 worker thread (ES built-ins, web APIs, Node's own). */
const WORKER_GLOBALS: ReadonlySet<string> = new Set([
  ...['AbortController', 'AbortSignal', 'AggregateError', 'Array', 'ArrayBuffer', 'Atomics'],
  ...['BigInt', 'BigInt64Array', 'BigUint64Array', 'Blob', 'Boolean', 'BroadcastChannel'],
  ...['Buffer', 'ByteLengthQueuingStrategy', 'CompressionStream', 'CountQueuingStrategy'],
  ...['Crypto', 'CryptoKey', 'CustomEvent', 'DOMException', 'DataView', 'Date'],
  ...['DecompressionStream', 'Error', 'EvalError', 'Event', 'EventTarget', 'File'],
  ...['FinalizationRegistry', 'Float32Array', 'Float64Array', 'FormData', 'Function'],
  ...['Headers', 'Infinity', 'Int16Array', 'Int32Array', 'Int8Array', 'Intl', 'JSON', 'Map'],
  ...['Math', 'MessageChannel', 'MessageEvent', 'MessagePort', 'NaN', 'Number', 'Object'],
  ...['Performance', 'PerformanceEntry', 'PerformanceMark', 'PerformanceMeasure'],
  ...['PerformanceObserver', 'PerformanceObserverEntryList', 'PerformanceResourceTiming'],
  ...['Promise', 'Proxy', 'RangeError', 'ReadableByteStreamController', 'ReadableStream'],
  ...['ReadableStreamBYOBReader', 'ReadableStreamBYOBRequest', 'ReadableStreamDefaultController'],
  ...['ReadableStreamDefaultReader', 'ReferenceError', 'Reflect', 'RegExp', 'Request'],
  ...['Response', 'Set', 'SharedArrayBuffer', 'String', 'SubtleCrypto', 'Symbol', 'SyntaxError'],
  ...['TextDecoder', 'TextDecoderStream', 'TextEncoder', 'TextEncoderStream', 'TransformStream'],
  ...['TransformStreamDefaultController', 'TypeError', 'URIError', 'URL', 'URLSearchParams'],
  ...['Uint16Array', 'Uint32Array', 'Uint8Array', 'Uint8ClampedArray', 'WeakMap', 'WeakRef'],
  ...['WeakSet', 'WebAssembly', 'WritableStream', 'WritableStreamDefaultController'],
  ...['WritableStreamDefaultWriter', 'atob', 'btoa', 'clearImmediate', 'clearInterval'],
  ...['clearTimeout', 'console', 'crypto', 'decodeURI', 'decodeURIComponent', 'encodeURI'],
  ...['encodeURIComponent', 'escape', 'eval', 'fetch', 'global', 'globalThis', 'isFinite'],
  ...['isNaN', 'parseFloat', 'parseInt', 'performance', 'process', 'queueMicrotask'],
  ...['setImmediate', 'setInterval', 'setTimeout', 'structuredClone', 'undefined', 'unescape'],
]);

/**
 * Names the loader binds for every compiled function: `require` for packages, and `__name`,
 * which esbuild (and so tsx) inserts into `toString()` output to keep function names.
 */
const LOADER_GLOBALS: ReadonlySet<string> = new Set(['require', '__name']);

const PARSE_OPTIONS: Options = { ecmaVersion: 'latest', sourceType: 'module', locations: true };

type Shape = 'expression' | 'method';

interface ParsedSource {
  shape: Shape;
  kind: FunctionKind;
  /** The node to analyse: the function or class, or for a method the wrapping object. */
  root: AnyNode;
}

export function analyzeFunctionSource(source: string): FunctionSourceInfo {
  const parsed = parseFunctionSource(source);
  const freeVariables = findFreeVariables(parsed.root);
  return { kind: parsed.kind, freeVariables, canRun: classCanRun(parsed.root) };
}

function classCanRun(root: AnyNode): boolean {
  if (root.type !== 'ClassExpression') return true;
  if (root.superClass !== null && root.superClass !== undefined) return true;
  return root.body.body.some(
    (member) =>
      (member.type === 'MethodDefinition' || member.type === 'PropertyDefinition') &&
      !member.static &&
      (member.computed
        ? member.key.type === 'Literal' && member.key.value === 'run'
        : (member.key.type === 'Identifier' && member.key.name === 'run') ||
          (member.key.type === 'Literal' && member.key.value === 'run')),
  );
}

export function closureError(name: string, freeVariables: string[]): ValidationError {
  const plural = freeVariables.length === 1 ? 'variable' : 'variables';
  const names = freeVariables.map((v) => `'${v}'`).join(', ');
  return new ValidationError(
    `function '${name}' closes over outer ${plural} ${names}. Functions are shipped to the ` +
      'nodes as source text and compiled there, so they cannot see variables from the scope ' +
      'they were written in. Pass values as arguments, read shared state with ctx.get, load ' +
      "packages inside the function with require('name'), or put the function and the " +
      'helpers it shares in a module and register it with deploy().',
  );
}

export function functionExpressionSource(source: string): string {
  const parsed = parseFunctionSource(source);
  // The newline keeps a trailing line comment in the source from swallowing the closer.
  if (parsed.shape === 'expression') return `(${source}\n)`;
  // The object literal is evaluated outside the arrow, so `o` shadows nothing in the source.
  return `((o) => o[Reflect.ownKeys(o)[0]])({${source}\n})`;
}

function parseFunctionSource(source: string): ParsedSource {
  if (typeof source !== 'string' || source.trim() === '') {
    throw new ValidationError('function source is empty: expected the text of a function');
  }
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) throw nativeCodeError(source);
  let firstError: unknown;
  try {
    const expression = parseAlone(`(${source}\n)`);
    if (isFunctionNode(expression)) {
      const kind = expression.type === 'ClassExpression' ? 'class' : 'function';
      return { shape: 'expression', kind, root: expression };
    }
  } catch (error) {
    firstError = error;
  }
  const method = parseMethod(source);
  if (method !== undefined) return method;
  const detail = firstError instanceof SyntaxError ? `: ${firstError.message}` : '';
  throw new ValidationError(
    `source does not parse as a function or class${detail}. Register a function, an arrow ` +
      'function, a class or a method; use deploy() for a whole module.',
  );
}

function nativeCodeError(source: string): ValidationError {
  const bound = /^function\s*\(\s*\)/.test(source.trim());
  const what = bound ? 'a bound function' : 'native code';
  return new ValidationError(
    `cannot register ${what}: its toString() is "[native code]", and squall ships functions ` +
      'as source text. Register the original function (not fn.bind(...)) and pass bound ' +
      'values as arguments instead.',
  );
}

/** Parses a wrapped source and returns its expression if it is the whole program. */
function parseAlone(wrapped: string): AnyNode | undefined {
  const program = parse(wrapped, PARSE_OPTIONS);
  const [statement, ...rest] = program.body;
  if (statement === undefined || rest.length > 0) return undefined;
  if (statement.type !== 'ExpressionStatement') return undefined;
  return statement.expression;
}

/** Method shorthand (`run(ctx) {…}`, `async *gen() {…}`) parses as an object literal member. */
function parseMethod(source: string): ParsedSource | undefined {
  let object: AnyNode | undefined;
  try {
    object = parseAlone(`({${source}\n})`);
  } catch {
    return undefined;
  }
  if (object?.type !== 'ObjectExpression' || object.properties.length !== 1) return undefined;
  const property = object.properties[0];
  if (property?.type !== 'Property') return undefined;
  if (property.kind !== 'init') {
    throw new ValidationError(
      `cannot register a ${property.kind}ter: register a function, class or method instead`,
    );
  }
  if (!property.method) return undefined;
  return { shape: 'method', kind: 'function', root: object };
}

function isFunctionNode(node: AnyNode | undefined): node is AnyNode {
  const type = node?.type;
  return (
    type === 'FunctionExpression' ||
    type === 'ArrowFunctionExpression' ||
    type === 'ClassExpression'
  );
}

// ---------------------------------------------------------------------------------------------
// Scope analysis

interface Scope {
  readonly parent: Scope | undefined;
  readonly names: Set<string>;
  /** Receives `var` declarations (function bodies, static blocks, field initialisers). */
  readonly varScope: boolean;
  /** A non-arrow function: binds its own `arguments`. */
  readonly ownArguments: boolean;
}

interface Reference {
  name: string;
  scope: Scope;
}

function newScope(parent: Scope | undefined, varScope = false, ownArguments = false): Scope {
  return { parent, names: new Set(), varScope, ownArguments };
}

function findFreeVariables(root: AnyNode): string[] {
  const walker = new ScopeWalker();
  walker.visit(root, newScope(undefined, true));
  const free = new Set<string>();
  for (const ref of walker.references) {
    if (!isBound(ref) && !WORKER_GLOBALS.has(ref.name) && !LOADER_GLOBALS.has(ref.name)) {
      free.add(ref.name);
    }
  }
  return [...free];
}

function isBound(ref: Reference): boolean {
  for (let scope: Scope | undefined = ref.scope; scope; scope = scope.parent) {
    if (scope.names.has(ref.name)) return true;
    if (ref.name === 'arguments' && scope.ownArguments) return true;
  }
  return false;
}

function nearestVarScope(scope: Scope): Scope {
  let current = scope;
  while (!current.varScope && current.parent !== undefined) current = current.parent;
  return current;
}

/** Child nodes of any node, in source order (every own property that holds nodes). */
function childNodes(node: AnyNode): AnyNode[] {
  const children: AnyNode[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'loc' || key === 'range') continue;
    if (Array.isArray(value)) {
      for (const item of value) if (isNode(item)) children.push(item);
    } else if (isNode(value)) {
      children.push(value);
    }
  }
  return children;
}

function isNode(value: unknown): value is AnyNode {
  return typeof value === 'object' && value !== null && typeof (value as Node).type === 'string';
}

/**
 * Collects declarations into scopes and references with the scope they occur in. References
 * are resolved only after the whole walk, so hoisted and later declarations count.
 */
class ScopeWalker {
  readonly references: Reference[] = [];

  visit(node: AnyNode, scope: Scope): void {
    switch (node.type) {
      case 'Identifier':
        this.references.push({ name: node.name, scope });
        return;
      case 'FunctionDeclaration':
        if (node.id) scope.names.add(node.id.name);
        this.visitFunction(node, scope);
        return;
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        this.visitFunction(node, scope);
        return;
      case 'ClassDeclaration':
        if (node.id) scope.names.add(node.id.name);
        this.visitClass(node, scope);
        return;
      case 'ClassExpression':
        this.visitClass(node, scope);
        return;
      case 'VariableDeclaration': {
        const target = node.kind === 'var' ? nearestVarScope(scope) : scope;
        for (const declarator of node.declarations) {
          this.declarePattern(declarator.id, target, scope);
          if (declarator.init) this.visit(declarator.init, scope);
        }
        return;
      }
      default:
        this.visitOther(node, scope);
    }
  }

  private visitOther(node: AnyNode, scope: Scope): void {
    switch (node.type) {
      case 'BlockStatement':
      case 'ForStatement':
      case 'ForInStatement':
      case 'ForOfStatement':
        this.visitChildren(node, newScope(scope));
        return;
      case 'SwitchStatement': {
        this.visit(node.discriminant, scope);
        const inner = newScope(scope);
        for (const branch of node.cases) this.visitChildren(branch, inner);
        return;
      }
      case 'CatchClause': {
        const inner = newScope(scope);
        if (node.param) this.declarePattern(node.param, inner, inner);
        this.visit(node.body, inner);
        return;
      }
      case 'MemberExpression':
        this.visit(node.object, scope);
        if (node.computed) this.visit(node.property, scope);
        return;
      case 'Property':
        if (node.computed) this.visit(node.key, scope);
        this.visit(node.value, scope);
        return;
      case 'LabeledStatement':
        this.visit(node.body, scope);
        return;
      case 'BreakStatement':
      case 'ContinueStatement':
        return;
      case 'MetaProperty':
        if (node.meta.name === 'import') throw importError('import.meta');
        return;
      case 'ImportDeclaration':
      case 'ExportNamedDeclaration':
      case 'ExportDefaultDeclaration':
      case 'ExportAllDeclaration':
        throw importError('an import or export declaration');
      default:
        this.visitChildren(node, scope);
    }
  }

  private visitChildren(node: AnyNode, scope: Scope): void {
    for (const child of childNodes(node)) this.visit(child, scope);
  }

  /**
   * Parameters get their own scope: a default value sees earlier parameters and the outer
   * scope, but not the body's declarations (the spec's separate parameter environment).
   */
  private visitFunction(
    node: Extract<
      AnyNode,
      { type: 'FunctionDeclaration' | 'FunctionExpression' | 'ArrowFunctionExpression' }
    >,
    scope: Scope,
  ): void {
    const isArrow = node.type === 'ArrowFunctionExpression';
    const params = newScope(scope, false, !isArrow);
    if (node.type === 'FunctionExpression' && node.id) params.names.add(node.id.name);
    for (const param of node.params) this.declarePattern(param, params, params);
    const body = newScope(params, true);
    if (node.body.type === 'BlockStatement') {
      for (const statement of node.body.body) this.visit(statement, body);
    } else {
      this.visit(node.body, body);
    }
  }

  private visitClass(
    node: Extract<AnyNode, { type: 'ClassDeclaration' | 'ClassExpression' }>,
    scope: Scope,
  ): void {
    const inner = newScope(scope);
    if (node.id) inner.names.add(node.id.name);
    if (node.superClass) this.visit(node.superClass, inner);
    for (const member of node.body.body) {
      if (member.type === 'StaticBlock') {
        const block = newScope(inner, true);
        for (const statement of member.body) this.visit(statement, block);
        continue;
      }
      if (member.computed) this.visit(member.key, inner);
      if (member.type === 'MethodDefinition') {
        this.visitFunction(member.value, inner);
      } else if (member.value) {
        this.visit(member.value, newScope(inner, true));
      }
    }
  }

  /** Declares a binding pattern's names in `target`; defaults and computed keys are reads. */
  private declarePattern(pattern: AnyNode, target: Scope, scope: Scope): void {
    switch (pattern.type) {
      case 'Identifier':
        target.names.add(pattern.name);
        return;
      case 'ObjectPattern':
        for (const property of pattern.properties) {
          if (property.type === 'RestElement') {
            this.declarePattern(property.argument, target, scope);
          } else {
            if (property.computed) this.visit(property.key, scope);
            this.declarePattern(property.value, target, scope);
          }
        }
        return;
      case 'ArrayPattern':
        for (const element of pattern.elements) {
          if (element) this.declarePattern(element, target, scope);
        }
        return;
      case 'RestElement':
        this.declarePattern(pattern.argument, target, scope);
        return;
      case 'AssignmentPattern':
        this.declarePattern(pattern.left, target, scope);
        this.visit(pattern.right, scope);
        return;
      default:
        // A member expression (only valid in for-in/of heads): it reads its object.
        this.visit(pattern, scope);
    }
  }
}

function importError(what: string): ValidationError {
  return new ValidationError(
    `the function uses ${what}, which a function shipped as source text cannot use: load ` +
      "packages with require('name') inside the function, or register the module with deploy()",
  );
}
