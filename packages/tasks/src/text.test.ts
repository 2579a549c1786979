import { describe, expect, it } from 'vitest';
import { emailSender, emailText, fnv1a32, tokenize } from './text.ts';

const input = { kind: 'tokens', vocabulary: 4096, length: 6 } as const;

describe('text to tokens', () => {
  it('hashes words by 32-bit FNV-1a (its published test vectors)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('lower-cases, splits on anything but letters and digits, maps into [1, V) and pads with 0', () => {
    const t = tokenize('Free MONEY!!! free money, café 42', input);
    const id = (w: string) => 1 + (fnv1a32(w) % 4095);
    expect(Array.from(t)).toEqual([id('free'), id('money'), id('free'), id('money'), id('café'), id('42')]);
    expect(Array.from(tokenize('one two', input))).toEqual([id('one'), id('two'), 0, 0, 0, 0]);
    expect(() => tokenize('x', { kind: 'tokens', vocabulary: 70_000, length: 4 })).toThrow(/16-bit/);
  });

  it('reads an email: its subject and body without tags, and the sender of its From: header', () => {
    const raw = 'From bounce@x.org  Tue Aug  6\nFrom: "Jo Bloggs" <Jo@Example.COM>\nSubject: Cheap <b>pills</b>\nX-Spam: yes\n\n<html><p>Buy now</p></html>\n';
    const text = emailText(raw);
    expect(text).toContain('Cheap <b>pills</b>');
    expect(text).toContain('Buy now');
    expect(text).not.toContain('X-Spam');
    expect(text).not.toContain('<p>');
    expect(emailSender(raw)).toBe('jo@example.com');
    expect(emailSender('From: someone@host.net (Someone)\n\nhi')).toBe('someone@host.net');
    expect(emailSender('Subject: none\n\nbody')).toBe('');
  });
});
