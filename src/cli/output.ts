/**
 * How the CLI speaks (SPEC.md, "Command line"): results on stdout as JSON, errors on
 * stderr as one line `error CODE: message` with a non-zero exit code.
 */
import { SquallError, ValidationError } from '../errors.js';
import { checkJsonNumber, toJsonText } from '../runtime/index.js';

/** One JSON value on one line (so a script can read results line by line). */
export function printJson(value: unknown): void {
  process.stdout.write(`${toJsonText(value === undefined ? null : value)}\n`);
}

export function failWith(error: unknown): never {
  const code = error instanceof SquallError ? error.code : 'ERROR';
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`error ${code}: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
}

/**
 * Parses one JSON command-line argument, saying which one and — where a string would do —
 * how to quote one (`objectOnly`: it must be an object, so that hint would mislead).
 */
export function parseJsonArg(text: string, what: string, objectOnly = false): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text, (_key, parsed: unknown) => {
      checkJsonNumber(parsed);
      return parsed;
    });
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    const hint = objectOnly
      ? `it takes a JSON object, such as '{"f":[1]}'`
      : `to pass a string, quote it: ${shellQuote(JSON.stringify(text))}`;
    throw new CliError('INVALID', `${what} is not JSON: ${text} (${hint})`);
  }
  return value;
}

/** `text` as one POSIX shell word: in single quotes, each ' written as '\''. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/** An error the CLI itself raises, printed like the SDK's typed errors. */
export class CliError extends SquallError {}
