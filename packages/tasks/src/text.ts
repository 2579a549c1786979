/**
 * Text to token ids, the same on every device with no vocabulary to ship: words (runs of Unicode letters and
 * digits, lower-cased) hashed into [1, vocabulary) by 32-bit FNV-1a — the hashing trick (Weinberger et al.,
 * ICML 2009) — with 0 left for padding. A person's own text files tokenize in the page exactly as the demo
 * corpus does in Node.
 */
import type { TaskInput } from './input.ts';

const WORD = /[\p{L}\p{N}]+/gu;
const encoder = new TextEncoder();

/** 32-bit FNV-1a of the word's UTF-8 bytes. */
export function fnv1a32(word: string): number {
  let h = 0x811c9dc5;
  for (const b of encoder.encode(word)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

/** The first `length` words of `text` as ids in [1, vocabulary), then 0s. */
export function tokenize(text: string, input: Extract<TaskInput, { kind: 'tokens' }>, out = new Uint16Array(input.length)): Uint16Array {
  if (input.vocabulary < 2 || input.vocabulary > 65_536) throw new RangeError(`a vocabulary of ${input.vocabulary} does not fit 16-bit token ids`);
  out.fill(0);
  let i = 0;
  for (const m of text.toLowerCase().matchAll(WORD)) {
    if (i >= input.length) break;
    out[i++] = 1 + (fnv1a32(m[0]) % (input.vocabulary - 1));
  }
  return out;
}

/** An email's subject and body with HTML tags dropped (the other headers would give the corpus away). */
export function emailText(raw: string): string {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split);
  const subject = /^subject:(.*)$/im.exec(headers)?.[1] ?? '';
  return `${subject}\n${body.replace(/<[^>]*>/g, ' ')}`;
}

/** The sender's address from the From: header, lower-cased ('' when it has none): the natural split's author. */
export function emailSender(raw: string): string {
  const split = raw.search(/\r?\n\r?\n/);
  const from = /^from:(.*)$/im.exec(split < 0 ? raw : raw.slice(0, split))?.[1] ?? '';
  const address = /<([^>]+)>/.exec(from)?.[1] ?? /[^\s"<>()]+@[^\s"<>()]+/.exec(from)?.[0] ?? '';
  return address.trim().toLowerCase();
}
