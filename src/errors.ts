/**
 * The typed errors of the public contract (SPEC.md, Errors). Every error that crosses a
 * process boundary is carried as a plain `WireError` record and rebuilt on the other side
 * with `errorFromWire`, so a client sees the same class, code, message and remote stack
 * that the node raised. Anything that is not one of these classes is an internal fault
 * and travels as `UnavailableError` only when the node itself could not serve.
 */
import { inspect } from 'node:util';

export type ErrorCode =
  | 'NOT_FOUND'
  | 'INVALID'
  | 'FUNCTION_FAILED'
  | 'TIMEOUT'
  | 'UNAVAILABLE'
  | 'UNAUTHORIZED';

/** The form an error takes on the wire and in stored call results. */
export interface WireError {
  code: ErrorCode;
  message: string;
  /** For FUNCTION_FAILED: the name of the error the user function threw. */
  name?: string;
  stack?: string;
  /** For FUNCTION_FAILED: the thrown error's own `code` (`'ENOENT'`, `'E_MINE'`), if any. */
  thrownCode?: string | number;
}

export class SquallError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

export class NotFoundError extends SquallError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

export class ValidationError extends SquallError {
  constructor(message: string) {
    super('INVALID', message);
  }
}

export class TimeoutError extends SquallError {
  constructor(message: string) {
    super('TIMEOUT', message);
  }
}

export class UnavailableError extends SquallError {
  constructor(message: string) {
    super('UNAVAILABLE', message);
  }
}

export class AuthError extends SquallError {
  constructor(message: string) {
    super('UNAUTHORIZED', message);
  }
}

/**
 * The user function threw. `remoteName`, `message` and `remoteStack` are the thrown
 * error's own; `name` stays `FunctionError` so `instanceof` and logs read naturally, and
 * `stack` ends with the remote stack, so a printed error shows where the function failed.
 */
export class FunctionError extends SquallError {
  readonly remoteName: string;
  readonly remoteStack: string;
  /** The `code` the thrown error carried, if it had one (`error.code` in the function). */
  readonly remoteCode: string | number | undefined;
  constructor(
    message: string,
    remoteName = 'Error',
    remoteStack = '',
    remoteCode?: string | number,
  ) {
    super('FUNCTION_FAILED', message);
    this.remoteName = remoteName;
    this.remoteStack = remoteStack;
    this.remoteCode = remoteCode;
    if (remoteStack !== '' && this.stack !== undefined)
      this.stack = `${this.stack}\nthrown in the function as ${remoteStack}`;
  }
}

/**
 * A short, never-throwing description of any value for an error message: values from a
 * socket or thrown by user code may be bigints, cycles, or objects whose own `toString`
 * is not a function, and describing them must not raise a second error.
 */
export function describeValue(value: unknown, lengthMax = 120): string {
  let text: string;
  try {
    text =
      typeof value === 'string'
        ? JSON.stringify(value)
        : inspect(value, { depth: 2, breakLength: Number.POSITIVE_INFINITY });
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > lengthMax ? `${text.slice(0, lengthMax)}…` : text;
}

/** A thrown value's message: its own when it is an Error, else a description of it. */
function thrownMessage(error: unknown): string {
  if (error instanceof Error) return String(error.message);
  try {
    const text = String(error);
    // A plain object's is "[object Object]": show what it holds (`throw { code: 42 }`).
    return text.startsWith('[object ') ? describeValue(error, 1000) : text;
  } catch {
    return describeValue(error);
  }
}

const byCode: Record<ErrorCode, (message: string) => SquallError> = {
  NOT_FOUND: (m) => new NotFoundError(m),
  INVALID: (m) => new ValidationError(m),
  FUNCTION_FAILED: (m) => new FunctionError(m),
  TIMEOUT: (m) => new TimeoutError(m),
  UNAVAILABLE: (m) => new UnavailableError(m),
  UNAUTHORIZED: (m) => new AuthError(m),
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(byCode, value);
}

/** Turns any thrown value into its wire form; unknown faults become UNAVAILABLE. */
export function errorToWire(error: unknown): WireError {
  if (error instanceof FunctionError) {
    const wire: WireError = {
      code: error.code,
      message: error.message,
      name: error.remoteName,
      stack: error.remoteStack,
    };
    if (error.remoteCode !== undefined) wire.thrownCode = error.remoteCode;
    return wire;
  }
  if (error instanceof SquallError) return { code: error.code, message: error.message };
  return { code: 'UNAVAILABLE', message: thrownMessage(error) };
}

/** Describes a value thrown by user code as a FUNCTION_FAILED wire error. */
export function userErrorToWire(error: unknown): WireError {
  if (error instanceof Error) {
    const wire: WireError = {
      code: 'FUNCTION_FAILED',
      message: error.message,
      name: error.name,
      stack: error.stack ?? '',
    };
    const code = (error as { code?: unknown }).code;
    if (isThrownCode(code)) wire.thrownCode = code;
    return wire;
  }
  // Not an Error: named for what was thrown (`Object`, `string`), its message shows it.
  const name =
    typeof error === 'object' && error !== null
      ? (Object.getPrototypeOf(error)?.constructor?.name ?? 'Object')
      : typeof error;
  return { code: 'FUNCTION_FAILED', message: thrownMessage(error), name, stack: '' };
}

export function errorFromWire(wire: WireError): SquallError {
  if (wire.code === 'FUNCTION_FAILED') {
    return new FunctionError(wire.message, wire.name ?? 'Error', wire.stack ?? '', wire.thrownCode);
  }
  return byCode[wire.code](wire.message);
}

/** Validates an untrusted record as a WireError (it may come from a socket). */
export function parseWireError(value: unknown): WireError | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (!isErrorCode(record.code) || typeof record.message !== 'string') return undefined;
  const wire: WireError = { code: record.code, message: record.message };
  if (typeof record.name === 'string') wire.name = record.name;
  if (typeof record.stack === 'string') wire.stack = record.stack;
  if (isThrownCode(record.thrownCode)) wire.thrownCode = record.thrownCode;
  return wire;
}

function isThrownCode(value: unknown): value is string | number {
  return (typeof value === 'string' && value.length <= 200) || Number.isFinite(value);
}

/**
 * Refuses options that are not an object, or that name an option not in `known`: a
 * misspelt option would otherwise be ignored in silence (`timeoutMS`, `int`).
 */
export function checkOptions(options: unknown, what: string, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new ValidationError(`${what} options must be an object, got ${describeValue(options)}`);
  const unknown = Object.keys(options).find((key) => !known.includes(key));
  if (unknown !== undefined)
    throw new ValidationError(
      `unknown ${what} option ${JSON.stringify(unknown)}: the options are ${known.join(', ')}`,
    );
}
