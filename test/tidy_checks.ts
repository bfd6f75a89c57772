/**
 * The checkers behind test/tidy.test.ts, kept apart so that the test can run them on small
 * strings and prove that each one fires. Every checker takes a source file (its path from
 * the repository root, posix-style, and its text) and returns its violations with the
 * original file's line numbers.
 *
 * TypeScript 7 is the native compiler and has no JavaScript API, and acorn cannot parse
 * TypeScript, so the syntax-aware checks strip the types with esbuild first, parse the
 * JavaScript with acorn, and map positions back through esbuild's source map. The checks
 * that must see types or type-only imports (imports, `any`) work on the original text with
 * comments and string contents blanked out by a small comment- and string-aware scanner
 * (`maskSource`), which keeps every offset and line where it was.
 */
import { posix } from 'node:path';
import type { SourceLocation } from 'acorn';
import { parse } from 'acorn';
import { transformSync } from 'esbuild';

export interface SourceFile {
  /** From the repository root, posix separators: `src/storage/hlc.ts`. */
  readonly path: string;
  readonly text: string;
}

export interface Violation {
  readonly path: string;
  readonly line: number;
  readonly message: string;
}

/** One line per violation, `path:line: message`, for a failing test's message. */
export function formatViolations(violations: readonly Violation[]): string {
  return violations.map((v) => `${v.path}:${v.line}: ${v.message}`).join('\n');
}

// ---------------------------------------------------------------------------------------
// Lines and masking

/** Maps offsets to 1-based line numbers. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text[i] === '\n') this.starts.push(i + 1);
  }

  lineOf(offset: number): number {
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) low = mid;
      else high = mid - 1;
    }
    return low + 1;
  }
}

export interface Masked {
  /** The text with comments, string and template contents and regex bodies blanked. */
  readonly code: string;
  /** Lines on which some comment text stands. */
  readonly commentLines: ReadonlySet<number>;
}

/** Words after which a `/` starts a regular expression rather than a division. */
const WORDS_BEFORE_EXPRESSION = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'instanceof',
  'yield',
  'await',
]);

/**
 * Blanks comments, the contents of string and template literals (quotes, backticks and
 * `${...}` code stay) and regex bodies with spaces, keeping newlines, so that offsets and
 * lines of the result match the original. Regex versus division is decided by the previous
 * token, which is right for all code biome formats.
 */
export function maskSource(text: string): Masked {
  return new Masker(text).run();
}

class Masker {
  private readonly out: string[];
  private readonly lines: LineIndex;
  private readonly commentLines = new Set<number>();
  /** Open `{` of code and `${` of templates, innermost last. */
  private readonly stack: ('brace' | 'template')[] = [];
  private regexAllowed = true;
  private i = 0;

  constructor(private readonly text: string) {
    this.out = text.split('');
    this.lines = new LineIndex(text);
  }

  run(): Masked {
    const { text } = this;
    if (text.startsWith('#!')) this.comment(0, this.lineEnd(0));
    while (this.i < text.length) this.step();
    return { code: this.out.join(''), commentLines: this.commentLines };
  }

  private step(): void {
    const { text, i } = this;
    const c = text[i] ?? '';
    const next = text[i + 1] ?? '';
    if (/\s/.test(c)) this.i++;
    else if (c === '/' && next === '/') this.comment(i, this.lineEnd(i));
    else if (c === '/' && next === '*') {
      const close = text.indexOf('*/', i + 2);
      this.comment(i, close < 0 ? text.length : close + 2);
    } else if (c === "'" || c === '"') this.string(c);
    else if (c === '`') this.template(i + 1);
    else if (c === '/' && this.regexAllowed) this.regex();
    else if (c === '{') this.open();
    else if (c === '}') this.close();
    else if (/[\w$]/.test(c) || c > '\u007f') this.word();
    else {
      this.regexAllowed = c !== ')' && c !== ']';
      this.i++;
    }
  }

  private lineEnd(from: number): number {
    const end = this.text.indexOf('\n', from);
    return end < 0 ? this.text.length : end;
  }

  private blank(from: number, to: number): void {
    for (let k = from; k < to; k++) {
      if (this.out[k] !== '\n' && this.out[k] !== '\r') this.out[k] = ' ';
    }
  }

  private comment(from: number, to: number): void {
    const last = this.lines.lineOf(Math.max(from, to - 1));
    for (let line = this.lines.lineOf(from); line <= last; line++) this.commentLines.add(line);
    this.blank(from, to);
    this.i = to;
  }

  private string(quote: string): void {
    const { text } = this;
    let j = this.i + 1;
    while (j < text.length && text[j] !== quote && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
    this.blank(this.i + 1, Math.min(j, text.length));
    this.i = j + 1;
    this.regexAllowed = false;
  }

  /** Scans template text from `from` up to its closing backtick or its next `${`. */
  private template(from: number): void {
    const { text } = this;
    let j = from;
    while (j < text.length) {
      const c = text[j];
      if (c === '\\') j += 2;
      else if (c === '`') break;
      else if (c === '$' && text[j + 1] === '{') {
        this.blank(from, j);
        this.stack.push('template');
        this.i = j + 2;
        this.regexAllowed = true;
        return;
      } else j++;
    }
    this.blank(from, Math.min(j, text.length));
    this.i = j + 1;
    this.regexAllowed = false;
  }

  private regex(): void {
    const { text } = this;
    let j = this.i + 1;
    let inClass = false;
    for (; j < text.length; j++) {
      const c = text[j];
      if (c === '\\') j++;
      else if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      else if ((c === '/' && !inClass) || c === '\n') break;
    }
    if (text[j] !== '/') {
      // Not a regex after all (a division on a line of its own): treat it as punctuation.
      this.i++;
      return;
    }
    this.blank(this.i + 1, j);
    j++;
    while (j < text.length && /[a-z]/.test(text[j] ?? '')) j++;
    this.i = j;
    this.regexAllowed = false;
  }

  private open(): void {
    this.stack.push('brace');
    this.regexAllowed = true;
    this.i++;
  }

  private close(): void {
    if (this.stack.pop() === 'template') this.template(this.i + 1);
    else {
      this.regexAllowed = true;
      this.i++;
    }
  }

  private word(): void {
    const { text } = this;
    let j = this.i;
    while (j < text.length && (/[\w$]/.test(text[j] ?? '') || (text[j] ?? '') > '\u007f')) j++;
    this.regexAllowed = WORDS_BEFORE_EXPRESSION.has(text.slice(this.i, j));
    this.i = j;
  }
}

// ---------------------------------------------------------------------------------------
// Imports

export interface ImportRef {
  readonly specifier: string;
  readonly line: number;
}

/** Where a module specifier's opening quote follows: `from`, `import`, `import(`, `require(`. */
const SPECIFIER_BEFORE = [
  /(?<![\w$.])from\s*(['"])/g,
  /(?<![\w$.])import\s*(['"])/g,
  /(?<![\w$.])import\s*\(\s*(['"])/g,
  /(?<![\w$.])require\s*\(\s*(['"])/g,
];

/**
 * Every module specifier the file names: static imports (type-only ones too, which esbuild
 * would drop), re-exports, side-effect imports, dynamic `import()` and `require()`.
 */
export function findImports(text: string, masked: Masked = maskSource(text)): ImportRef[] {
  const lines = new LineIndex(text);
  const found: { offset: number; specifier: string }[] = [];
  for (const pattern of SPECIFIER_BEFORE) {
    for (const match of masked.code.matchAll(pattern)) {
      const quote = match[1] ?? "'";
      const open = (match.index ?? 0) + match[0].length - 1;
      const close = masked.code.indexOf(quote, open + 1);
      if (close < 0) continue;
      found.push({ offset: open, specifier: text.slice(open + 1, close) });
    }
  }
  found.sort((a, b) => a.offset - b.offset);
  return found.map((f) => ({ specifier: f.specifier, line: lines.lineOf(f.offset) }));
}

// ---------------------------------------------------------------------------------------
// Rule 1: debugging leftovers

const LEFTOVERS_IN_CODE: readonly [RegExp, string][] = [
  [/(?<![\w$.])console\s*\.\s*(log|debug)\b/g, 'console.$1 left in'],
  [/(?<![\w$.])debugger\b/g, 'debugger statement left in'],
];

/** `console.log`, `console.debug`, `debugger` in code; TODO, FIXME, XXX anywhere. */
export function findLeftovers(file: SourceFile): Violation[] {
  const lines = new LineIndex(file.text);
  const { code } = maskSource(file.text);
  const violations: Violation[] = [];
  for (const [pattern, message] of LEFTOVERS_IN_CODE) {
    for (const match of code.matchAll(pattern)) {
      const text = message.replace('$1', match[1] ?? '');
      violations.push({ path: file.path, line: lines.lineOf(match.index ?? 0), message: text });
    }
  }
  for (const match of file.text.matchAll(/\b(TODO|FIXME|XXX)\b/g)) {
    const line = lines.lineOf(match.index ?? 0);
    violations.push({ path: file.path, line, message: `${match[1]} left in` });
  }
  return violations.sort((a, b) => a.line - b.line);
}

// ---------------------------------------------------------------------------------------
// Rule 2: the opening comment

/**
 * True when the prose holds a sentence: at least three words (runs of non-space holding a
 * letter) ending in `.`, `!` or `?` followed by a space or the end.
 */
export function hasSentence(prose: string): boolean {
  const parts = prose.split(/[.!?](?=\s|$)/);
  parts.pop(); // the text after the last terminator is not a finished sentence
  return parts.some((part) => part.split(/\s+/).filter((w) => /[A-Za-z]/.test(w)).length >= 3);
}

/** The file must open (after a shebang and blank lines) with a comment holding a sentence. */
export function checkHeader(file: SourceFile): Violation[] {
  const shebangEnd = file.text.indexOf('\n');
  const from = !file.text.startsWith('#!') ? 0 : shebangEnd < 0 ? file.text.length : shebangEnd;
  const rest = file.text.slice(from);
  const leading = rest.length - rest.trimStart().length;
  const start = from + leading;
  const body = rest.slice(leading);
  const line = new LineIndex(file.text).lineOf(start);
  let prose: string | undefined;
  if (body.startsWith('/*')) {
    const close = body.indexOf('*/');
    prose = body.slice(2, close < 0 ? body.length : close).replace(/^\s*\*+/gm, ' ');
  } else if (body.startsWith('//')) {
    const lines = body.split('\n');
    const commentLines = [];
    for (const l of lines) {
      if (!/^\s*\/\//.test(l)) break;
      commentLines.push(l.replace(/^\s*\/\/+/, ''));
    }
    prose = commentLines.join('\n');
  }
  if (prose === undefined) {
    const message = 'does not open with a comment saying what the module is for';
    return [{ path: file.path, line, message }];
  }
  if (!hasSentence(prose)) {
    const message = 'opening comment holds no sentence (what it is for, invariants, why)';
    return [{ path: file.path, line, message }];
  }
  return [];
}

// ---------------------------------------------------------------------------------------
// Types stripped, parsed, mapped back

/** An acorn node seen loosely: the walk only needs its type, location and children. */
interface LooseNode {
  readonly type: string;
  readonly loc?: SourceLocation | null;
  readonly [key: string]: unknown;
}

function isNode(value: unknown): value is LooseNode {
  return (
    typeof value === 'object' && value !== null && typeof (value as LooseNode).type === 'string'
  );
}

/** The file as JavaScript: its syntax tree and a map from its positions to original lines. */
export interface Stripped {
  readonly program: LooseNode;
  /** Original 1-based line of a generated position (1-based line, 0-based column). */
  originalLine(line: number, column: number): number;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function decodeVlq(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = BASE64.indexOf(ch);
    if (digit < 0) throw new Error(`bad source map digit ${ch}`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    values.push(value & 1 ? -(value >>> 1) : value >>> 1);
    value = 0;
    shift = 0;
  }
  return values;
}

/** Per generated line (0-based), its segments as [generated column, original 0-based line]. */
function decodeMappings(mappings: string): [number, number][][] {
  let originalLine = 0;
  return mappings.split(';').map((lineText) => {
    const segments: [number, number][] = [];
    let column = 0;
    for (const segment of lineText === '' ? [] : lineText.split(',')) {
      const values = decodeVlq(segment);
      column += values[0] ?? 0;
      if (values.length < 4) continue;
      originalLine += values[2] ?? 0;
      segments.push([column, originalLine]);
    }
    return segments;
  });
}

/** Strips the types with esbuild and parses the output with acorn. */
export function stripTypes(file: SourceFile): Stripped {
  const result = transformSync(file.text, {
    loader: 'ts',
    sourcemap: 'external',
    sourcefile: file.path,
    sourcesContent: false,
  });
  const program = parse(result.code, {
    ecmaVersion: 'latest',
    sourceType: 'module',
    locations: true,
  }) as unknown as LooseNode;
  const lines = decodeMappings((JSON.parse(result.map) as { mappings: string }).mappings);
  const originalLine = (line: number, column: number): number => {
    for (let l = line - 1; l >= 0; l--) {
      const segments = lines[l] ?? [];
      for (let s = segments.length - 1; s >= 0; s--) {
        const [genColumn, orig] = segments[s] ?? [0, 0];
        if (l < line - 1 || genColumn <= column) return orig + 1;
      }
    }
    return line;
  };
  return { program, originalLine };
}

/** Visits every node with its ancestors (outermost first). */
function walk(
  node: LooseNode,
  visit: (node: LooseNode, ancestors: readonly LooseNode[]) => void,
  ancestors: LooseNode[] = [],
): void {
  visit(node, ancestors);
  ancestors.push(node);
  for (const [key, value] of Object.entries(node)) {
    if (key === 'loc') continue;
    if (Array.isArray(value)) {
      for (const item of value) if (isNode(item)) walk(item, visit, ancestors);
    } else if (isNode(value)) walk(value, visit, ancestors);
  }
  ancestors.pop();
}

function startOf(stripped: Stripped, node: LooseNode): number {
  const loc = node.loc;
  return loc ? stripped.originalLine(loc.start.line, loc.start.column) : 0;
}

/** The original line of a node's last character. */
function endOf(stripped: Stripped, node: LooseNode): number {
  const loc = node.loc;
  return loc ? stripped.originalLine(loc.end.line, Math.max(0, loc.end.column - 1)) : 0;
}

// ---------------------------------------------------------------------------------------
// Rule 3: long functions

const FUNCTION_TYPES = new Set([
  'FunctionDeclaration',
  'FunctionExpression',
  'ArrowFunctionExpression',
]);

function keyName(key: unknown, computed: unknown): string {
  if (computed === true || !isNode(key)) return '[computed]';
  if (key.type === 'Identifier') return String(key.name);
  if (key.type === 'PrivateIdentifier') return `#${String(key.name)}`;
  if (key.type === 'Literal') return String(key.value);
  return '[computed]';
}

function expressionName(node: unknown): string {
  if (!isNode(node)) return '?';
  if (node.type === 'Identifier' || node.type === 'PrivateIdentifier') return String(node.name);
  if (node.type === 'ThisExpression') return 'this';
  if (node.type === 'MemberExpression') {
    return `${expressionName(node.object)}.${keyName(node.property, node.computed)}`;
  }
  return '?';
}

/** A readable name for a function node from the node and its parents. */
export function functionName(node: LooseNode, ancestors: readonly LooseNode[]): string {
  if (isNode(node.id)) return String(node.id.name);
  const parent = ancestors.at(-1);
  if (!parent) return '<anonymous>';
  if (parent.type === 'MethodDefinition' || parent.type === 'PropertyDefinition') {
    const owner = ancestors.at(-3);
    const className = owner && isNode(owner.id) ? `${String(owner.id.name)}.` : '';
    const prefix = parent.kind === 'get' || parent.kind === 'set' ? `${String(parent.kind)} ` : '';
    return `${prefix}${className}${keyName(parent.key, parent.computed)}`;
  }
  if (parent.type === 'Property') return keyName(parent.key, parent.computed);
  if (parent.type === 'VariableDeclarator') return expressionName(parent.id);
  if (parent.type === 'AssignmentExpression') return expressionName(parent.left);
  if (parent.type === 'CallExpression' || parent.type === 'NewExpression') {
    return `<callback to ${expressionName(parent.callee)}()>`;
  }
  return '<anonymous>';
}

/**
 * Functions, methods and arrow functions whose body spans more than `maxLines` lines of
 * the original file, counted from the line of the body's `{` to the line of its `}`.
 */
export function findLongFunctions(file: SourceFile, maxLines: number): Violation[] {
  const stripped = stripTypes(file);
  const violations: Violation[] = [];
  walk(stripped.program, (node, ancestors) => {
    if (!FUNCTION_TYPES.has(node.type) || !isNode(node.body)) return;
    const lines = endOf(stripped, node.body) - startOf(stripped, node.body) + 1;
    if (lines <= maxLines) return;
    const name = functionName(node, ancestors);
    const line = startOf(stripped, node);
    const message = `function ${name} is ${lines} lines long (at most ${maxLines}): split it`;
    violations.push({ path: file.path, line, message });
  });
  return violations;
}

// ---------------------------------------------------------------------------------------
// Rule 4: pure protocol cores

/** Node modules a protocol core must not import: sockets, timers, disk, threads, clocks. */
export const IMPURE_MODULES = [
  'net',
  'dgram',
  'http',
  'https',
  'http2',
  'tls',
  'timers',
  'fs',
  'worker_threads',
  'child_process',
  'cluster',
  'perf_hooks',
];

function isImpureModule(specifier: string): boolean {
  const bare = specifier.startsWith('node:') ? specifier.slice(5) : specifier;
  const root = bare.split('/')[0] ?? bare;
  return IMPURE_MODULES.includes(root) || root === 'nanoid';
}

/** Members of globals a core must not touch: the clock and randomness. */
const IMPURE_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  Date: ['now'],
  Math: ['random'],
  performance: ['now'],
  process: ['hrtime'],
  crypto: ['randomUUID', 'getRandomValues', 'randomBytes', 'randomInt'],
};
const IMPURE_FUNCTIONS = new Set(['setTimeout', 'setInterval', 'setImmediate']);
const GLOBAL_OBJECTS = new Set(['globalThis', 'global', 'window', 'self']);

/** The name of an identifier, or of `globalThis.NAME`; undefined for anything else. */
function globalName(node: unknown): string | undefined {
  if (!isNode(node)) return undefined;
  if (node.type === 'Identifier') return String(node.name);
  const { object, property } = node;
  if (node.type !== 'MemberExpression' || node.computed === true) return undefined;
  if (!isNode(object) || object.type !== 'Identifier' || !GLOBAL_OBJECTS.has(String(object.name))) {
    return undefined;
  }
  return isNode(property) ? String(property.name) : undefined;
}

/** Whether an Identifier node is a variable reference (not a property name or key). */
function isReference(node: LooseNode, parent: LooseNode | undefined): boolean {
  if (!parent) return true;
  if (parent.type === 'MemberExpression') return parent.computed === true || parent.object === node;
  if (parent.type === 'Property') return parent.value === node || parent.computed === true;
  if (parent.type === 'MethodDefinition' || parent.type === 'PropertyDefinition') {
    return parent.value === node || parent.computed === true;
  }
  return true;
}

/** What an impure use is called in a message, or undefined when the node is pure. */
function impureUse(node: LooseNode, parent: LooseNode | undefined): string | undefined {
  if (node.type === 'MemberExpression' && node.computed !== true && isNode(node.property)) {
    const object = globalName(node.object);
    const member = String(node.property.name);
    if (object !== undefined && IMPURE_MEMBERS[object]?.includes(member)) {
      return `${object}.${member}`;
    }
    if (object !== undefined && GLOBAL_OBJECTS.has(object) && IMPURE_FUNCTIONS.has(member)) {
      return member;
    }
  }
  if (node.type === 'NewExpression' && globalName(node.callee) === 'Date') return 'new Date';
  if (node.type === 'CallExpression' && globalName(node.callee) === 'Date') return 'Date()';
  if (node.type === 'Identifier' && IMPURE_FUNCTIONS.has(String(node.name))) {
    return isReference(node, parent) ? String(node.name) : undefined;
  }
  return undefined;
}

/**
 * A protocol core's impurities: imports of sockets, timers, disk or threads (type-only ones
 * too), and uses of the real clock, randomness or timers in its code (comments and types do
 * not count).
 */
export function findImpureUses(file: SourceFile): Violation[] {
  const violations: Violation[] = [];
  for (const { specifier, line } of findImports(file.text)) {
    if (!isImpureModule(specifier)) continue;
    const message = `protocol core imports '${specifier}': take it as a parameter instead`;
    violations.push({ path: file.path, line, message });
  }
  const stripped = stripTypes(file);
  walk(stripped.program, (node, ancestors) => {
    const use = impureUse(node, ancestors.at(-1));
    if (use === undefined) return;
    const message = `protocol core uses ${use}: pass the clock, random source or timers in`;
    violations.push({ path: file.path, line: startOf(stripped, node), message });
  });
  return violations.sort((a, b) => a.line - b.line);
}

// ---------------------------------------------------------------------------------------
// Rule 5: folder boundaries

/**
 * Imports that reach into a folder of `src/` from outside it other than through the
 * folder's `index.js`. For an import from A to B, the folder that matters is the outermost
 * one holding B but not A: `src/runtime/x.ts` importing `../storage/codec.js` must use
 * `../storage/index.js`, and `src/storage/store.ts` importing `./lattices/lww.js` must use
 * `./lattices/index.js`. Files directly in `src/` are open to everyone, and a file may
 * import from its own folder and the folders above it.
 */
export function findBoundaryCrossings(file: SourceFile): Violation[] {
  const violations: Violation[] = [];
  const fromDir = posix.dirname(file.path).split('/');
  for (const { specifier, line } of findImports(file.text)) {
    if (!specifier.startsWith('.')) continue;
    const target = posix.normalize(posix.join(posix.dirname(file.path), specifier));
    if (!target.startsWith('src/')) continue;
    const parts = target.split('/');
    let shared = 0;
    while (shared < fromDir.length && parts[shared] === fromDir[shared]) shared++;
    // parts[0..shared) is the deepest folder holding both; parts[shared] is the folder
    // entered (when more parts follow) or the target file itself.
    if (shared >= parts.length - 1) continue;
    const folder = parts.slice(0, shared + 1).join('/');
    if (target === `${folder}/index.js` || target === `${folder}/index.ts`) continue;
    const index = posix.relative(posix.dirname(file.path), `${folder}/index.js`);
    const suggestion = index.startsWith('.') ? index : `./${index}`;
    const message = `'${specifier}' reaches into ${folder}/: import it from '${suggestion}'`;
    violations.push({ path: file.path, line, message });
  }
  return violations;
}

// ---------------------------------------------------------------------------------------
// Rule 6: unexplained `any`

/**
 * The `any` type with no comment on its line or the line before saying why. A word `any`
 * that is a property (`x.any`), a key or parameter name (`any:`), or a declared name
 * (`const any`) is not the type.
 */
export function findUnexplainedAny(file: SourceFile): Violation[] {
  const masked = maskSource(file.text);
  const lines = new LineIndex(file.text);
  const violations: Violation[] = [];
  for (const match of masked.code.matchAll(/(?<![\w$])any(?![\w$])/g)) {
    const at = match.index ?? 0;
    const before = masked.code.slice(Math.max(0, at - 20), at);
    const after = masked.code.slice(at + 3, at + 10);
    if (/\.\s*$|\b(const|let|var|function|class|interface|type)\s+$/.test(before)) continue;
    if (/^\s*\??:/.test(after)) continue;
    const line = lines.lineOf(at);
    if (masked.commentLines.has(line) || masked.commentLines.has(line - 1)) continue;
    const message = 'any with no comment saying why: use unknown or a real type';
    violations.push({ path: file.path, line, message });
  }
  return violations;
}
