/**
 * The neighbour graph is not the coordinator's choice (issue 12 §1): commit, contribute, open. Each test
 * plays a coordinator that tries to pick the graph or to show different clients different graphs, and checks
 * that honest clients refuse before revealing anything.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecAggClient } from './client.ts';
import { neighbourGraph } from './graph.ts';
import { graphCommitment, graphSeedOf } from './graphSeed.ts';
import type { AdvertiseKeysMsg, NeighbourKeysMsg, SecAggClientMessage, SecAggConfig, SecAggServerMessage } from './messages.ts';
import { SecAggServer } from './server.ts';

const random32 = () => globalThis.crypto.getRandomValues(new Uint8Array(32));

function setup(n: number, k: number, t: number, roundId = 'graph-round') {
  const graphValue = random32();
  const cfg: SecAggConfig = {
    roundId,
    clients: Array.from({ length: n }, (_, i) => i + 1),
    bits: 16,
    dim: 8,
    neighbours: k,
    threshold: t,
    graphCommitment: graphCommitment(roundId, graphValue),
  };
  return { cfg, graphValue };
}

const input = (id: number) => Uint32Array.from({ length: 8 }, (_, i) => (id * 31 + i) % 65536);

async function advertised(cfg: SecAggConfig) {
  const clients = new Map<number, SecAggClient>();
  const ads = new Map<number, AdvertiseKeysMsg>();
  for (const id of cfg.clients) {
    // A small sparse graph to steer: the clients check only the structure (no colluders, no dropouts assumed).
    const c = await SecAggClient.create(cfg, id, input(id), { requirement: { dropoutRate: 0, maxColluders: 0 } });
    clients.set(id, c);
    ads.set(id, await c.advertise());
  }
  return { clients, ads };
}

const keysOf = (a: AdvertiseKeysMsg) => ({ id: a.from, encryptionKey: a.encryptionKey, maskingKey: a.maskingKey, signingKey: a.signingKey });

/** The neighbour-keys message a coordinator sends `to`, claiming U1 = `view` and the given neighbours. */
function neighbourKeys(
  cfg: SecAggConfig,
  value: Uint8Array,
  ads: Map<number, AdvertiseKeysMsg>,
  to: number,
  view: readonly number[],
  nb: readonly number[],
): NeighbourKeysMsg {
  return {
    type: 'neighbour-keys',
    roundId: cfg.roundId,
    to,
    graphValue: value,
    advertisers: view.map((id) => ({ id, contribution: ads.get(id)!.graphContribution })),
    keys: nb.map((v) => keysOf(ads.get(v)!)),
  };
}

describe('graph seed: commitment, contributions, opening', () => {
  it('the seed is SHA-256 over the documented encoding: domain, r_S, then (u32 id, r_u) ascending', () => {
    const value = random32();
    const list = [3, 9, 40].map((id) => ({ id, contribution: random32() }));
    const h = createHash('sha256').update(`hushfl/secagg/v1/graph-seed|round=r1|n=3|`).update(value);
    for (const a of list) h.update(Buffer.from([a.id >>> 24, (a.id >>> 16) & 255, (a.id >>> 8) & 255, a.id & 255])).update(a.contribution);
    expect(Buffer.from(graphSeedOf('r1', value, list)).toString('hex')).toBe(h.digest('hex'));
    const c = createHash('sha256').update('hushfl/secagg/v1/graph-commitment|round=r1|').update(value).digest('hex');
    expect(Buffer.from(graphCommitment('r1', value)).toString('hex')).toBe(c);
  });

  it('every input moves the seed; a list out of order or with a short contribution is refused', () => {
    const value = random32();
    const list = [1, 2, 3].map((id) => ({ id, contribution: random32() }));
    const seed = Buffer.from(graphSeedOf('r', value, list)).toString('hex');
    const other = (v: Uint8Array, l: typeof list, r = 'r') => Buffer.from(graphSeedOf(r, v, l)).toString('hex');
    expect(other(random32(), list)).not.toBe(seed);
    expect(other(value, [list[0]!, list[1]!, { id: 3, contribution: random32() }])).not.toBe(seed);
    expect(other(value, list.slice(0, 2))).not.toBe(seed);
    expect(other(value, list, 'r2')).not.toBe(seed);
    expect(() => graphSeedOf('r', value, [list[1]!, list[0]!])).toThrow(/ascending/);
    expect(() => graphSeedOf('r', value, [{ id: 1, contribution: new Uint8Array(31) }])).toThrow(/32 bytes/);
  });

  it('the honest server opens its value and every client derives the same graph over U1 from it', async () => {
    const { cfg, graphValue } = setup(12, 4, 3);
    const server = await SecAggServer.create(cfg, graphValue);
    const { clients, ads } = await advertised(cfg);
    for (const id of cfg.clients) if (id !== 7) expect(await server.receive(ads.get(id)!)).toBeNull(); // 7 never advertises
    const step = await server.advance();
    const u1 = cfg.clients.filter((id) => id !== 7);
    // Recomputed here from the advertised contributions alone.
    const seed = graphSeedOf(
      cfg.roundId,
      graphValue,
      u1.map((id) => ({ id, contribution: ads.get(id)!.graphContribution })),
    );
    const graph = await neighbourGraph(u1, 4, seed);
    for (const m of step.outgoing as NeighbourKeysMsg[]) {
      expect(m.advertisers.map((a) => a.id)).toEqual(u1);
      expect(m.keys.map((k) => k.id)).toEqual(graph.get(m.to));
      const out = await clients.get(m.to)!.handle(m);
      expect(out.aborted).toBeUndefined();
      expect(out.outgoing?.type).toBe('share-keys');
      expect([...clients.get(m.to)!.neighbours].sort((a, b) => a - b)).toEqual(graph.get(m.to));
    }
  });
});

describe('a coordinator that picks the graph is caught', () => {
  it('keys for a neighbourhood of its choosing (colluders 11 and 12 around client 1): client 1 aborts, shares nothing', async () => {
    const { cfg, graphValue } = setup(12, 4, 3);
    const { clients, ads } = await advertised(cfg);
    const honestSeed = graphSeedOf(
      cfg.roundId,
      graphValue,
      cfg.clients.map((id) => ({ id, contribution: ads.get(id)!.graphContribution })),
    );
    const derived = (await neighbourGraph(cfg.clients, 4, honestSeed)).get(1)!;
    // What a free choice of seed would buy: grind until 1 sits between the colluders.
    let chosen: readonly number[] = [];
    for (let i = 0; ; i++) {
      chosen = (await neighbourGraph(cfg.clients, 4, random32())).get(1)!;
      if (chosen.includes(11) && chosen.includes(12) && chosen.join() !== derived.join()) break;
      expect(i).toBeLessThan(10_000);
    }
    const out = await clients.get(1)!.handle(neighbourKeys(cfg, graphValue, ads, 1, cfg.clients, chosen));
    expect(out.aborted).toMatchObject({ code: 'protocol-violation' });
    expect(out.outgoing).toBeUndefined();
  });

  it('an opening that is not the committed value, or a list that drops, alters or invents contributions', async () => {
    const { cfg, graphValue } = setup(6, 5, 3);
    const { clients, ads } = await advertised(cfg);
    const all = cfg.clients;
    const nbOf1 = all.filter((v) => v !== 1);
    const cases: [string, NeighbourKeysMsg][] = [
      ['another value', neighbourKeys(cfg, random32(), ads, 1, all, nbOf1)],
      ['own contribution left out', { ...neighbourKeys(cfg, graphValue, ads, 1, all.slice(1), nbOf1) }],
      [
        'own contribution altered',
        {
          ...neighbourKeys(cfg, graphValue, ads, 1, all, nbOf1),
          advertisers: all.map((id) => ({ id, contribution: id === 1 ? random32() : ads.get(id)!.graphContribution })),
        },
      ],
      [
        'a client that was not selected',
        {
          ...neighbourKeys(cfg, graphValue, ads, 1, all, nbOf1),
          advertisers: [...all, 99].map((id) => ({ id, contribution: id === 99 ? random32() : ads.get(id)!.graphContribution })),
        },
      ],
      ['a list out of order', { ...neighbourKeys(cfg, graphValue, ads, 1, [...all].reverse(), nbOf1) }],
      ['a neighbour key withheld', neighbourKeys(cfg, graphValue, ads, 1, all, nbOf1.slice(1))],
      ['two advertisers', neighbourKeys(cfg, graphValue, ads, 1, [1, 2], [2])],
    ];
    for (const [what, msg] of cases) {
      const c = await SecAggClient.restore(structuredClone(clients.get(1)!.snapshot()), { requirement: { dropoutRate: 0, maxColluders: 0 } });
      const out = await c.handle(msg);
      expect(out.aborted, what).toMatchObject({ code: 'protocol-violation' });
      expect(out.outgoing, what).toBeUndefined();
    }
    // The same client accepts the honest opening.
    const ok = await clients.get(1)!.handle(neighbourKeys(cfg, graphValue, ads, 1, all, nbOf1));
    expect(ok.outgoing?.type).toBe('share-keys');
  });
});

/**
 * A hand-driven coordinator that shows `viewOf(u)` as U1 to each client u (complete graph, n = 5, t = 3):
 * client 5 advertises and then goes silent, so the survivor set is {1, 2, 3, 4} in every view.
 */
async function roundWithViews(viewOf: (u: number) => number[]) {
  const { cfg, graphValue } = setup(5, 4, 3);
  const { clients, ads } = await advertised(cfg);
  const live = [1, 2, 3, 4];
  const send = async (m: SecAggServerMessage) => {
    const out = await clients.get(m.to)!.handle(m);
    return out;
  };
  const shares = new Map<number, Extract<SecAggClientMessage, { type: 'share-keys' }>>();
  for (const u of live) {
    const view = viewOf(u);
    const out = await send(
      neighbourKeys(
        cfg,
        graphValue,
        ads,
        u,
        view,
        view.filter((v) => v !== u),
      ),
    );
    shares.set(u, out.outgoing as Extract<SecAggClientMessage, { type: 'share-keys' }>);
  }
  for (const u of live) {
    const inbox = live.flatMap((w) =>
      shares
        .get(w)!
        .shares.filter((s) => s.to === u)
        .map((s) => ({ from: w, ciphertext: s.ciphertext })),
    );
    const out = await send({ type: 'shares-for-you', roundId: cfg.roundId, to: u, shares: inbox });
    expect(out.outgoing?.type).toBe('masked-input');
  }
  const sigs = new Map<number, Uint8Array>();
  for (const u of live) {
    const out = await send({ type: 'survivors', roundId: cfg.roundId, to: u, survivors: live });
    sigs.set(u, (out.outgoing as Extract<SecAggClientMessage, { type: 'consistency-signature' }>).signature);
  }
  const answers = new Map<number, Awaited<ReturnType<typeof send>>>();
  for (const u of live) {
    const nb = live.filter((v) => v !== u);
    answers.set(
      u,
      await send({
        type: 'unmask-request',
        roundId: cfg.roundId,
        to: u,
        signatures: nb.map((id) => ({ id, signature: sigs.get(id)! })),
        revealSelfMaskOf: nb,
        revealMaskKeyOf: [],
      }),
    );
  }
  return answers;
}

describe('an equivocating coordinator (different advertiser lists to different clients)', () => {
  it('honest neighbours shown different lists refuse each other’s signatures and reveal no share', async () => {
    const full = [1, 2, 3, 4, 5];
    const withoutFive = [1, 2, 3, 4];
    const answers = await roundWithViews((u) => (u <= 2 ? full : withoutFive));
    for (const [u, out] of answers) {
      expect(out.aborted, `client ${u}`).toMatchObject({ code: 'bad-signature' });
      expect(out.outgoing).toBeUndefined();
    }
  });

  it('the same hand-driven round with one list for everyone reveals the shares (the router is sound)', async () => {
    const answers = await roundWithViews(() => [1, 2, 3, 4, 5]);
    for (const out of answers.values()) expect(out.outgoing?.type).toBe('unmask-shares');
  });
});
