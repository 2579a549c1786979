/**
 * PKI mode on the wire (issue 12 §6): advertise-keys and the neighbour-keys entries carry an optional
 * identity proof, sizes checked; a real PKI client's messages survive the envelope and the schemas intact.
 */
import {
  SecAggClient,
  SecAggServer,
  graphCommitment,
  issueCertificate,
  webCryptoSuite,
  type AdvertiseKeysMsg,
  type NeighbourKeysMsg,
  type SecAggConfig,
} from '@hushfl/secagg';
import { describe, expect, it } from 'vitest';
import { pack, unpack } from './envelope.ts';
import { secaggEnvelopeFromClient, secaggEnvelopeFromServer } from './messages.ts';
import { secaggClientToWire, secaggClientWire, secaggServerWire } from './secaggWire.ts';

const suite = webCryptoSuite();
const random = (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n));

async function pkiAdvertisements() {
  const authority = await suite.ed25519KeyPair();
  const graphValue = random(32);
  const roundId = 'wire-pki';
  const cfg: SecAggConfig = {
    roundId,
    clients: [1, 2, 3],
    bits: 16,
    dim: 4,
    neighbours: 2,
    threshold: 2,
    graphCommitment: graphCommitment(roundId, graphValue),
  };
  const ads: AdvertiseKeysMsg[] = [];
  for (const id of cfg.clients) {
    const pair = await suite.ed25519KeyPair();
    const certificate = await issueCertificate(authority, { subject: `node-${id}`, publicKey: pair.publicKey, notAfter: Date.now() + 86_400_000 }, suite);
    const c = await SecAggClient.create(cfg, id, new Uint32Array(4), {
      requirement: { dropoutRate: 0, maxColluders: 0 },
      pki: { authorityKey: authority.publicKey, identity: { privateKey: pair.privateKey, certificate } },
    });
    ads.push(await c.advertise());
  }
  return { cfg, graphValue, ads, authority };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('secagg wire: PKI identity proofs', () => {
  it('advertise-keys keeps its identity through the envelope and the schema; neighbour-keys entries too', async () => {
    const { cfg, graphValue, ads, authority } = await pkiAdvertisements();
    const parsed = ads.map(
      (a) => secaggEnvelopeFromClient.parse(unpack(pack({ roundId: cfg.roundId, message: secaggClientToWire(a) }))).message as AdvertiseKeysMsg,
    );
    for (const [i, p] of parsed.entries()) {
      expect(p.identity?.certificate.subject).toBe(`node-${i + 1}`);
      expect(hex(p.identity!.signature)).toBe(hex(ads[i]!.identity!.signature));
      expect(hex(p.identity!.certificate.signature)).toBe(hex(ads[i]!.identity!.certificate.signature));
    }
    // A PKI server accepts the parsed messages: the wire changed nothing that is signed.
    const server = await SecAggServer.create(cfg, graphValue, { authorityKey: authority.publicKey });
    for (const p of parsed) expect(await server.receive(p)).toBeNull();
    const step = await server.advance();
    for (const m of step.outgoing as NeighbourKeysMsg[]) {
      const back = secaggEnvelopeFromServer.parse(unpack(pack({ roundId: cfg.roundId, message: m }))).message as NeighbourKeysMsg;
      expect(back.keys.map((k) => k.identity?.certificate.subject)).toEqual(m.keys.map((k) => `node-${k.id}`));
    }
  });

  it('without an identity both messages parse as before', async () => {
    const { ads } = await pkiAdvertisements();
    const { identity: _, ...plain } = ads[0]!;
    expect(secaggClientWire.parse(plain)).not.toHaveProperty('identity');
  });

  it('refuses wrong sizes and a bad subject', async () => {
    const { ads } = await pkiAdvertisements();
    const a = ads[0]!;
    const id = a.identity!;
    const bad = [
      { ...id, signature: random(63) },
      { ...id, certificate: { ...id.certificate, signature: random(65) } },
      { ...id, certificate: { ...id.certificate, publicKey: random(31) } },
      { ...id, certificate: { ...id.certificate, subject: 'has space' } },
      { ...id, certificate: { ...id.certificate, subject: 'a'.repeat(129) } },
      { ...id, certificate: { ...id.certificate, notAfter: 1.5 } },
      { certificate: id.certificate },
    ];
    for (const identity of bad) expect(secaggClientWire.safeParse({ ...a, identity }).success, JSON.stringify(Object.keys(identity))).toBe(false);
    const entry = { id: 2, encryptionKey: random(32), maskingKey: random(32), signingKey: random(32) };
    const nk = { type: 'neighbour-keys', roundId: 'r', to: 1, graphValue: random(32), advertisers: [], keys: [{ ...entry, identity: id }] };
    expect(secaggServerWire.safeParse(nk).success).toBe(true);
    for (const identity of bad) expect(secaggServerWire.safeParse({ ...nk, keys: [{ ...entry, identity }] }).success).toBe(false);
  });
});
