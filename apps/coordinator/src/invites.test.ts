/**
 * Optional enrollment (issue 13 §2): the operator issues single-use join codes (POST /api/invites, through the
 * operator client), and with `access: { enrollment: true }` — the run's config, or the coordinator's option
 * while no run is active — a new identity's hello needs one: without, wrong or used it is refused; a valid one
 * admits one client, and an admitted identity resumes without a code. Real coordinator, real sockets, real
 * SQLite file.
 */
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, OperatorClient } from '@hushfl/operator-client';
import { CLIENT_NAMESPACE, parseRunConfig, type HelloAck } from '@hushfl/protocol';
import { hashToken } from './auth.ts';
import { hello, startGateway } from './gatewayTesting.ts';
import { issueJoinCodes } from './invites.ts';
import { startTestCoordinator, testConfig } from './testing.ts';

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

async function connect(url: string): Promise<Socket> {
  const s = io(new URL(CLIENT_NAMESPACE, url).toString(), { transports: ['websocket'], reconnection: false, forceNew: true });
  open.push(async () => void s.disconnect());
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  return s;
}

describe('enrollment with join codes', () => {
  it('a run with access.enrollment admits new clients with an unused code only; the operator issues codes', async () => {
    const config = testConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 }, access: { enrollment: true } });
    expect(parseRunConfig(testConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 } })).access).toEqual({ enrollment: false });
    const { c } = await startTestCoordinator(config);
    open.push(() => c.close());
    const api = new OperatorClient({ base: c.url, token: c.operatorToken, fetch });

    // The route: operator token, a count in [1, 1000], codes that are distinct and stored only hashed.
    const post = (body: unknown, token = c.operatorToken) =>
      fetch(`${c.url}/api/invites`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post({ count: 1 }, 'wrong')).status).toBe(401);
    for (const bad of [{ count: 0 }, { count: 1001 }, { count: 1.5 }, {}, { count: 1, extra: true }]) expect((await post(bad)).status).toBe(400);
    const direct = await post({ count: 2 });
    expect(direct.status).toBe(201);
    const { codes: first } = (await direct.json()) as { codes: string[] };
    const { codes } = await api.invite(3);
    const all = [...first, ...codes];
    expect(new Set(all).size).toBe(5);
    for (const code of all) expect(code).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const stored = c.sqlite!.db.prepare('SELECT code_hash FROM join_codes').all() as { code_hash: string }[];
    expect(stored.map((r) => r.code_hash).sort()).toEqual(all.map(hashToken).sort());
    await expect(api.invite(0)).rejects.toBeInstanceOf(ApiError);

    // Hello without a code, with a wrong one, with a valid one, with the same one again.
    expect(await hello(await connect(c.url))).toEqual({
      ok: false,
      error: 'this coordinator admits new clients with a join code only: ask the operator for one (hushfl invite)',
    });
    expect(await hello(await connect(c.url), { joinCode: 'A'.repeat(22) })).toEqual({ ok: false, error: 'unknown join code: ask the operator for a new one' });
    const admitted = await hello(await connect(c.url), { joinCode: codes[0] });
    expect(admitted).toMatchObject({ ok: true, resumed: false });
    expect(await hello(await connect(c.url), { joinCode: codes[0] })).toEqual({ ok: false, error: 'this join code was already used: each admits one client' });
    expect(c.sqlite!.clientCount()).toBe(1);
    const { clientId, sessionToken } = admitted as Extract<HelloAck, { ok: true }>;
    expect(c.sqlite!.db.prepare('SELECT client_id FROM join_codes WHERE code_hash = ?').get(hashToken(codes[0]!))).toEqual({ client_id: clientId });

    // The admitted identity resumes without a code; another code admits another client.
    expect(await hello(await connect(c.url), { resume: { clientId, sessionToken } })).toMatchObject({ ok: true, resumed: true, clientId });
    expect(await hello(await connect(c.url), { joinCode: codes[1] })).toMatchObject({ ok: true });
    expect(c.sqlite!.clientCount()).toBe(2);
  });

  it('a refused hello keeps its code; without a run, the coordinator option decides; the code is a strike', async () => {
    const g = await startGateway({ enrollment: true, maxMiniClients: 2 });
    open.push(g.close);
    const plain = await startGateway();
    open.push(plain.close);
    expect((await hello((await plain.connect()).socket)).ok).toBe(true); // no enrollment: no code needed

    const [code] = await issueJoinCodes(g.store, 1);
    expect(await hello((await g.connect()).socket, { miniClients: 3, joinCode: code })).toMatchObject({ ok: false, error: /at most 2 mini-clients/ });
    expect(await hello((await g.connect()).socket)).toMatchObject({ ok: false, error: /join code only/ });
    expect(await hello((await g.connect()).socket, { joinCode: code })).toMatchObject({ ok: true });
    expect(g.counters.stats().strikes).toMatchObject({ 'join-code': 1, 'mini-clients': 1 });
  });
});
