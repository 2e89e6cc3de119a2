/**
 * Seeded corruption of typed text, as people type it: typos (a swapped, dropped, doubled or neighbouring
 * key), missing spaces, ALL CAPS, emoji, and Chinese words mixed into English (or English into Chinese).
 * For robustness tests (a corrupted copy of a test set) and for train-time augmentation. One `Rng` drives
 * every choice, so a seed reproduces the same corrupted text.
 */
import { ConfigError } from '@mmfuse/core/base';
import type { Rng } from '@mmfuse/core/base';

export interface TextCorruptionOptions {
  /** Probability that a word (of 3+ letters) gets one typo: swapped, dropped, doubled or neighbouring key. Default 0.12. */
  typo?: number;
  /** Probability that a space between two words is dropped ("mycard"). Default 0.08. */
  dropSpace?: number;
  /** Probability that the whole text is written in capitals. Default 0.1. */
  caps?: number;
  /** Probability that an emoji is added (at the end, or after a word). Default 0.2. */
  emoji?: number;
  /** Probability that a word with an entry in the bilingual list is written in the other language. Default 0.15. */
  mixLanguage?: number;
  /**
   * Probability that a space-separated word of a text of three or more words is left out (at least one word
   * stays), before the other changes. Default 0 (off; draws nothing, so the other changes are as without it).
   */
  dropWord?: number;
}

export type ResolvedTextCorruption = Required<TextCorruptionOptions>;

/** The default corruption rates (about one change per short message). */
export const DEFAULT_TEXT_CORRUPTION: Readonly<ResolvedTextCorruption> = Object.freeze({ typo: 0.12, dropSpace: 0.08, caps: 0.1, emoji: 0.2, mixLanguage: 0.15, dropWord: 0 });

const EMOJI = ['🙏', '😡', '😢', '🤔', '👍', '💳', '📦', '❗', '😊', '🙄', '💸', '⏰'];

/** Neighbouring keys on a QWERTY keyboard (lowercase letters). */
const NEIGHBOURS: Record<string, string> = {
  q: 'wa', w: 'qes', e: 'wrd', r: 'etf', t: 'ryg', y: 'tuh', u: 'yij', i: 'uok', o: 'ipl', p: 'ol',
  a: 'qsz', s: 'adwx', d: 'sfex', f: 'dgrc', g: 'fhtv', h: 'gjyb', j: 'hkun', k: 'jlim', l: 'ko',
  z: 'xa', x: 'zcs', c: 'xvd', v: 'cbf', b: 'vng', n: 'bmh', m: 'nj',
};

/**
 * Everyday words of a shop / bank bot in English and Chinese, both ways: "my 卡 has not arrived",
 * "我的 card 还没到".
 */
const BILINGUAL: readonly (readonly [string, string])[] = [
  ['card', '卡'], ['money', '钱'], ['account', '账户'], ['order', '订单'], ['refund', '退款'], ['password', '密码'],
  ['transfer', '转账'], ['payment', '付款'], ['balance', '余额'], ['address', '地址'], ['delivery', '送货'],
  ['cancel', '取消'], ['return', '退货'], ['help', '帮助'], ['bank', '银行'], ['fee', '费用'], ['phone', '手机'],
  ['cash', '现金'], ['pin', '密码'], ['lost', '丢了'], ['stolen', '被偷了'], ['today', '今天'], ['why', '为什么'],
  ['where', '哪里'], ['how', '怎么'], ['new', '新'], ['declined', '被拒绝'], ['exchange', '兑换'], ['top up', '充值'],
];
const TO_CHINESE = new Map(BILINGUAL.map(([en, zh]) => [en, zh]));
const TO_ENGLISH = new Map(BILINGUAL.map(([en, zh]) => [zh, en]));

export function resolveTextCorruption(options: TextCorruptionOptions = {}): ResolvedTextCorruption {
  const out = { ...DEFAULT_TEXT_CORRUPTION, ...options };
  for (const [key, v] of Object.entries(out)) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new ConfigError(`must be a probability in [0, 1], got ${JSON.stringify(v)}`, { path: `corruption.${key}` });
  }
  return out;
}

function typo(word: string, rng: Rng): string {
  const chars = Array.from(word);
  const i = rng.int(chars.length);
  const c = chars[i] as string;
  switch (rng.int(4)) {
    case 0: { // swap with the next character
      const j = i + 1 < chars.length ? i + 1 : i - 1;
      [chars[i], chars[j]] = [chars[j] as string, c];
      break;
    }
    case 1: chars.splice(i, 1); break;
    case 2: chars.splice(i, 0, c); break;
    default: {
      const near = NEIGHBOURS[c.toLowerCase()];
      if (near === undefined) { chars.splice(i, 1); break; }
      const k = near[rng.int(near.length)] as string;
      chars[i] = c === c.toUpperCase() ? k.toUpperCase() : k;
    }
  }
  return chars.join('');
}

const HAN = /\p{Script=Han}/u;

/** `text` without each space-separated word with probability `p` when it has 3+ words; never empty. */
function dropWords(text: string, p: number, rng: Rng): string {
  const words = text.split(' ');
  if (p === 0 || words.length < 3) return text;
  const kept = words.filter(() => !rng.bernoulli(p));
  return kept.length > 0 ? kept.join(' ') : (words[0] as string);
}

/** Replace dictionary words by their other-language form, each with probability `p`. */
function mixLanguage(text: string, p: number, rng: Rng): string {
  if (p === 0) return text;
  if (HAN.test(text)) {
    let out = text;
    // Longest Chinese entries first, so 被偷了 wins over shorter overlaps.
    for (const zh of [...TO_ENGLISH.keys()].sort((a, b) => b.length - a.length)) {
      if (out.includes(zh) && rng.bernoulli(p)) out = out.replace(zh, ` ${TO_ENGLISH.get(zh) as string} `);
    }
    return out.replace(/ {2,}/g, ' ').trim();
  }
  return text.replace(/\b(top up|[A-Za-z]+)\b/g, (word) => {
    const zh = TO_CHINESE.get(word.toLowerCase());
    return zh !== undefined && rng.bernoulli(p) ? zh : word;
  });
}

/**
 * A corrupted copy of `text`: words are left out with probability `dropWord` (default 0), then each word of
 * 3+ letters gets a typo with probability `typo`, each space
 * between words is dropped with probability `dropSpace`, bilingual-list words switch language with
 * probability `mixLanguage`, the whole text is capitalized with probability `caps`, and an emoji is added
 * with probability `emoji`. Deterministic for a given `rng` state.
 */
export function corruptText(text: string, rng: Rng, options: TextCorruptionOptions = {}): string {
  const o = resolveTextCorruption(options);
  let out = mixLanguage(dropWords(text, o.dropWord, rng), o.mixLanguage, rng);
  const words = out.split(' ');
  out = words.map((w) => (/^\p{L}{3,}$/u.test(w) && !HAN.test(w) && rng.bernoulli(o.typo) ? typo(w, rng) : w))
    .reduce((acc, w, i) => (i === 0 ? w : acc + (rng.bernoulli(o.dropSpace) ? '' : ' ') + w), '');
  if (rng.bernoulli(o.caps)) out = out.toUpperCase();
  if (rng.bernoulli(o.emoji)) {
    const e = EMOJI[rng.int(EMOJI.length)] as string;
    const parts = out.split(' ');
    if (parts.length > 1 && rng.bernoulli(0.3)) {
      const at = 1 + rng.int(parts.length - 1);
      parts.splice(at, 0, e);
      out = parts.join(' ');
    } else {
      out = `${out}${rng.bernoulli(0.5) ? ' ' : ''}${e}`;
    }
  }
  return out;
}
