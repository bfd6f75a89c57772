/**
 * Strings the codec cannot carry. CBOR text is UTF-8, and a lone UTF-16 surrogate (half of
 * a pair, as in a string cut in the middle of an emoji) has no UTF-8 form: cbor-x writes
 * it anyway and it reads back as U+FFFD, changed without a word. Where values are checked
 * before they are stored or passed on, such a string is refused instead.
 */
import { ValidationError } from '../errors.js';

/** `String.prototype.isWellFormed` (Node 20 has it; TypeScript's ES2023 lib does not). */
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean })
  .isWellFormed;

/** Whether `text` has no lone surrogate (fast: a one-byte string cannot hold one). */
export function wellFormed(text: string): boolean {
  return isWellFormed.call(text);
}

/** Throws ValidationError when `text` holds a lone surrogate. */
export function checkWellFormed(text: string): void {
  if (!wellFormed(text))
    throw new ValidationError(
      `the string ${JSON.stringify(text.slice(0, 40))} holds a lone surrogate (half of a UTF-16 pair), which cannot be stored or passed: it would not read back as written`,
    );
}
