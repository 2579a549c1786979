/** hushfl-node-client's flags: --join-code takes one code per client (`hushfl invite`), and says so when not. */
import { describe, expect, it, vi } from 'vitest';
import { main } from './main.ts';

describe('hushfl-node-client --join-code', () => {
  it('refuses malformed codes and a count of codes other than --clients with exit code 2', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = 'A'.repeat(22);
      expect(await main(['--url', 'http://127.0.0.1:1', '--join-code', 'short'])).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/^--join-code takes codes from hushfl invite/);
      expect(await main(['--url', 'http://127.0.0.1:1', '--clients', '3', '--join-code', `${code},${'B'.repeat(22)}`])).toBe(2);
      expect(String(err.mock.calls.at(-1)?.[0])).toMatch(/^--join-code has 2 code\(s\) for --clients 3: one per client/);
    } finally {
      err.mockRestore();
    }
  });
});
