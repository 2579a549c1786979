/** The operator API over HTTP: bearer auth, config validation naming fields, runs, rounds, metrics and model. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { OPERATOR_NAMESPACE } from '@hushfl/protocol';
import { createCoordinator } from './app.ts';
import { startClients, startTestCoordinator, stopAll, testConfig } from './testing.ts';

describe('operator API', () => {
  it('requires the token, validates configs, starts and controls runs, serves metrics and the model', async () => {
    const { c } = await startTestCoordinator();
    const auth = { authorization: `Bearer ${c.operatorToken}`, 'content-type': 'application/json' };
    expect((await fetch(`${c.url}/api/runs`)).status).toBe(401);
    expect((await fetch(`${c.url}/api/runs`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);

    const bad = await fetch(`${c.url}/api/runs`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ secagg: { maxColluders: 1 }, rounds: 2, minClients: 4, ddg: { bits: 99, epsilon: 1 } }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ issues: [{ path: 'ddg.bits' }] });

    const created = await fetch(`${c.url}/api/runs`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify(testConfig({ rounds: 2, minClients: 4, selection: { clientsPerRound: 4 } })),
    });
    expect(created.status).toBe(201);
    const { runId } = (await created.json()) as { runId: string };
    const again = await fetch(`${c.url}/api/runs`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify(testConfig({ rounds: 2, minClients: 4, selection: { clientsPerRound: 4 } })),
    });
    expect(again.status).toBe(409);

    expect((await (await fetch(`${c.url}/api/runs/${runId}/pause`, { method: 'POST', headers: auth })).json()).status.state).toBe('paused');
    const clients = await startClients(c.url, 4);
    await new Promise((r) => setTimeout(r, 300));
    expect(await c.store.rounds(runId)).toHaveLength(0); // paused: no round starts
    expect((await fetch(`${c.url}/api/runs/${runId}/resume`, { method: 'POST', headers: auth })).status).toBe(200);
    await c.manager.whenIdle();

    const runs = (await (await fetch(`${c.url}/api/runs`, { headers: auth })).json()) as { id: string; state: string }[];
    expect(runs[0]).toMatchObject({ id: runId, state: 'completed' });
    const rounds = (await (await fetch(`${c.url}/api/runs/${runId}/rounds`, { headers: auth })).json()) as {
      state: string;
      participants: unknown[];
      stages: unknown[];
    }[];
    expect(rounds).toHaveLength(2);
    expect(rounds[0]!.participants).toHaveLength(4);
    expect(rounds[0]!.stages).toHaveLength(10);
    const metrics = await fetch(`${c.url}/api/runs/${runId}/metrics`, { headers: auth });
    expect((await metrics.json()).rounds).toHaveLength(2);
    const model = await fetch(`${c.url}/api/runs/${runId}/model`, { headers: auth });
    expect(model.headers.get('x-hushfl-round')).toBe('1');
    expect((await model.arrayBuffer()).byteLength).toBe(4 * Number(model.headers.get('x-hushfl-dim')));
    expect((await fetch(`${c.url}/api/runs/nope`, { headers: auth })).status).toBe(404);
    expect(await (await fetch(`${c.url}/api/join`, { headers: auth })).json()).toEqual({ urls: [`${c.url}/`] });
    expect((await fetch(`${c.url}/api/join`)).status).toBe(401);
    // One machine: no cluster name, always the leader, on SQLite; its sessions and memory.
    const node = (await (await fetch(`${c.url}/api/node`, { headers: auth })).json()) as Record<string, unknown>;
    expect(node).toMatchObject({ node: null, leader: true, takeovers: 0, store: 'sqlite' });
    expect(node.rssMb).toBeGreaterThan(20);
    expect((await fetch(`${c.url}/api/node`)).status).toBe(401);
    expect((await fetch(`${c.url}/api/runs/${runId}/stop`, { method: 'POST', headers: auth })).status).toBe(409);

    // Shards: only with the client's own session, and only its own shards.
    expect((await fetch(`${c.url}/api/tasks/mnist/shards/0`)).status).toBe(401);
    await stopAll(c, clients);
  });

  it('refuses the live operator socket without the right token, and serves events with it', async () => {
    const { c } = await startTestCoordinator();
    const url = new URL(OPERATOR_NAMESPACE, c.url).toString();
    const attempt = (auth: Record<string, unknown>) =>
      new Promise<string>((resolve) => {
        const s = io(url, { auth, transports: ['websocket'], reconnection: false });
        s.once('connect', () => {
          s.close();
          resolve('connected');
        });
        s.once('connect_error', (e) => {
          s.close();
          resolve(e.message);
        });
      });
    expect(await attempt({})).toBe('operator token required');
    expect(await attempt({ token: 'wrong' })).toBe('operator token required');
    expect(await attempt({ token: 42 })).toBe('operator token required');
    expect(await attempt({ token: c.operatorToken })).toBe('connected');
    await c.close();
  });

  it('takes the operator token from $HUSHFL_OPERATOR_TOKEN when none is given', async () => {
    const before = process.env.HUSHFL_OPERATOR_TOKEN;
    process.env.HUSHFL_OPERATOR_TOKEN = 'token-from-the-environment-0123456789';
    try {
      const c = await createCoordinator({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'hushfl-env-')), logLevel: 'silent' });
      expect(c.operatorToken).toBe('token-from-the-environment-0123456789');
      expect((await fetch(`${c.url}/api/runs`, { headers: { authorization: 'Bearer token-from-the-environment-0123456789' } })).status).toBe(200);
      await c.close();
    } finally {
      if (before === undefined) delete process.env.HUSHFL_OPERATOR_TOKEN;
      else process.env.HUSHFL_OPERATOR_TOKEN = before;
    }
  });
});
