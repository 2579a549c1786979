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

describe('the masked input on the wire (issue 18 §1)', () => {
  const masked = (bits: number, d: number) => Uint32Array.from({ length: d }, (_, i) => (i * 40503) % 2 ** bits);
  const through = (m: unknown) => secaggEnvelopeFromClient.parse(unpack(pack({ roundId: 'r', message: m }))).message;

  it('travels at B bits a coordinate, ceil(d′·B/8) bytes, and arrives as the same words', () => {
    for (const [bits, d] of [
      [16, 4096],
      [12, 1001],
      [20, 7],
      [32, 5],
      [1, 9],
    ] as const) {
      const m = { type: 'masked-input' as const, roundId: 'r', from: 3, bits, masked: masked(bits, d) };
      const wire = secaggClientToWire(m) as { masked: Uint8Array; count: number };
      expect(wire.masked.length).toBe(Math.ceil((d * bits) / 8));
      expect(wire.count).toBe(d);
      const { bin } = pack({ roundId: 'r', message: wire });
      expect(bin.length).toBeLessThan(4 * d * (bits / 32) + 8); // the envelope holds the packed bytes, not 32-bit words
      expect(through(wire)).toEqual(m);
    }
  });

  it('refuses a length that is not exactly ceil(count·B/8), a wrong count, non-zero padding, a bad width', () => {
    const wire = secaggClientToWire({ type: 'masked-input', roundId: 'r', from: 3, bits: 12, masked: masked(12, 3) }) as {
      masked: Uint8Array;
      count: number;
      bits: number;
    };
    const bad = (change: Record<string, unknown>) => secaggClientWire.safeParse({ ...wire, ...change });
    expect(bad({}).success).toBe(true);
    expect(bad({ masked: wire.masked.subarray(0, 4) }).error?.message).toMatch(/3 words of 12 bits take 5 bytes, got 4/);
    expect(bad({ masked: Uint8Array.from([...wire.masked, 0]) }).error?.message).toMatch(/take 5 bytes, got 6/);
    expect(bad({ count: 4 }).error?.message).toMatch(/4 words of 12 bits take 6 bytes, got 5/);
    const padded = wire.masked.slice();
    padded[4]! |= 0xf0;
    expect(bad({ masked: padded }).error?.message).toMatch(/padding bits/);
    for (const bits of [0, 33, 2.5]) expect(bad({ bits }).success).toBe(false);
    expect(bad({ count: 2 ** 28 + 1 }).success).toBe(false);
  });
});
