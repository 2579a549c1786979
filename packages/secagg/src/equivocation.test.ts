/**
 * Issue 12 §1, the attack as the review ran it: a coordinator with two colluding clients tells some of the
 * victim's honest neighbours that the victim survived (they reveal shares of its self-mask seed b_v) and the
 * others that it dropped after sharing (they reveal shares of its mask key s_v^SK). The colluders reveal both
 * and sign both survivor sets, so each group also passes the ConsistencyCheck's t signatures. With the old
 * threshold of the complete graph (n = 20, k = 19, t = ⌊k/2⌋ + 1 = 10) that gives t shares of both secrets:
 * the coordinator strips every mask from the victim's masked input and reads its input exactly. With t chosen
 * so that C < 2t − k (maxColluders: 2 → t = 11), no split of the honest neighbours reaches t on both sides.
 */
import { describe, expect, it } from 'vitest';
import { SecAggClient } from './client.ts';
import { consistencyMessage } from './context.ts';
import { graphCommitment } from './graphSeed.ts';
import { applyMask, applyPairwiseMask, pairwiseSeed } from './masks.ts';
import type { AdvertiseKeysMsg, SecAggClientMessage, SecAggConfig } from './messages.ts';
import { chooseSecAggParams, type SecAggRequirement } from './params.ts';
import { decodeShare, reconstructSecret, type ShamirShare } from './shamir.ts';
import { defaultSuite } from './suite.ts';

const N = 20;
const IDS = Array.from({ length: N }, (_, i) => i + 1);
const VICTIM = 1;
const COLLUDERS = [19, 20];
const HONEST = IDS.filter((id) => id !== VICTIM && !COLLUDERS.includes(id)); // 17 clients
const DIM = 16;
const BITS = 16;
const input = (id: number) => Uint32Array.from({ length: DIM }, (_, i) => (id * 7919 + i * 104729) % 2 ** BITS);

type Msg<T extends SecAggClientMessage['type']> = Extract<SecAggClientMessage, { type: T }>;

/** Plays the whole round against real clients; `groupA` hears that the victim survived, the rest of HONEST that it dropped. */
async function equivocate(threshold: number, requirement: SecAggRequirement, groupA: readonly number[]) {
  const roundId = `equivocation-t${threshold}-a${groupA.length}`;
  const graphValue = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const cfg: SecAggConfig = {
    roundId,
    clients: IDS,
    bits: BITS,
    dim: DIM,
    neighbours: N - 1,
    threshold,
    graphCommitment: graphCommitment(roundId, graphValue),
  };
  const clients = new Map<number, SecAggClient>();
  const ads = new Map<number, AdvertiseKeysMsg>();
  for (const id of IDS) {
    const c = await SecAggClient.create(cfg, id, input(id), { requirement });
    clients.set(id, c);
    ads.set(id, await c.advertise());
  }
  const advertisers = IDS.map((id) => ({ id, contribution: ads.get(id)!.graphContribution }));
  const shares = new Map<number, Msg<'share-keys'>>();
  for (const u of IDS) {
    const keys = IDS.filter((v) => v !== u).map((v) => {
      const a = ads.get(v)!;
      return { id: v, encryptionKey: a.encryptionKey, maskingKey: a.maskingKey, signingKey: a.signingKey };
    });
    const out = await clients.get(u)!.handle({ type: 'neighbour-keys', roundId, to: u, graphValue, advertisers, keys });
    shares.set(u, out.outgoing as Msg<'share-keys'>);
  }
  const masked = new Map<number, Uint32Array>();
  for (const u of IDS) {
    const inbox = IDS.filter((w) => w !== u).map((w) => ({ from: w, ciphertext: shares.get(w)!.shares.find((s) => s.to === u)!.ciphertext }));
    const out = await clients.get(u)!.handle({ type: 'shares-for-you', roundId, to: u, shares: inbox });
    masked.set(u, (out.outgoing as Msg<'masked-input'>).masked);
  }
  // The colluders' state is the coordinator's: their held shares and signing keys.
  const colluderState = COLLUDERS.map((id) => clients.get(id)!.snapshot());
  const seed = colluderState[0]!.graph!.seed;
  const groupB = HONEST.filter((id) => !groupA.includes(id));
  const all = IDS;
  const withoutVictim = IDS.filter((id) => id !== VICTIM);
  const suite = await defaultSuite();
  const signatures = new Map<number, Uint8Array>();
  for (const u of [VICTIM, ...groupA, ...groupB]) {
    const out = await clients.get(u)!.handle({ type: 'survivors', roundId, to: u, survivors: groupB.includes(u) ? withoutVictim : all });
    signatures.set(u, (out.outgoing as Msg<'consistency-signature'>).signature);
  }
  const colluderSignature = async (survivors: readonly number[]) =>
    Promise.all(
      colluderState.map(async (s) => ({ id: s.id, signature: await suite.ed25519Sign(s.signing!.privateKey, consistencyMessage(roundId, seed, survivors)) })),
    );
  const sigsA = [...[VICTIM, ...groupA].map((id) => ({ id, signature: signatures.get(id)! })), ...(await colluderSignature(all))];
  const sigsB = [...groupB.map((id) => ({ id, signature: signatures.get(id)! })), ...(await colluderSignature(withoutVictim))];

  const selfShares: ShamirShare[] = [];
  const keyShares: ShamirShare[] = [];
  let refusals = 0;
  for (const u of [...groupA, ...groupB]) {
    const inA = groupA.includes(u);
    const out = await clients.get(u)!.handle({
      type: 'unmask-request',
      roundId,
      to: u,
      signatures: (inA ? sigsA : sigsB).filter((s) => s.id !== u),
      revealSelfMaskOf: (inA ? all : withoutVictim).filter((id) => id !== u),
      revealMaskKeyOf: inA ? [] : [VICTIM],
    });
    if (out.aborted) {
      refusals++;
      continue;
    }
    const answer = out.outgoing as Msg<'unmask-shares'>;
    for (const s of answer.selfMaskShares) if (s.of === VICTIM) selfShares.push(decodeShare(u, s.share));
    for (const s of answer.maskKeyShares) if (s.of === VICTIM) keyShares.push(decodeShare(u, s.share));
  }
  for (const s of colluderState) {
    const held = new Map(s.held).get(VICTIM)!;
    selfShares.push(decodeShare(s.id, held.selfMaskShare));
    keyShares.push(decodeShare(s.id, held.maskKeyShare));
  }
  return { selfShares, keyShares, refusals, masked: masked.get(VICTIM)!, ads, roundId, suite };
}

/** The victim's input from its masked input, once both of its secrets are known. */
async function unmaskVictim(r: Awaited<ReturnType<typeof equivocate>>, threshold: number): Promise<Uint32Array> {
  const selfSeed = reconstructSecret(r.selfShares, threshold);
  const maskKey = reconstructSecret(r.keyShares, threshold);
  const x = r.masked.slice();
  await applyMask(x, selfSeed, -1, BITS);
  for (const w of IDS.filter((id) => id !== VICTIM)) {
    const seed = await pairwiseSeed(r.suite, r.roundId, VICTIM, maskKey, w, r.ads.get(w)!.maskingKey);
    await applyPairwiseMask(x, seed, w, VICTIM, BITS); // −p_{v,w}
  }
  return x;
}

describe('an equivocating coordinator with two colluders (issue 12 §1)', () => {
  it('old threshold t = ⌊k/2⌋ + 1 = 10 at n = 20: both secrets recoverable, the victim’s input read exactly', async () => {
    // The old rule is safe only with no colluder at all (C = 0 < 2t − k = 1): that is the requirement it meets.
    const r = await equivocate(10, { dropoutRate: 0, maxColluders: 0 }, HONEST.slice(0, 8));
    expect(r.refusals).toBe(0);
    expect(r.selfShares.length).toBeGreaterThanOrEqual(10);
    expect(r.keyShares.length).toBeGreaterThanOrEqual(10);
    expect(Array.from(await unmaskVictim(r, 10))).toEqual(Array.from(input(VICTIM)));
  }, 60_000);

  it('t from C < 2t − k (maxColluders: 2): every split of the honest neighbours leaves one secret below t', async () => {
    const requirement = { dropoutRate: 0.1, maxColluders: 2 };
    const p = chooseSecAggParams(N, requirement);
    expect(p.neighbours).toBe(N - 1);
    const t = p.threshold;
    expect(2 * t - p.neighbours).toBeGreaterThan(COLLUDERS.length);
    // The old threshold is refused outright by every client under this requirement (§4).
    await expect(SecAggClient.create({ ...baseConfig(), threshold: 10 }, 1, input(1), { requirement })).rejects.toThrow(/too weak/);
    // Group A (b_v shares) needs |A| + 2 ≥ t shares and |A| − 1 + 1 + 2 ≥ t signatures on its set; group B (s_v^SK
    // shares) needs |B| + 2 ≥ t shares and |B| − 1 + 2 ≥ t signatures: no split of the 17 meets both at t = 11.
    for (let a = 0; a <= HONEST.length; a++) expect(a + 2 >= t && HONEST.length - a + 1 >= t).toBe(false);
    // The protocol agrees on the splits closest to working.
    for (const a of [t - 3, t - 2, t - 1]) {
      const r = await equivocate(t, requirement, HONEST.slice(0, a));
      expect(r.selfShares.length < t || r.keyShares.length < t, `|A| = ${a}`).toBe(true);
      expect(r.refusals, `|A| = ${a}`).toBeGreaterThan(0);
    }
  }, 120_000);
});

function baseConfig(): SecAggConfig {
  const value = new Uint8Array(32);
  return { roundId: 'base', clients: IDS, bits: BITS, dim: DIM, neighbours: N - 1, threshold: 11, graphCommitment: graphCommitment('base', value) };
}
