/**
 * Task-generic data (issue 14 §1, §2): the hello ack names the task, where its data comes from and the key of
 * that data; clients that joined for other data rejoin before a run on a different task selects them; with
 * `data: local` the coordinator assigns and serves no shards.
 */
import { CLIENT_NAMESPACE, EVENTS, PROTOCOL_VERSION } from '@hushfl/protocol';
import { decodeShard, findTask, inputSize, parseTaskRunConfig } from '@hushfl/tasks';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startClients, startTestCoordinator, stopAll, testConfig } from './testing.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function hello(url: string) {
  const socket = io(new URL(CLIENT_NAMESPACE, url).toString(), { transports: ['websocket'], reconnection: false });
  cleanups.push(async () => void socket.disconnect());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket.emitWithAck(EVENTS.hello, { v: PROTOCOL_VERSION, miniClients: 1 });
}

describe('task-generic data', () => {
  it('names the task and its data in the hello ack, and serves that task’s shards', async () => {
    const { c } = await startTestCoordinator();
    cleanups.push(() => c.close());
    // No run yet: the default task (mnist) is what a client gets.
    const ack = await hello(c.url);
    expect(ack).toMatchObject({ ok: true, task: 'mnist', data: 'demo', shardUrl: '/api/tasks/mnist/shards/' });
    expect(ack.dataKey).toMatch(/^demo:mnist:[0-9a-f]{16}$/);
    const headers = { 'x-hushfl-session': `${ack.clientId}:${ack.sessionToken}` };
    const shard = await fetch(`${c.url}${ack.shardUrl}${ack.shards[0]}`, { headers });
    expect(shard.status).toBe(200);
    expect(decodeShard(new Uint8Array(await shard.arrayBuffer())).features).toBe(784);
    expect((await fetch(`${c.url}/api/tasks/spam/shards/${ack.shards[0]}`, { headers })).status).toBe(404);
  });

  it('moves connected clients onto a run of another task: they rejoin for its data, then train on it', async () => {
    const { c, rounds } = await startTestCoordinator();
    const clients = await startClients(c.url, 3);
    cleanups.push(() => stopAll(c, clients));
    const before = clients.map((cl) => cl.clientId);
    const runId = await c.manager.createRun(
      parseTaskRunConfig(
        testConfig({
          rounds: 1,
          minClients: 3,
          selection: { clientsPerRound: 3 },
          task: { name: 'spam', model: { kind: 'embedding', dim: 8, hidden: [] }, shards: 40 },
        }),
      ),
    );
    await c.manager.whenIdle();
    expect(rounds).toHaveLength(1);
    expect(rounds[0]).toMatchObject({ runId, status: 'completed', parties: 3 });
    // The same identities trained the embedding model: only spam shards (128 token ids per message, where mnist
    // shards have 784 pixels) fit it, so each rejoined and fetched the run's data.
    expect(clients.map((cl) => cl.clientId)).toEqual(before);
    expect(inputSize(findTask('spam').input)).toBe(128);
    // The run over, clients are back on the default task's data.
    expect(c.manager.currentData().demo.description).toBe(findTask('mnist'));
  });

  it('lets a page of an allowed other origin fetch its client’s demo shards (CORS), and no other origin', async () => {
    const site = 'http://site.example:5173';
    const { c } = await startTestCoordinator(undefined, undefined, { allowedOrigins: [site] });
    cleanups.push(() => c.close());
    const ack = await hello(c.url);
    const url = `${ack.shardUrl}${ack.shards[0]}`;
    const preflight = await c.app.inject({
      method: 'OPTIONS',
      url,
      headers: { origin: site, 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-hushfl-session' },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers).toMatchObject({
      'access-control-allow-origin': site,
      'access-control-allow-headers': 'x-hushfl-session',
      'access-control-allow-methods': 'GET',
    });
    const session = { 'x-hushfl-session': `${ack.clientId}:${ack.sessionToken}` };
    const got = await c.app.inject({ url, headers: { origin: site, ...session } });
    expect([got.statusCode, got.headers['access-control-allow-origin']]).toEqual([200, site]);
    // Its errors are readable by the page too.
    const unauthorized = await c.app.inject({ url, headers: { origin: site } });
    expect([unauthorized.statusCode, unauthorized.headers['access-control-allow-origin']]).toEqual([401, site]);
    const other = 'http://evil.example';
    expect((await c.app.inject({ method: 'OPTIONS', url, headers: { origin: other } })).statusCode).toBe(403);
    expect((await c.app.inject({ url, headers: { origin: other, ...session } })).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('tells a client that joined but is not ready yet (still fetching its data) when a run needs other data', async () => {
    const { c } = await startTestCoordinator();
    cleanups.push(() => c.close());
    const socket = io(new URL(CLIENT_NAMESPACE, c.url).toString(), { transports: ['websocket'], reconnection: false });
    cleanups.push(async () => void socket.disconnect());
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const ack = await socket.emitWithAck(EVENTS.hello, { v: PROTOCOL_VERSION, miniClients: 1 });
    const told = new Promise<{ dataKey?: string }>((resolve) => socket.on(EVENTS.status, (s: { dataKey?: string }) => s.dataKey && resolve(s)));
    await c.manager.createRun(
      parseTaskRunConfig(
        testConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 }, task: { name: 'fashion-mnist', model: { kind: 'mlp', hidden: [] } } }),
      ),
    );
    const status = await told;
    expect(status.dataKey).toMatch(/^demo:fashion-mnist:/);
    expect(status.dataKey).not.toBe(ack.dataKey);
    await c.manager.stop(c.manager.activeRunId()!);
  });

  it('with data: local assigns no shards and serves none', async () => {
    const { c } = await startTestCoordinator(testConfig({ rounds: 1, minClients: 3, selection: { clientsPerRound: 3 }, data: 'local' }));
    cleanups.push(() => c.close());
    const runId = c.manager.activeRunId()!;
    expect(runId).toMatch(/^run-/);
    const ack = await hello(c.url);
    expect(ack).toMatchObject({ ok: true, task: 'mnist', data: 'local', shards: [] });
    expect(ack.dataKey).toMatch(/^local:mnist:/);
    const res = await fetch(`${c.url}/api/tasks/mnist/shards/0`, { headers: { 'x-hushfl-session': `${ack.clientId}:${ack.sessionToken}` } });
    expect(res.status).toBe(409);
    expect((await res.json()).error).toMatch(/data: local/);
    await c.manager.stop(runId);
  });
});
