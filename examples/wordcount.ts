/**
 * Word counts kept in the store. `count` tallies a document's words and stores the tally as
 * one plain object under `wordcount/<doc>` (recounting a document replaces its tally);
 * `topWords` reads it back, from any node, and returns the most frequent words.
 *
 *   squall call count '"readme"' '"the cat and the hat"'   # → 5
 *   squall call topWords '"readme"' 2                      # → [["the",2],["and",1]]
 */
import type { Context } from '../src/index.js';

const keyOf = (doc: string): string => `wordcount/${doc}`;

/** Lower-cased words: runs of letters, digits and inner apostrophes, in any script. */
function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu) ?? [];
}

/** Counts the words of `text`, stores the counts for `doc`, and returns the number of words. */
export async function count(ctx: Context, doc: string, text: string): Promise<number> {
  if (typeof doc !== 'string' || doc === '') throw new TypeError('doc must be a non-empty name');
  if (typeof text !== 'string') throw new TypeError('text must be a string');
  const counts: Record<string, number> = {};
  const all = words(text);
  for (const word of all) counts[word] = (counts[word] ?? 0) + 1;
  await ctx.put(keyOf(doc), counts);
  return all.length;
}

/** The `n` most frequent words of `doc` as [word, count], most frequent first, ties A→Z. */
export async function topWords(ctx: Context, doc: string, n = 10): Promise<[string, number][]> {
  const counts = (await ctx.get(keyOf(doc))) as Record<string, number> | undefined;
  if (counts === undefined) return [];
  return Object.entries(counts)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, Math.max(0, n));
}
