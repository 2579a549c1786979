/**
 * `hushfl invite --count N` against a real coordinator whose run has `access: { enrollment: true }`: it prints
 * N codes, each admits one Node client (`joinCode`), and a client without one is refused. Bad flags exit 2.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCoordinator } from '@hushfl/coordinator';
import { connectNodeClient } from '@hushfl/node';
import { startClientPool } from '@hushfl/node-client';
import { parseRunConfig } from '@hushfl/protocol';
import { runCli } from '../runCli.testing.ts';

const TOKEN = 'invite-test-token-0123456789abcdef';

describe('hushfl invite', () => {
  it('issues single-use join codes that admit Node clients to an enrolling coordinator', async () => {
    const c = await createCoordinator({
      port: 0,
      dataDir: mkdtempSync(join(tmpdir(), 'hushfl-invite-')),
      logLevel: 'silent',
      operatorToken: TOKEN,
      runConfig: parseRunConfig({
        rounds: 1,
        minClients: 3,
        selection: { clientsPerRound: 3 },
        secagg: { maxColluders: 1 },
        task: { shards: 67 },
        ddg: { noise: false, bits: 16 },
        access: { enrollment: true },
      }),
    });
    try {
      const json = await runCli('invite', '--count', '2', '--url', c.url, '--token', TOKEN, '--json');
      expect(json.code).toBe(0);
      const { codes } = JSON.parse(json.out) as { codes: string[] };
      expect(codes).toHaveLength(2);
      const text = await runCli('invite', '--count', '1', '--url', c.url, '--token', TOKEN);
      expect(text.code).toBe(0);
      expect(text.out).toMatch(/^[A-Za-z0-9_-]{22}\n$/);

      await expect(connectNodeClient({ url: c.url })).rejects.toThrow(/hello refused: this coordinator admits new clients with a join code only/);
      const client = await connectNodeClient({ url: c.url, joinCode: codes[0] });
      await client.close();
      await expect(connectNodeClient({ url: c.url, joinCode: codes[0] })).rejects.toThrow(/this join code was already used/);
      expect(await c.store.clientCount()).toBe(1);

      // hushfl-node-client --join-code: one code per client, each worker thread given its own.
      const more = JSON.parse((await runCli('invite', '--count', '2', '--url', c.url, '--token', TOKEN, '--json')).out) as { codes: string[] };
      expect(() => startClientPool({ url: c.url, clients: 3, miniClients: 1, dropout: 0, joinCodes: more.codes })).toThrow('2 join code(s) for 3 client(s)');
      const pool = startClientPool({ url: c.url, clients: 2, miniClients: 1, dropout: 0, workers: 2, joinCodes: more.codes });
      await pool.ready;
      await pool.stop();
      expect(await c.store.clientCount()).toBe(3);

      const wrong = await runCli('invite', '--count', '1', '--url', c.url, '--token', 'not-the-operator-token-0123456789');
      expect(wrong).toMatchObject({ code: 1, err: expect.stringMatching(/operator token required/) });
    } finally {
      await c.close();
    }
  });

  it('refuses bad flags with exit code 2', async () => {
    const saved = process.env.HUSHFL_OPERATOR_TOKEN;
    delete process.env.HUSHFL_OPERATOR_TOKEN;
    try {
      expect(await runCli('invite', '--count', '1')).toMatchObject({ code: 2, err: expect.stringMatching(/--token is required/) });
      expect(await runCli('invite', '--count', '0', '--token', TOKEN)).toMatchObject({
        code: 2,
        err: expect.stringMatching(/--count must be an integer in \[1, 1000\]/),
      });
      expect(await runCli('invite', '--token', TOKEN)).toMatchObject({ code: 2, err: expect.stringMatching(/--count is required/) });
      expect(await runCli('invite', '--count', '1', '--token', TOKEN, '--url', 'nowhere')).toMatchObject({
        code: 2,
        err: expect.stringMatching(/--url must be/),
      });
    } finally {
      if (saved !== undefined) process.env.HUSHFL_OPERATOR_TOKEN = saved;
    }
  });
});
