/** Operator tokens below 128 bits of entropy are refused before the coordinator starts (issue 13 §4). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCoordinator } from './app.ts';
import { checkOperatorToken, MIN_OPERATOR_TOKEN_BITS, randomToken, tokenEntropyBits } from './auth.ts';

const saved = process.env.HUSHFL_OPERATOR_TOKEN;
afterEach(() => {
  if (saved === undefined) delete process.env.HUSHFL_OPERATOR_TOKEN;
  else process.env.HUSHFL_OPERATOR_TOKEN = saved;
});

describe('operator token strength', () => {
  it('estimates entropy from length and the alphabet the token spans', () => {
    expect(tokenEntropyBits('')).toBe(0);
    expect(tokenEntropyBits('1234')).toBeCloseTo(4 * Math.log2(10), 12);
    expect(tokenEntropyBits('beef')).toBeCloseTo(4 * Math.log2(16), 12);
    expect(tokenEntropyBits('secret')).toBeCloseTo(6 * Math.log2(36), 12);
    expect(tokenEntropyBits('aZ09-')).toBeCloseTo(5 * Math.log2(64), 12);
    expect(tokenEntropyBits('a b!')).toBeCloseTo(4 * Math.log2(95), 12);
    // 22 base64url characters (what randomToken(16) gives): 132 bits by this estimate, 128 truly.
    expect(tokenEntropyBits('Zm9vYmFyYmF6cXV4cX-_eA')).toBeGreaterThanOrEqual(MIN_OPERATOR_TOKEN_BITS);
  });

  it('refuses empty, short and single-class tokens, naming the source', () => {
    expect(() => checkOperatorToken('', '$HUSHFL_OPERATOR_TOKEN')).toThrow(/^\$HUSHFL_OPERATOR_TOKEN: the operator token has at most 0 bits/);
    expect(() => checkOperatorToken('secret', '--operator-token')).toThrow(/at most 31 bits of entropy, fewer than 128/);
    expect(() => checkOperatorToken('1234567890123456789012345678901234567', 'x')).toThrow(/at most 122 bits/);
    expect(() => checkOperatorToken(randomToken(24), 'x')).not.toThrow();
  });

  it('an empty $HUSHFL_OPERATOR_TOKEN stops the coordinator before it listens', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hushfl-token-'));
    try {
      process.env.HUSHFL_OPERATOR_TOKEN = '';
      await expect(createCoordinator({ port: 0, dataDir, logLevel: 'error' })).rejects.toThrow(/^\$HUSHFL_OPERATOR_TOKEN: .*fewer than 128/);
      await expect(createCoordinator({ port: 0, dataDir, logLevel: 'error', operatorToken: 'hunter2' })).rejects.toThrow(/^--operator-token: /);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
