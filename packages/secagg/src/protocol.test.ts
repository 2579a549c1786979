/**
 * The whole protocol with real cryptography: correct sums with dropouts at every stage, aborts that name the
 * client whose secret cannot be recovered, and every kind of bad input refused with a typed error while the
 * honest parties finish the round.
 */
import { describe, expect, it } from 'vitest';
import { SecAggClient } from './client.ts';
import { SecAggError } from './errors.ts';
import type { SecAggClientMessage, SecAggConfig, SecAggServerMessage, UnmaskRequestMsg } from './messages.ts';
import { graphCommitment } from './graphSeed.ts';
import { chooseSecAggParams } from './params.ts';
import { SecAggServer, type SecAggResult } from './server.ts';
import { simulateSecAggRound } from './simulate.ts';
import { DROP_POINTS, type DropPoint } from './stages.ts';
import { nobleSuite, webCryptoSuite } from './suite.ts';
import { addInPlace } from './vector.ts';

/** A small deterministic generator for test inputs only (protocol randomness comes from the CSPRNG). */
function xorshift(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function makeInputs(ids: number[], dim: number, bits: number, seed: number) {
  const rnd = xorshift(seed);
  const mod = 2 ** bits;
  return new Map(ids.map((id) => [id, Uint32Array.from({ length: dim }, () => rnd() % mod)]));
}

function plainSum(inputs: Map<number, Uint32Array>, ids: readonly number[], dim: number, bits: number) {
  const s = new Uint32Array(dim);
  for (const id of ids) addInPlace(s, inputs.get(id)!, bits);
  return s;
}

/**
 * These tests exercise the protocol's mechanics at any structurally valid (k, t): the clients are told to
 * assume no colluders and no dropouts; params.test.ts covers what a run requires.
 */
const MECHANICS = { dropoutRate: 0, maxColluders: 0 } as const;

/** A round's config and the coordinator's graph value r_S behind its commitment. */
function config(ids: number[], dim: number, bits: number, k?: number, t?: number, roundId = 'test-round'): SecAggConfig & { graphValue: Uint8Array } {
  const p = chooseSecAggParams(ids.length, { maxColluders: 0 });
  const graphValue = globalThis.crypto.getRandomValues(new Uint8Array(32));
  return {
    roundId,
    clients: ids,
    bits,
    dim,
    neighbours: k ?? p.neighbours,
    threshold: t ?? p.threshold,
    graphCommitment: graphCommitment(roundId, graphValue),
    graphValue,
  };
}

describe('complete rounds', () => {
  it('sums exactly with no dropouts (sparse graph, n = 60, B = 32)', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => 100 + i);
    const cfg = config(ids, 200, 32, 10, 6);
    const inputs = makeInputs(ids, 200, 32, 1);
    const r = await simulateSecAggRound({ requirement: MECHANICS, config: cfg, inputs });
    expect(r.error).toBeUndefined();
    expect(r.included).toEqual(ids);
    expect(Array.from(r.sum!)).toEqual(Array.from(plainSum(inputs, ids, 200, 32)));
    expect(r.warnings).toEqual([]);
  });

  it('recovers from a dropout at every stage and sums exactly the accepted inputs', async () => {
    const ids = Array.from({ length: 16 }, (_, i) => i + 1);
    const drops = new Map<number, DropPoint>([
      [2, 'before-advertise'],
      [4, 'after-advertise'],
      [7, 'after-share'],
      [9, 'after-masked-input'],
      [13, 'during-unmask'],
    ]);
    const inputs = makeInputs(ids, 500, 16, 2);
    const r = await simulateSecAggRound({ requirement: MECHANICS, config: config(ids, 500, 16), inputs, drops });
    expect(r.error).toBeUndefined();
    const included = ids.filter((id) => ![2, 4, 7].includes(id));
    expect(r.included).toEqual(included);
    expect(Array.from(r.sum!)).toEqual(Array.from(plainSum(inputs, included, 500, 16)));
    expect(r.dropped).toEqual({ 2: 'advertise-keys', 4: 'share-keys', 7: 'masked-input', 9: 'consistency-check', 13: 'unmasking' });
  });

  it('runs with clients on WebCrypto and on noble in the same round', async () => {
    const ids = [1, 2, 3, 4, 5, 6];
    const cfg = config(ids, 64, 20);
    const inputs = makeInputs(ids, 64, 20, 3);
    const server = await SecAggServer.create(cfg, cfg.graphValue, { suite: webCryptoSuite() });
    const clients = await Promise.all(
      ids.map((id) => SecAggClient.create(cfg, id, inputs.get(id)!, { suite: id % 2 ? nobleSuite() : webCryptoSuite(), requirement: MECHANICS })),
    );
    const result = await runHonest(server, clients, new Set([3]));
    expect(Array.from(result.sum)).toEqual(Array.from(plainSum(inputs, ids, 64, 20)));
  });
});

describe('property: random n, dimension and drops — the exact sum or a forced abort, never a wrong sum', () => {
  const rnd = xorshift(20261125);
  for (let trial = 0; trial < 30; trial++) {
    const n = 2 + (rnd() % 59);
    const dim = 1 + (rnd() % 300);
    const bits = 1 + (rnd() % 32);
    const dropRate = [0, 0.05, 0.15, 0.4][rnd() % 4]!;
    it(`trial ${trial}: n=${n}, d=${dim}, B=${bits}, drop rate ${dropRate}`, async () => {
      const ids = Array.from({ length: n }, (_, i) => 1 + i * 2 + (rnd() % 2));
      const drops = new Map<number, DropPoint>();
      for (const id of ids) if (rnd() / 2 ** 32 < dropRate) drops.set(id, DROP_POINTS[rnd() % DROP_POINTS.length]!);
      const inputs = makeInputs(ids, dim, bits, trial + 10);
      const cfg = config(ids, dim, bits, undefined, undefined, `prop-${trial}`);
      const r = await simulateSecAggRound({ requirement: MECHANICS, config: cfg, inputs, drops });
      if (r.error) {
        expect(r.error).toBeInstanceOf(SecAggError);
        expect(r.error.code).toBe('unrecoverable');
        expect(r.sum).toBeUndefined();
        // The abort was forced, checked from the graph and the drops alone: with no drops there is none; a
        // named client had fewer than t neighbours that stayed to the end (the server may also have cut
        // neighbours with too few live neighbours of their own, which only lowers the count).
        expect(drops.size).toBeGreaterThan(0);
        const v = r.error.clientId;
        if (v !== undefined) {
          const stayed = (r.graph.get(v) ?? []).filter((w) => !drops.has(w) && !(w in r.dropped));
          expect(stayed.length).toBeLessThan(cfg.threshold);
        } else {
          expect(r.error.message).toMatch(/client\(s\) (advertised|shared|sent a masked input)/);
          if (r.error.message.includes('advertised')) expect(ids.filter((id) => drops.get(id) !== 'before-advertise').length).toBeLessThan(3);
        }
        return;
      }
      if (drops.size === 0) expect(r.included).toEqual(ids);
      // Included are exactly the clients whose masked input the server accepted.
      // Drop points are ordered by the messages sent before them (stages.test.ts): the first three come
      // before the masked input.
      const sentMaskedInput = (point: DropPoint) => !DROP_POINTS.slice(0, 3).includes(point);
      const sentMasked = ids.filter((id) => {
        const point = drops.get(id);
        return point === undefined || sentMaskedInput(point);
      });
      for (const id of r.included!) expect(sentMasked).toContain(id);
      for (const id of sentMasked) if (!(id in r.dropped)) expect(r.included).toContain(id);
      expect(Array.from(r.sum!)).toEqual(Array.from(plainSum(inputs, r.included!, dim, bits)));
    });
  }
});

describe('unrecoverable rounds abort with an error naming the client', () => {
  it('too many dropouts after the masked input', async () => {
    const ids = [1, 2, 3, 4, 5];
    const drops = new Map<number, DropPoint>([
      [1, 'after-masked-input'],
      [2, 'after-masked-input'],
      [3, 'after-masked-input'],
    ]);
    const r = await simulateSecAggRound({ requirement: MECHANICS, config: config(ids, 10, 8, 4, 3), inputs: makeInputs(ids, 10, 8, 4), drops });
    expect(r.sum).toBeUndefined();
    expect(r.error?.code).toBe('unrecoverable');
    expect(r.error?.clientId).toBeDefined();
    expect(r.error?.message).toMatch(
      /cannot unmask client \d+: only 2 of the neighbours holding shares of its self-mask seed signed the survivor set, the threshold is t=3/,
    );
  });

  it('too many dropouts during the unmasking', async () => {
    const ids = [1, 2, 3, 4, 5];
    const drops = new Map<number, DropPoint>([
      [4, 'during-unmask'],
      [5, 'during-unmask'],
      [3, 'during-unmask'],
    ]);
    const r = await simulateSecAggRound({ requirement: MECHANICS, config: config(ids, 10, 8, 4, 3), inputs: makeInputs(ids, 10, 8, 5), drops });
    expect(r.error?.code).toBe('unrecoverable');
    expect(r.error?.message).toMatch(/cannot unmask client 1: 1 of the t=3 shares of its self-mask seed arrived/);
  });
});

/** Drives an honest round by hand; `silent` clients stop after their masked input. */
async function runHonest(server: SecAggServer, clients: SecAggClient[], silent = new Set<number>()) {
  const byId = new Map(clients.map((c) => [c.id, c]));
  for (const c of clients) expect(await server.receive(await c.advertise())).toBeNull();
  for (;;) {
    const step = await server.advance();
    if (step.error) throw step.error;
    if (step.result) return step.result;
    for (const m of step.outgoing) {
      if (silent.has(m.to) && (m.type === 'survivors' || m.type === 'unmask-request')) continue;
      const out = await byId.get(m.to)!.handle(m);
      if (out.outgoing) expect(await server.receive(out.outgoing)).toBeNull();
    }
  }
}

/** Runs the round stage by stage, letting a test tamper with one stage's traffic. */
async function stagedRound(n = 6, dim = 32, bits = 16) {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const cfg = config(ids, dim, bits);
  const inputs = makeInputs(ids, dim, bits, 9);
  const server = await SecAggServer.create(cfg, cfg.graphValue);
  const clients = new Map<number, SecAggClient>();
  for (const id of ids) clients.set(id, await SecAggClient.create(cfg, id, inputs.get(id)!, { requirement: MECHANICS }));
  const advertisements = await Promise.all(ids.map((id) => clients.get(id)!.advertise()));
  /** Deliver server messages, collect the clients' replies (without giving them to the server). */
  const toClients = async (msgs: readonly SecAggServerMessage[]) => {
    const replies: SecAggClientMessage[] = [];
    for (const m of msgs) {
      const out = await clients.get(m.to)!.handle(m);
      expect(out.aborted).toBeUndefined();
      if (out.outgoing) replies.push(out.outgoing);
    }
    return replies;
  };
  const finish = async (replies: SecAggClientMessage[]) => {
    for (;;) {
      for (const r of replies) expect(await server.receive(r)).toBeNull();
      const step = await server.advance();
      if (step.error) throw step.error;
      if (step.result) return step.result;
      replies = await toClients(step.outgoing);
    }
  };
  return { ids, cfg, inputs, server, clients, advertisements, toClients, finish, expected: plainSum(inputs, ids, dim, bits) };
}

describe('bad input is refused with a typed error and the round still completes', () => {
  it('server: wrong round, wrong stage, unknown client, duplicate/replayed message, malformed keys', async () => {
    const r = await stagedRound();
    const ad = r.advertisements[0]!;
    expect(await r.server.receive({ ...ad, roundId: 'another-round' })).toMatchObject({ code: 'wrong-round' });
    expect(await r.server.receive({ type: 'masked-input', roundId: r.cfg.roundId, from: 1, bits: r.cfg.bits, masked: new Uint32Array(32) })).toMatchObject({
      code: 'wrong-stage',
    });
    expect(await r.server.receive({ ...ad, from: 99 })).toMatchObject({ code: 'unknown-client' });
    expect(await r.server.receive({ ...ad, encryptionKey: new Uint8Array(31) })).toMatchObject({ code: 'malformed-key' });
    expect(await r.server.receive({ ...ad, maskingKey: new Uint8Array(32) })).toMatchObject({ code: 'malformed-key' });
    expect(await r.server.receive({ not: 'a message' } as never)).toMatchObject({ code: 'bad-message' });
    expect(await r.server.receive(null as never)).toMatchObject({ code: 'bad-message' });
    expect(await r.server.receive(ad)).toBeNull();
    expect(await r.server.receive(ad)).toMatchObject({ code: 'duplicate', clientId: 1 });
    const result = await r.finish(r.advertisements.slice(1));
    expect(Array.from(result.sum)).toEqual(Array.from(r.expected));
  });

  it('server: masked input of the wrong length or with values >= 2^B', async () => {
    const r = await stagedRound();
    for (const a of r.advertisements) await r.server.receive(a);
    let step = await r.server.advance();
    const shares = await r.toClients(step.outgoing);
    for (const s of shares) await r.server.receive(s);
    step = await r.server.advance();
    const masked = (await r.toClients(step.outgoing)) as Extract<SecAggClientMessage, { type: 'masked-input' }>[];
    const m = masked[0]!;
    expect(await r.server.receive({ ...m, masked: m.masked.slice(1) })).toMatchObject({ code: 'bad-length', clientId: m.from });
    const big = m.masked.slice();
    big[5] = 65536;
    expect(await r.server.receive({ ...m, masked: big })).toMatchObject({ code: 'out-of-range' });
    expect(await r.server.receive({ ...m, masked: Array.from(m.masked) as never })).toMatchObject({ code: 'bad-message' });
    // Another ring than the round's (the words would fit 2^17 too): refused, whatever the values.
    expect(await r.server.receive({ ...m, bits: m.bits + 1 })).toMatchObject({
      code: 'bad-message',
      message: expect.stringMatching(/mod 2\^17; the round is mod 2\^16/),
    });
    const result = await r.finish(masked);
    expect(Array.from(result.sum)).toEqual(Array.from(r.expected));
  });

  it('server: shares to a non-neighbour or of the wrong size; a forged consistency signature', async () => {
    const r = await stagedRound();
    for (const a of r.advertisements) await r.server.receive(a);
    let step = await r.server.advance();
    const shares = (await r.toClients(step.outgoing)) as Extract<SecAggClientMessage, { type: 'share-keys' }>[];
    const s = shares[0]!;
    expect(await r.server.receive({ ...s, shares: s.shares.slice(1) })).toMatchObject({ code: 'bad-message' });
    expect(await r.server.receive({ ...s, shares: s.shares.map((x, i) => (i ? x : { ...x, to: 42 })) })).toMatchObject({ code: 'bad-message' });
    expect(await r.server.receive({ ...s, shares: s.shares.map((x, i) => (i ? x : { ...x, ciphertext: x.ciphertext.slice(1) })) })).toMatchObject({
      code: 'bad-message',
    });
    for (const x of shares) expect(await r.server.receive(x)).toBeNull();
    step = await r.server.advance();
    const masked = await r.toClients(step.outgoing);
    for (const x of masked) await r.server.receive(x);
    step = await r.server.advance();
    const sigs = (await r.toClients(step.outgoing)) as Extract<SecAggClientMessage, { type: 'consistency-signature' }>[];
    const forged = sigs[0]!.signature.slice();
    forged[10]! ^= 4;
    expect(await r.server.receive({ ...sigs[0]!, signature: forged })).toMatchObject({ code: 'bad-signature' });
    const result = await r.finish(sigs);
    expect(Array.from(result.sum)).toEqual(Array.from(r.expected));
  });

  it('client: a share box that fails GCM authentication is reported; the sum is still exact', async () => {
    const r = await stagedRound(7);
    for (const a of r.advertisements) await r.server.receive(a);
    let step = await r.server.advance();
    const shares = await r.toClients(step.outgoing);
    for (const s of shares) await r.server.receive(s);
    step = await r.server.advance();
    const replies: SecAggClientMessage[] = [];
    for (const m of step.outgoing) {
      let msg = m;
      if (m.type === 'shares-for-you' && m.to === 3) {
        msg = { ...m, shares: m.shares.map((s) => (s.from === 5 ? { ...s, ciphertext: flip(s.ciphertext, 40) } : s)) };
      }
      const out = await r.clients.get(m.to)!.handle(msg);
      if (m.to === 3) {
        expect(out.warnings).toHaveLength(1);
        expect(out.warnings[0]).toMatchObject({ code: 'auth-failed', clientId: 5 });
      }
      replies.push(out.outgoing!);
    }
    const result = await r.finish(replies);
    expect(Array.from(result.sum)).toEqual(Array.from(r.expected));
  });

  it('client: messages for another round, out of order, replayed or addressed to someone else are ignored', async () => {
    const r = await stagedRound();
    for (const a of r.advertisements) await r.server.receive(a);
    const step = await r.server.advance();
    const m = step.outgoing.find((x) => x.to === 2)!;
    const c = r.clients.get(2)!;
    expect((await c.handle({ ...m, roundId: 'x' })).warnings[0]).toMatchObject({ code: 'wrong-round' });
    expect((await c.handle({ ...m, to: 3 })).warnings[0]).toMatchObject({ code: 'bad-message' });
    expect((await c.handle({ type: 'survivors', roundId: r.cfg.roundId, to: 2, survivors: [1, 2] })).warnings[0]).toMatchObject({ code: 'wrong-stage' });
    const first = await c.handle(m);
    expect(first.outgoing?.type).toBe('share-keys');
    expect((await c.handle(m)).warnings[0]).toMatchObject({ code: 'replay' });
    expect(c.state).toBe('shared');
  });

  it('client: neighbour keys naming a non-neighbour or a small-order key make it abort', async () => {
    const r = await stagedRound();
    for (const a of r.advertisements) await r.server.receive(a);
    const step = await r.server.advance();
    const m = step.outgoing.find((x) => x.to === 1)! as Extract<SecAggServerMessage, { type: 'neighbour-keys' }>;
    const cfg = r.cfg;
    const fresh = async () => {
      const c = await SecAggClient.create(cfg, 1, r.inputs.get(1)!, { requirement: MECHANICS });
      await c.advertise();
      return c;
    };
    const a = await fresh();
    const outA = await a.handle({ ...m, keys: [...m.keys, { ...m.keys[0]!, id: 77 }] });
    expect(outA.aborted).toMatchObject({ code: 'protocol-violation' });
    expect(outA.outgoing).toBeUndefined();
    const b = await fresh();
    const outB = await b.handle({ ...m, keys: m.keys.map((k, i) => (i ? k : { ...k, maskingKey: new Uint8Array(32) })) });
    expect(outB.aborted).toMatchObject({ code: 'protocol-violation' });
    expect(b.state).toBe('aborted');
    expect((await b.handle(m)).warnings[0]).toMatchObject({ code: 'aborted' });
  });

  it('client: refuses to reveal both shares of one client, a self-mask share of a dropped client, or twice', async () => {
    const r = await stagedRound(9);
    for (const a of r.advertisements) await r.server.receive(a);
    let step = await r.server.advance();
    for (const s of await r.toClients(step.outgoing)) await r.server.receive(s);
    step = await r.server.advance();
    for (const s of await r.toClients(step.outgoing)) await r.server.receive(s);
    step = await r.server.advance();
    for (const s of await r.toClients(step.outgoing)) await r.server.receive(s);
    step = await r.server.advance();
    const requests = step.outgoing as UnmaskRequestMsg[];
    const req = requests.find((x) => x.to === 1)!;
    const victim = req.revealSelfMaskOf[0]!;
    const greedy = await r.clients.get(1)!.handle({ ...req, revealMaskKeyOf: [victim] });
    expect(greedy.aborted).toMatchObject({ code: 'protocol-violation' });
    expect(greedy.aborted!.message).toMatch(new RegExp(`both the self-mask and the mask-key shares of client ${victim}`));
    expect(greedy.outgoing).toBeUndefined();

    const req2 = requests.find((x) => x.to === 2)!;
    const dropped = await r.clients.get(2)!.handle({ ...req2, revealSelfMaskOf: [], revealMaskKeyOf: [req2.revealSelfMaskOf[0]!] });
    expect(dropped.aborted).toMatchObject({ code: 'protocol-violation' });

    const req3 = requests.find((x) => x.to === 3)!;
    const forged = await r.clients.get(3)!.handle({ ...req3, signatures: req3.signatures.map((s, i) => (i ? s : { ...s, signature: flip(s.signature, 3) })) });
    expect(forged.aborted).toMatchObject({ code: 'bad-signature' });

    const req4 = requests.find((x) => x.to === 4)!;
    const answer = await r.clients.get(4)!.handle(req4);
    expect(answer.outgoing?.type).toBe('unmask-shares');
    expect((await r.clients.get(4)!.handle({ ...req4, revealSelfMaskOf: [], revealMaskKeyOf: req4.revealSelfMaskOf })).warnings[0]).toMatchObject({
      code: 'replay',
    });
    // The round still completes with the honest answers: clients 4–9 leave every secret 5 >= t = 5 holders.
    expect(await r.server.receive(answer.outgoing!)).toBeNull();
    for (const id of [5, 6, 7, 8, 9]) {
      const out = await r.clients.get(id)!.handle(requests.find((x) => x.to === id)!);
      expect(await r.server.receive(out.outgoing!)).toBeNull();
    }
    const done = await r.server.advance();
    expect(done.error).toBeUndefined();
    expect(Array.from(done.result!.sum)).toEqual(Array.from(r.expected));
  });

  it('server: a wrong share beyond the decoder radius is found by erasures against the commitment, and named', async () => {
    const r = await stagedRound(5, 16, 16);
    for (const a of r.advertisements) await r.server.receive(a);
    let step = await r.server.advance();
    for (const s of await r.toClients(step.outgoing)) await r.server.receive(s);
    step = await r.server.advance();
    for (const s of await r.toClients(step.outgoing)) await r.server.receive(s);
    step = await r.server.advance();
    for (const s of await r.toClients(step.outgoing)) await r.server.receive(s);
    step = await r.server.advance();
    const answers = (await r.toClients(step.outgoing)) as Extract<SecAggClientMessage, { type: 'unmask-shares' }>[];
    // A malicious client 1 alters every share it reveals (still valid field elements).
    const evil = answers.find((a) => a.from === 1)!;
    const bad = { ...evil, selfMaskShares: evil.selfMaskShares.map((s) => ({ ...s, share: flip(s.share, 32) })) };
    expect(await r.server.receive(bad)).toBeNull();
    for (const a of answers) if (a.from !== 1) await r.server.receive(a);
    const done = await r.server.advance();
    // n = 5: k = 4, t = 3, so each seed has m = 4 shares, ⌊(m − t)/2⌋ = 0 correctable by the decoder; erasing
    // one share at a time, the decoding without client 1's verifies against the commitment.
    expect(done.error).toBeUndefined();
    expect(Array.from(done.result!.sum)).toEqual(Array.from(plainSum(r.inputs, r.ids, 16, 16)));
    expect(done.misbehaving?.map((m) => m.id)).toEqual([1]);
  });

  /** A round of 5 (k = 4, t = 3) up to the masked inputs, with client 1's share boxes to `poisoned` replaced by random bytes. */
  async function poisonedBoxes(poisoned: readonly number[]) {
    const r = await stagedRound(5, 16, 16);
    for (const a of r.advertisements) await r.server.receive(a);
    const shares = await r.toClients((await r.server.advance()).outgoing);
    for (const m of shares) {
      const out =
        m.type === 'share-keys' && m.from === 1
          ? {
              ...m,
              shares: m.shares.map((b) => (poisoned.includes(b.to) ? { ...b, ciphertext: crypto.getRandomValues(new Uint8Array(b.ciphertext.length)) } : b)),
            }
          : m;
      expect(await r.server.receive(out)).toBeNull();
    }
    const masked = (await r.toClients((await r.server.advance()).outgoing)) as Extract<SecAggClientMessage, { type: 'masked-input' }>[];
    return { r, masked };
  }

  it('share boxes that do not open are reported with the masked input; a poisoner of all its boxes is blamed before any unmasking', async () => {
    const { r, masked } = await poisonedBoxes([2, 3, 4, 5]);
    for (const m of masked) expect(m.unopenedShareBoxes).toEqual(m.from === 1 ? undefined : [1]);
    for (const m of masked) expect(await r.server.receive(m)).toBeNull();
    const step = await r.server.advance();
    // Aborted at the close of MaskedInputCollection: no unmask request ever went out.
    expect(step.state).toBe('aborted');
    expect(step.outgoing).toEqual([]);
    expect(step.error).toMatchObject({ code: 'unrecoverable', clientId: 1 });
    expect(step.error!.message).toMatch(/only 0 of the neighbours .* \(4 could not open its share box\)/);
    expect(step.misbehaving?.map((m) => m.id)).toEqual([1]);
    expect(step.misbehaving![0]!.reason).toMatch(/client 1's share boxes to 2, 3, 4, 5 did not open/);
  });

  it('one unopenable share box is reported, blames nobody, and the round completes from the other holders', async () => {
    const { r, masked } = await poisonedBoxes([2]);
    expect(masked.find((m) => m.from === 2)!.unopenedShareBoxes).toEqual([1]);
    expect(masked.filter((m) => m.from !== 2).every((m) => m.unopenedShareBoxes === undefined)).toBe(true);
    expect(await r.finish(masked)).toMatchObject({ included: r.ids });
  });

  it('server: a report of a share box it never forwarded is refused', async () => {
    const { r, masked } = await poisonedBoxes([]);
    const m = masked.find((x) => x.from === 2)!;
    expect(await r.server.receive({ ...m, unopenedShareBoxes: [2] })).toMatchObject({ code: 'bad-message' });
    expect(await r.server.receive({ ...m, unopenedShareBoxes: [3, 1] })).toMatchObject({ code: 'bad-message' });
    expect(await r.server.receive({ ...m, unopenedShareBoxes: [1, 3] })).toBeNull();
  });

  it('server: with more wrong shares than m − t, the round aborts and no wrong sum is output', async () => {
    // n = 5 (k = 4, t = 3). Clients 1 and 2 both alter their shares of client 3's seed: 2 of its 4 shares are
    // wrong, only 2 < t right.
    const { done } = await unmaskWithTampering(
      (a) => (a.from <= 2 ? { ...a, selfMaskShares: a.selfMaskShares.map((s) => (s.of === 3 ? { ...s, share: flip(s.share, 32) } : s)) } : a),
      5,
    );
    expect(done.result).toBeUndefined();
    expect(done.error).toMatchObject({ code: 'unrecoverable', clientId: 3 });
    expect(done.error!.message).toMatch(/client 3's self-mask seed from 4 shares cannot be reconstructed: its shares are inconsistent.*no erasure/);
    // Nothing verifies, so nobody is proven a liar.
    expect(done.misbehaving).toBeUndefined();
  });

  it('server: with redundancy, a client that flips a bit in every share it reveals is corrected and named', async () => {
    // n = 9: k = 8, t = 5, so every secret has m = 8 shares and one wrong share per secret is corrected.
    const r = await stagedRound(9, 16, 16);
    for (const a of r.advertisements) await r.server.receive(a);
    let step = await r.server.advance();
    for (const s of await r.toClients(step.outgoing)) await r.server.receive(s);
    step = await r.server.advance();
    // Client 9 drops before its masked input: its mask key must be reconstructed too.
    for (const s of await r.toClients(step.outgoing.filter((m) => m.to !== 9))) await r.server.receive(s);
    step = await r.server.advance();
    expect(step.dropped).toEqual([9]);
    for (const s of await r.toClients(step.outgoing)) await r.server.receive(s);
    step = await r.server.advance();
    const answers = (await r.toClients(step.outgoing)) as Extract<SecAggClientMessage, { type: 'unmask-shares' }>[];
    const evil = answers.find((a) => a.from === 1)!;
    expect(evil.maskKeyShares.length).toBe(1);
    const bad = {
      ...evil,
      selfMaskShares: evil.selfMaskShares.map((s) => ({ ...s, share: flip(s.share, 32) })),
      maskKeyShares: evil.maskKeyShares.map((s) => ({ ...s, share: flip(s.share, 20) })),
    };
    expect(await r.server.receive(bad)).toBeNull();
    for (const a of answers) if (a.from !== 1) expect(await r.server.receive(a)).toBeNull();
    const done = await r.server.advance();
    expect(done.error).toBeUndefined();
    expect(done.state).toBe('done');
    const survivors = r.ids.filter((id) => id !== 9);
    expect(done.result!.included).toEqual(survivors);
    expect(Array.from(done.result!.sum)).toEqual(Array.from(plainSum(r.inputs, survivors, 16, 16)));
    expect(done.misbehaving).toHaveLength(1);
    expect(done.misbehaving![0]!.id).toBe(1);
    expect(done.misbehaving![0]!.reason).toMatch(/client 1 sent wrong unmask shares of client 2's self-mask seed, .*dropped client 9's mask key/);
  });

  /** n clients (default 9: k = 8, t = 5, every seed has 8 shares, one error correctable), no dropouts, tampered reveals. */
  async function unmaskWithTampering(tamper: (a: Extract<SecAggClientMessage, { type: 'unmask-shares' }>) => SecAggClientMessage, n = 9) {
    const r = await stagedRound(n, 16, 16);
    for (const a of r.advertisements) await r.server.receive(a);
    let step = await r.server.advance();
    for (let stage = 0; stage < 3; stage++) {
      for (const s of await r.toClients(step.outgoing)) await r.server.receive(s);
      step = await r.server.advance();
    }
    const answers = (await r.toClients(step.outgoing)) as Extract<SecAggClientMessage, { type: 'unmask-shares' }>[];
    for (const a of answers) expect(await r.server.receive(tamper(a))).toBeNull();
    return { r, done: await r.server.advance() };
  }

  it('server: two liars on every share exceed the redundancy of each seed but not once the proven one is erased', async () => {
    // Seeds of 3…9 see 2 wrong shares of 8 (too many); the seed of 1 sees only client 2's, of 2 only 1's, so
    // both are proven, and without their shares every other seed decodes (6 shares, t = 5, none wrong).
    const { r, done } = await unmaskWithTampering((a) =>
      a.from <= 2 ? { ...a, selfMaskShares: a.selfMaskShares.map((s) => ({ ...s, share: flip(s.share, 32) })) } : a,
    );
    expect(done.error).toBeUndefined();
    expect(Array.from(done.result!.sum)).toEqual(Array.from(r.expected));
    expect(done.misbehaving?.map((m) => m.id)).toEqual([1, 2]);
  });

  it('server: three liars on one seed of 8 shares exceed the decoder, the erasure search names all three', async () => {
    // Client 1 corrupts every share; clients 2 and 3 only their shares of client 4's seed: 3 wrong of 8, t = 5.
    const { r, done } = await unmaskWithTampering((a) =>
      a.from <= 3 ? { ...a, selfMaskShares: a.selfMaskShares.map((s) => (a.from === 1 || s.of === 4 ? { ...s, share: flip(s.share, 32) } : s)) } : a,
    );
    expect(done.error).toBeUndefined();
    expect(Array.from(done.result!.sum)).toEqual(Array.from(r.expected));
    expect(done.misbehaving?.map((m) => m.id)).toEqual([1, 2, 3]);
  });

  it('server: too many liars for any recovery still abort, naming the liars proven on other secrets', async () => {
    // Client 1 corrupts every share; clients 2, 3 and 5 their shares of client 4's seed: 4 wrong of 8 < t right.
    const { done } = await unmaskWithTampering((a) =>
      a.from <= 3 || a.from === 5
        ? { ...a, selfMaskShares: a.selfMaskShares.map((s) => (a.from === 1 || s.of === 4 ? { ...s, share: flip(s.share, 32) } : s)) }
        : a,
    );
    expect(done.result).toBeUndefined();
    expect(done.state).toBe('aborted');
    expect(done.error).toMatchObject({ code: 'unrecoverable', clientId: 4 });
    // Client 1 is proven a liar on the other seeds; without its share client 4's seed has 7 shares, 3 wrong:
    // the round aborts, naming the proven liar (2, 3 and 5 are only suspects, not named).
    expect(done.error!.message).toMatch(
      /client 4's self-mask seed from 7 shares without the shares of proven liars 1 cannot be reconstructed.*proven to have sent wrong shares: 1$/,
    );
    expect(done.misbehaving?.map((m) => m.id)).toEqual([1]);
  });

  it('refuses bad configurations and inputs up front', async () => {
    const ids = [1, 2, 3, 4];
    const base = config(ids, 8, 8);
    await expect(SecAggServer.create({ ...base, threshold: 1, neighbours: 3 }, base.graphValue)).rejects.toMatchObject({ code: 'bad-parameters' });
    await expect(SecAggServer.create({ ...base, roundId: 'has|pipe' }, base.graphValue)).rejects.toMatchObject({ code: 'bad-parameters' });
    await expect(SecAggServer.create(base, new Uint8Array(32))).rejects.toThrow(/does not match the config graph commitment/);
    await expect(SecAggClient.create(config(ids, 8, 8), 9, new Uint32Array(8), { requirement: MECHANICS })).rejects.toMatchObject({ code: 'unknown-client' });
    await expect(SecAggClient.create(config(ids, 8, 8), 1, new Uint32Array(7), { requirement: MECHANICS })).rejects.toMatchObject({ code: 'bad-length' });
    await expect(SecAggClient.create(config(ids, 8, 8), 1, new Uint32Array(8).fill(256), { requirement: MECHANICS })).rejects.toMatchObject({
      code: 'out-of-range',
    });
  });
});

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const c = bytes.slice();
  c[at]! ^= 1;
  return c;
}

describe('snapshots (a reloaded tab continues its round)', () => {
  it('a client restored from a structured clone after every step finishes the round correctly', async () => {
    const ids = [1, 2, 3, 4, 5];
    const cfg = config(ids, 40, 16);
    const inputs = makeInputs(ids, 40, 16, 31);
    const server = await SecAggServer.create(cfg, cfg.graphValue);
    let clients = new Map<number, SecAggClient>();
    for (const id of ids) clients.set(id, await SecAggClient.create(cfg, id, inputs.get(id)!, { requirement: MECHANICS }));
    const reload = async () => {
      const next = new Map<number, SecAggClient>();
      for (const [id, c] of clients) next.set(id, await SecAggClient.restore(structuredClone(c.snapshot()), { requirement: MECHANICS }));
      clients = next;
    };
    for (const c of clients.values()) await server.receive(await c.advertise());
    await reload();
    let result: SecAggResult | undefined;
    for (;;) {
      const step = await server.advance();
      if (step.result) {
        result = step.result;
        break;
      }
      expect(step.error).toBeUndefined();
      for (const m of step.outgoing) {
        const out = await clients.get(m.to)!.handle(m);
        expect(out.aborted).toBeUndefined();
        await server.receive(out.outgoing!);
      }
      await reload();
    }
    expect(Array.from(result.sum)).toEqual(Array.from(plainSum(inputs, ids, 40, 16)));
    // After the reload, a finished client still refuses to answer again.
    const again = await clients
      .get(1)!
      .handle({ type: 'unmask-request', roundId: cfg.roundId, to: 1, signatures: [], revealSelfMaskOf: [], revealMaskKeyOf: [2] });
    expect(again.warnings[0]).toMatchObject({ code: 'replay' });
  });

  it('the server keeps one running sum of the masked inputs (O(d), not O(n·d)), restored after every step, with a dropout', async () => {
    const ids = [1, 2, 3, 4, 5, 6];
    const dim = 64;
    const cfg = config(ids, dim, 16);
    const inputs = makeInputs(ids, dim, 16, 7);
    let server = await SecAggServer.create(cfg, cfg.graphValue);
    const clients = new Map<number, SecAggClient>();
    for (const id of ids) clients.set(id, await SecAggClient.create(cfg, id, inputs.get(id)!, { requirement: MECHANICS }));
    const reload = async () => {
      server = await SecAggServer.restore(structuredClone(server.snapshot()));
    };
    for (const c of clients.values()) await server.receive(await c.advertise());
    await reload();
    let result: SecAggResult | undefined;
    let sawSum = false;
    for (;;) {
      const step = await server.advance();
      if (step.result) {
        result = step.result;
        break;
      }
      expect(step.error).toBeUndefined();
      for (const m of step.outgoing) {
        // Client 6 drops after sharing its keys: its input is not in the sum, its masks are removed.
        if (m.to === 6 && m.type !== 'neighbour-keys') continue;
        const out = await clients.get(m.to)!.handle(m);
        await server.receive(out.outgoing!);
      }
      const snap = server.snapshot();
      if (snap.maskedFrom?.length) {
        sawSum = true;
        expect(snap.masked).toBeUndefined();
        expect(snap.maskedSum!.byteLength).toBe(4 * dim);
      }
      await reload();
    }
    expect(sawSum).toBe(true);
    expect(result.included).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(result.sum)).toEqual(Array.from(plainSum(inputs, [1, 2, 3, 4, 5], dim, 16)));
  });

  it('restores an older (version 2) server snapshot that kept every masked input', async () => {
    const ids = [1, 2, 3, 4];
    const cfg = config(ids, 16, 12);
    const inputs = makeInputs(ids, 16, 12, 3);
    const server = await SecAggServer.create(cfg, cfg.graphValue);
    const clients = new Map<number, SecAggClient>();
    for (const id of ids) clients.set(id, await SecAggClient.create(cfg, id, inputs.get(id)!, { requirement: MECHANICS }));
    for (const c of clients.values()) await server.receive(await c.advertise());
    const inputsSent = new Map<number, Uint32Array>();
    let current = server;
    let result: SecAggResult | undefined;
    for (;;) {
      const step = await current.advance();
      if (step.result) {
        result = step.result;
        break;
      }
      for (const m of step.outgoing) {
        const out = await clients.get(m.to)!.handle(m);
        const msg = out.outgoing!;
        if (msg.type === 'masked-input') inputsSent.set(msg.from, msg.masked);
        await current.receive(msg);
      }
      if (current.state === 'consistency-check') {
        // What a version-2 snapshot held: each input, no running sum.
        const { maskedFrom: _f, maskedSum: _s, ...rest } = current.snapshot();
        const v2 = {
          ...rest,
          version: 2 as const,
          masked: [...inputsSent].map(([from, m]) => ({ from, masked: new Uint8Array(m.buffer.slice(m.byteOffset, m.byteOffset + m.byteLength)) })),
        };
        current = await SecAggServer.restore(structuredClone(v2));
      }
    }
    expect(Array.from(result.sum)).toEqual(Array.from(plainSum(inputs, ids, 16, 12)));
  });
});
