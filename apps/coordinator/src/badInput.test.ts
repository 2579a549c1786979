/**
 * Bad input over a real socket never crashes the coordinator or corrupts a round: each case is refused or
 * dropped with a logged reason, and the round in progress completes.
 */
import { io, type Socket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { CLIENT_NAMESPACE, EVENTS, PROTOCOL_VERSION, pack } from '@hushfl/protocol';
import { startClients, startTestCoordinator, stopAll, testConfig } from './testing.ts';

async function raw(url: string): Promise<Socket> {
  const s = io(new URL(CLIENT_NAMESPACE, url).toString(), { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  return s;
}

const disconnected = (s: Socket) => new Promise<string>((resolve) => s.once('disconnect', (reason) => resolve(reason)));

describe('bad input on the client gateway', () => {
  it('malformed, unauthenticated, oversized, flooding, replayed and late messages: refused, and the round completes', async () => {
    const { c, rounds } = await startTestCoordinator(testConfig({ rounds: 2, minClients: 6, selection: { clientsPerRound: 6 } }));
    const warnings: string[] = [];
    c.app.log.warn = ((obj: unknown, msg?: string) => void warnings.push(`${msg ?? ''} ${JSON.stringify(obj)}`)) as never;

    // 1. A SecAgg message before hello: "unknown session", disconnected.
    const anon = await raw(c.url);
    const bye = new Promise((r) => anon.once(EVENTS.bye, r));
    const gone = disconnected(anon);
    anon.emit(EVENTS.secagg, pack({ roundId: 'x', message: {} }));
    expect(await bye).toMatchObject({ reason: expect.stringMatching(/unknown session/) });
    await gone;

    // 2. Hello of another protocol version, and a resume with a made-up session.
    const s2 = await raw(c.url);
    expect(await s2.emitWithAck(EVENTS.hello, { v: 99, miniClients: 1 })).toMatchObject({ ok: false, error: expect.stringMatching(/invalid hello/) });
    const s2gone = disconnected(s2);
    expect(
      await s2.emitWithAck(EVENTS.hello, { v: PROTOCOL_VERSION, miniClients: 1, resume: { clientId: 'AAAAAAAAAAAA', sessionToken: 'B'.repeat(32) } }),
    ).toMatchObject({
      ok: false,
      error: expect.stringMatching(/unknown session/),
    });
    await s2gone;

    // 3. A session that sends garbage, unknown events, floods reports and then an oversized payload.
    const s3 = await raw(c.url);
    const ack = await s3.emitWithAck(EVENTS.hello, { v: PROTOCOL_VERSION, miniClients: 1 });
    expect(ack.ok).toBe(true);
    s3.emit(EVENTS.secagg, { not: 'an envelope' });
    s3.emit(EVENTS.secagg, { json: '{"a":{"$bin":[0,99]}}', bin: new Uint8Array(4) });
    s3.emit(EVENTS.secagg, pack({ roundId: 'r', message: { type: 'masked-input', roundId: 'r', from: 1, bits: 16, count: 4, masked: new Uint8Array(7) } }));
    s3.emit('frobnicate', { x: 1 });
    s3.emit(EVENTS.report, { roundId: 'r', phase: 'training', progress: 5 });
    for (let i = 0; i < 40; i++) s3.emit(EVENTS.report, { roundId: 'r', phase: 'training', progress: 0.5 });
    await new Promise((r) => setTimeout(r, 300));
    const s3gone = disconnected(s3);
    s3.emit(EVENTS.secagg, { json: '{}', bin: new Uint8Array(16 << 20) });
    expect(await s3gone).toMatch(/transport close|io server disconnect/);

    // 4. Real clients run a round; one of them replays its messages, and sends one after the round ended.
    const clients = await startClients(c.url, 6);
    const replayer = clients[0]!;
    const sent: unknown[] = [];
    const emit = replayer.socket.emit.bind(replayer.socket);
    (replayer.socket as unknown as { emit: (...a: unknown[]) => unknown }).emit = (event: unknown, ...args: unknown[]) => {
      if (event === EVENTS.secagg) {
        sent.push(args[0]);
        emit(EVENTS.secagg, args[0]); // every SecAgg message twice
      }
      return emit(event as string, ...args);
    };
    await c.manager.whenIdle();
    emit(EVENTS.secagg, sent[0]); // late: its round is over
    await new Promise((r) => setTimeout(r, 200));
    const health = await (await fetch(`${c.url}/api/health`)).json();
    await stopAll(c, clients);

    expect(rounds.filter((r) => r.status === 'completed')).toHaveLength(2);
    expect(rounds.every((r) => r.contributors === 6 || r.status !== 'completed')).toBe(true);
    expect(health).toMatchObject({ ok: true });
    const all = warnings.join('\n');
    expect(all).toMatch(/message before hello: disconnecting an unknown session/);
    expect(all).toMatch(/hello with an unknown session/);
    expect(all).toMatch(/dropped a client message: envelope\.bin must be binary|dropped a client message: envelope\.json must be a string/);
    expect(all).toMatch(/dropped a client message: binary reference .* outside/);
    expect(all).toMatch(/dropped a client message: schema: message\.masked: 4 words of 16 bits take 8 bytes, got 7/);
    expect(all).toMatch(/dropped a client message: unknown event/);
    expect(all).toMatch(/dropped a client message: rate limit exceeded/);
    expect(all).toMatch(/dropped a client message: schema: progress/);
    expect(all).toMatch(/refused a SecAgg message: client .* already answered .* keeping the first/);
    expect(all).toMatch(/dropped a client message: round .* is not in progress/);
  });
});
