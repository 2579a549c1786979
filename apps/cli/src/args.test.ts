/** Flag parsing: the repeatable `list` kind, on `hushfl start --allowed-origin` (the flag that uses it). */
import { describe, expect, it } from 'vitest';
import { parseFlags } from './args.ts';
import { startCommand } from './commands/start.ts';
import { runCli } from './runCli.testing.ts';

describe('list flags', () => {
  it('repeat and split at commas, in order; absent is empty', () => {
    const f = parseFlags(['--allowed-origin', 'https://a.example', '--allowed-origin', 'https://b.example, https://c.example:8443'], startCommand.flags);
    expect(f['allowed-origin']).toEqual(['https://a.example', 'https://b.example', 'https://c.example:8443']);
    expect(parseFlags(['--allowed-origin=*'], startCommand.flags)['allowed-origin']).toEqual(['*']);
    expect(parseFlags([], startCommand.flags)['allowed-origin']).toEqual([]);
  });

  it('an empty item is a usage error naming the flag', () => {
    expect(() => parseFlags(['--allowed-origin', 'https://a.example,'], startCommand.flags)).toThrow(/^--allowed-origin has an empty value/);
  });
});

describe('hushfl start --allowed-origin', () => {
  it('refuses what is not an origin before anything starts (exit 2)', async () => {
    const { code, err } = await runCli('start', '--allowed-origin', 'https://app.example.com,app.example.com', '--port', '0');
    expect(code).toBe(2);
    expect(err).toBe("hushfl start: --allowed-origin: 'app.example.com' is not an origin: give scheme://host[:port] (e.g. https://app.example.com) or *\n");
  });
});
