/**
 * Sybils and floods cost something (issue 13 §2), over real Socket.IO on loopback and a real SQLite file: the
 * connection caps, new identities per address per minute, hellos per connection, resume loops, a strike per
 * abuse class with the connection closed past its limit, an ack with a reason for every dropped message that
 * has one, the counters, and logs that stay bounded under a flood.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTS, pack } from '@hushfl/protocol';
import { REPORT_DROPS_PER_STRIKE } from './gateway.ts';
import { fakeClock, hello, settle, startGateway, type GatewayTestOptions } from './gatewayTesting.ts';

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

async function gateway(o: GatewayTestOptions = {}) {
  const g = await startGateway(o);
  open.push(g.close);
  return g;
}

const joined = (ack: unknown) => ack as { ok: true; clientId: string; sessionToken: string };
/** A SecAgg message that passes the schema (for a round that is not in progress). */
const lateMaskedInput = pack({ roundId: 'r-old', message: { type: 'masked-input', roundId: 'r-old', from: 1, bits: 16, count: 4, masked: new Uint8Array(8) } });

describe('connection caps', () => {
  it('refuses connections past the total cap with a bye naming it, and takes new ones once others left', async () => {
    const g = await gateway({ limits: { maxConnections: 2 } });
    const a = await g.connect();
    await g.connect();
    const c = await g.connect();
    expect(await c.bye).toMatch(/^the coordinator is full \(2 connections\)/);
    expect(await c.gone).toBe('io server disconnect');
    a.socket.disconnect();
    await settle();
    const d = await g.connect();
    expect((await hello(d.socket)).ok).toBe(true);
    expect(g.counters.stats()).toMatchObject({ connections: 2, sessions: 1, closed: { 'max-connections': 1 } });
  });

  it('caps connections per address; loopback is exempt unless limitLoopback is set', async () => {
    const exempt = await gateway({ limits: { maxConnectionsPerIp: 2 } });
    const three = [await exempt.connect(), await exempt.connect(), await exempt.connect()];
    await settle();
    expect(three.every((c) => c.socket.connected)).toBe(true);

    const g = await gateway({ limits: { maxConnectionsPerIp: 2, limitLoopback: true } });
    await g.connect();
    await g.connect();
    const third = await g.connect();
    expect(await third.bye).toMatch(/^too many connections from your address \(at most 2\)/);
    expect(g.counters.stats().closed['max-connections-per-ip']).toBe(1);
    expect(g.counters.stats().connections).toBe(2);
  });

  it('behind a trusted reverse proxy, per-address caps hold for the address the proxy forwards', async () => {
    const g = await gateway({ limits: { maxConnectionsPerIp: 2 }, trustProxy: true });
    const from = (chain: string) => g.connect({ 'x-forwarded-for': chain });
    // The proxy appends the peer it saw; what the client put first is its own say and counts for nothing.
    await from('198.51.100.1, 203.0.113.7');
    await from('203.0.113.7');
    const third = await from('10.0.0.1, 203.0.113.7');
    expect(await third.bye).toMatch(/^too many connections from your address \(at most 2\)/);
    const other = await from('203.0.113.8');
    await settle();
    expect(other.socket.connected).toBe(true);
    // Without trustProxy the header is ignored: all are loopback, exempt.
    const plain = await gateway({ limits: { maxConnectionsPerIp: 2 } });
    const four = await Promise.all(Array.from({ length: 3 }, () => plain.connect({ 'x-forwarded-for': '203.0.113.7' })));
    await settle();
    expect(four.every((c) => c.socket.connected)).toBe(true);
  });

  it('a handler that throws (the store unusable) answers with the reason and never takes the gateway down', async () => {
    const g = await gateway();
    const before = await g.connect();
    expect(await hello(before.socket)).toMatchObject({ ok: true });
    g.sqlite!.db.close();
    const c = await g.connect();
    expect(await hello(c.socket)).toEqual({ ok: false, error: 'the coordinator could not store the session: try again shortly' });
    // The gateway still answers: another connection is taken and refused the same way.
    const again = await g.connect();
    expect(await hello(again.socket)).toMatchObject({ ok: false });
    expect(before.socket.connected).toBe(true);
  });

  it('caps new identities per address per minute (resumes do not count), and forgets after a minute', async () => {
    const clock = fakeClock();
    const g = await gateway({ limits: { maxNewSessionsPerIpPerMinute: 2, limitLoopback: true }, now: clock.now });
    const first = joined(await hello((await g.connect()).socket));
    expect((await hello((await g.connect()).socket)).ok).toBe(true);
    const third = await g.connect();
    expect(await hello(third.socket)).toEqual({ ok: false, error: 'too many new clients from your address (at most 2 a minute): try again in a minute' });
    expect(await third.bye).toMatch(/too many new clients/);
    // A known identity resumes all the same.
    const back = await hello((await g.connect()).socket, { resume: { clientId: first.clientId, sessionToken: first.sessionToken } });
    expect(back).toMatchObject({ ok: true, resumed: true, clientId: first.clientId });
    clock.advance(60_000);
    expect((await hello((await g.connect()).socket)).ok).toBe(true);
    expect(g.counters.stats().closed['sessions-per-ip']).toBe(1);
  });
});

describe('hellos and resumes', () => {
  it('allows one hello per connection: each repeat is a strike, the third closes the connection', async () => {
    const g = await gateway();
    const c = await g.connect();
    expect((await hello(c.socket)).ok).toBe(true);
    expect(await hello(c.socket)).toEqual({ ok: false, error: 'hello already received on this connection' });
    expect((await hello(c.socket)).ok).toBe(false);
    c.socket.emit(EVENTS.hello, { v: 1, miniClients: 1 });
    expect(await c.bye).toMatch(/^too many invalid messages \(3 repeated-hello of 3 within 60 s\)/);
    expect(g.counters.stats()).toMatchObject({ strikes: { 'repeated-hello': 3 }, closed: { strikes: 1 } });
  });

  it('counts a refused hello (mini-clients above the maximum) as the hello of its connection; a malformed one is not', async () => {
    const g = await gateway();
    const c = await g.connect();
    expect(await hello(c.socket, { v: 99 })).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid hello/) });
    expect(await hello(c.socket, { miniClients: 5 })).toEqual({ ok: false, error: 'at most 4 mini-clients per connection' });
    expect(await hello(c.socket, { miniClients: 2 })).toEqual({ ok: false, error: 'more than 1 hello(s) on this connection: open a new one' });
    expect(g.counters.stats().strikes).toMatchObject({ schema: 1, 'mini-clients': 1, 'repeated-hello': 1 });
    expect((await hello((await g.connect()).socket, { miniClients: 2 })).ok).toBe(true);
  });

  it('refuses a resume loop: the same identity resuming more than maxResumesPerMinute times a minute', async () => {
    const clock = fakeClock();
    const g = await gateway({ limits: { maxResumesPerMinute: 2 }, now: clock.now });
    const id = joined(await hello((await g.connect()).socket));
    const resume = { resume: { clientId: id.clientId, sessionToken: id.sessionToken } };
    for (let i = 0; i < 2; i++) expect(await hello((await g.connect()).socket, resume)).toMatchObject({ ok: true, resumed: true });
    const loop = await g.connect();
    expect(await hello(loop.socket, resume)).toEqual({
      ok: false,
      error: 'resuming too often (more than 2 times a minute): wait a minute before reconnecting',
    });
    expect(await loop.bye).toMatch(/^resuming too often/);
    // A wrong token never counts toward the identity's resumes (nobody else can lock it out).
    const forged = await g.connect();
    expect(await hello(forged.socket, { resume: { clientId: id.clientId, sessionToken: 'x'.repeat(32) } })).toMatchObject({ error: /unknown session/ });
    clock.advance(60_000);
    expect(await hello((await g.connect()).socket, resume)).toMatchObject({ ok: true, resumed: true });
    expect(g.counters.stats()).toMatchObject({ strikes: { 'resume-loop': 1 }, closed: { 'resume-loop': 1, 'unknown-session': 1 } });
  });
});

describe('strikes and acks with reasons', () => {
  it('answers every dropped message that has an ack with its reason: before hello, envelope, schema, rate limit, unknown event', async () => {
    const g = await gateway();
    const anon = await g.connect();
    expect(await anon.socket.emitWithAck(EVENTS.secagg, lateMaskedInput)).toEqual({ ok: false, reason: 'unknown session: send hello first' });
    expect(await anon.bye).toBe('unknown session: send hello first');

    const c = await g.connect();
    await hello(c.socket);
    expect(await c.socket.emitWithAck(EVENTS.secagg, { not: 'an envelope' })).toEqual({ ok: false, reason: 'envelope.json must be a string' });
    const badSchema = pack({ roundId: 'r', message: { type: 'masked-input', roundId: 'r', from: 1, bits: 16, count: 4, masked: new Uint8Array(7) } });
    expect(await c.socket.emitWithAck(EVENTS.secagg, badSchema)).toMatchObject({ ok: false, reason: expect.stringMatching(/^schema: message\.masked/) });
    expect(await c.socket.emitWithAck(EVENTS.report, { roundId: 'r', phase: 'training', progress: 5 })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^schema: progress/),
    });
    expect(await c.socket.emitWithAck(EVENTS.report, { roundId: 'r', phase: 'training', progress: 0.5 })).toEqual({ ok: true });
    expect(await c.socket.emitWithAck('frobnicate', { x: 1 })).toEqual({ ok: false, reason: 'unknown event' });
    // The SecAgg bucket holds 20 (refilled at 10/s; the two above took two): of 30 at once, the last are refused.
    const flood = await Promise.all(Array.from({ length: 30 }, () => c.socket.emitWithAck(EVENTS.secagg, { not: 'an envelope' })));
    const limited = flood.filter((a) => (a as { reason: string }).reason === 'rate limit exceeded').length;
    expect(limited).toBeGreaterThanOrEqual(8);
    expect(limited).toBeLessThanOrEqual(12);
    const s = g.counters.stats();
    expect(s.strikes).toMatchObject({ 'before-hello': 1, schema: 2 + 1 + 30 - limited, 'rate-limit': limited, 'unknown-event': 1 });
    expect(s.closed['unknown-session']).toBe(1);
    expect(c.socket.connected).toBe(true); // 34 strikes of all classes: under 50
  });

  it('progress reports over the rate limit are dropped with the reason, one strike per 20: short rounds close no honest client', async () => {
    const g = await gateway();
    const c = await g.connect();
    await hello(c.socket);
    const report = { roundId: 'r', phase: 'encoding', progress: 0.5 };
    // The report bucket holds 20: of 100 at once about 80 are dropped, worth 4 strikes, and the client stays.
    const answers = await Promise.all(Array.from({ length: 100 }, () => c.socket.emitWithAck(EVENTS.report, report)));
    const dropped = answers.filter((a) => (a as { reason?: string }).reason === 'rate limit exceeded').length;
    expect(dropped).toBeGreaterThanOrEqual(75);
    const s = g.counters.stats();
    expect(s.reportsDropped).toBe(dropped);
    expect(s.strikes['rate-limit']).toBe(Math.floor(dropped / REPORT_DROPS_PER_STRIKE));
    expect(c.socket.connected).toBe(true);
  });

  it('a late SecAgg message (its round is not in progress) is acked with the reason and is a wrong-round strike', async () => {
    const g = await gateway({ limits: { strikeLimits: { 'wrong-round': 3 } } });
    const c = await g.connect();
    await hello(c.socket);
    expect(await c.socket.emitWithAck(EVENTS.secagg, lateMaskedInput)).toEqual({ ok: false, reason: 'round r-old is not in progress' });
    await c.socket.emitWithAck(EVENTS.secagg, lateMaskedInput);
    c.socket.emit(EVENTS.secagg, lateMaskedInput);
    expect(await c.bye).toMatch(/^too many invalid messages \(3 wrong-round of 3/);
    expect(g.counters.stats().strikes['wrong-round']).toBe(3);
  });

  it('forgets strikes older than the strike window', async () => {
    const clock = fakeClock();
    const g = await gateway({ limits: { strikeLimits: { 'unknown-event': 3 } }, now: clock.now });
    const c = await g.connect();
    await hello(c.socket);
    for (let i = 0; i < 2; i++) await c.socket.emitWithAck('frobnicate', i);
    clock.advance(60_000);
    for (let i = 0; i < 2; i++) await c.socket.emitWithAck('frobnicate', i);
    expect(c.socket.connected).toBe(true);
    await c.socket.emitWithAck('frobnicate', 5);
    expect(await c.gone).toBe('io server disconnect');
    expect(g.counters.stats().strikes['unknown-event']).toBe(5);
  });

  it('closes a connection after maxStrikes of all classes together', async () => {
    const g = await gateway({ limits: { maxStrikes: 4 } });
    const c = await g.connect();
    await hello(c.socket);
    await c.socket.emitWithAck('frobnicate', 1);
    await c.socket.emitWithAck(EVENTS.report, { phase: 'nope' });
    await c.socket.emitWithAck(EVENTS.secagg, {});
    c.socket.emit('frobnicate', 2);
    expect(await c.bye).toMatch(/^too many invalid messages \(2 unknown-event of 4/);
  });
});

describe('bounded logs', () => {
  it('a flood of one kind is one line at once, then one summary per interval with the count', async () => {
    const g = await gateway({ limits: { strikeLimits: { 'unknown-event': 10_000 }, maxStrikes: 10_000 }, logIntervalMs: 1000 });
    const c = await g.connect();
    await hello(c.socket);
    for (let i = 0; i < 300; i++) c.socket.emit('frobnicate', i);
    await c.socket.emitWithAck('frobnicate', 'last');
    const lines = () => g.warnings.filter((w) => w.includes('unknown event'));
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatch(/^dropped a client message: unknown event .*"class":"unknown-event","count":1/);
    await settle(1200);
    expect(lines()).toHaveLength(2);
    expect(lines()[1]).toMatch(/^dropped a client message: unknown event .*"count":300,"summary":true/);
    await settle(1200); // quiet: no more lines
    expect(lines()).toHaveLength(2);
    expect(g.counters.stats().strikes['unknown-event']).toBe(301);
  });
});
