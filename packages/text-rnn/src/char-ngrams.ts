/**
 * Hashed character n-grams of a token (fastText's subword features): the token wrapped in `<` `>` and cut
 * into every n-gram of minN..maxN code points, each hashed (FNV-1a) into one of `buckets` rows. They give
 * rare, misspelt and unseen words a representation built from their pieces ("refnd" shares "<re", "ref",
 * "fnd>"... with "refund").
 */
import { ConfigError, checkInteger, hashString } from '@mmfuse/core/base';

export interface CharNgramOptions {
  /** Shortest n-gram, in code points. Default 3. */
  minN?: number;
  /** Longest n-gram, in code points. Default 5. */
  maxN?: number;
  /** Hash buckets (rows of the n-gram embedding table, plus row 0 for padding). Default 20000. */
  buckets?: number;
  /** Most n-grams kept per token (the shortest n first, left to right). Default 32. */
  maxPerToken?: number;
}

export type ResolvedCharNgramOptions = Required<CharNgramOptions>;

export function resolveCharNgramOptions(options: CharNgramOptions): ResolvedCharNgramOptions {
  const out = { minN: options.minN ?? 3, maxN: options.maxN ?? 5, buckets: options.buckets ?? 20000, maxPerToken: options.maxPerToken ?? 32 };
  for (const [key, v] of Object.entries(out)) checkInteger(v, `charNgrams.${key}`, 1);
  if (out.maxN < out.minN) throw new ConfigError(`maxN (${out.maxN}) must be at least minN (${out.minN})`, { path: 'charNgrams.maxN' });
  return out;
}

/**
 * Bucket ids (1..buckets; 0 is reserved for padding) of a token's n-grams. Reserved tokens (`<pad>` etc.)
 * never reach here: the encoder only hashes text tokens.
 */
export function charNgramIds(token: string, options: ResolvedCharNgramOptions): number[] {
  const chars = Array.from(`<${token}>`);
  const ids: number[] = [];
  for (let n = options.minN; n <= options.maxN && ids.length < options.maxPerToken; n++) {
    for (let i = 0; i + n <= chars.length && ids.length < options.maxPerToken; i++) {
      ids.push(1 + (hashString(chars.slice(i, i + n).join('')) % options.buckets));
    }
  }
  return ids;
}
