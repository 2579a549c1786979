/**
 * PKI mode (issue 12 §6): certificates from an authority the clients pin, signatures over each round's
 * keys, and the attacks they stop. Without PKI mode the coordinator relays every key, so it can stand in for
 * a client (substitute its keys) or invent one; the tests below play that coordinator and check that honest
 * PKI-mode clients abort before sharing anything — and that the same substitution goes through without it.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecAggClient, type ClientStep } from './client.ts';
import { graphCommitment } from './graphSeed.ts';
import {
  certificateFromJson,
  certificateMessage,
  certificateToJson,
  identityFromJson,
  issueCertificate,
  roundKeysMessage,
  signRoundKeys,
  verifyCertificate,
  verifyIdentityProof,
  verifyRoundKeys,
  type Certificate,
  type PkiClientOptions,
  type RoundKeys,
} from './identity.ts';
import type { AdvertiseKeysMsg, NeighbourKeysMsg, SecAggConfig, SecAggServerMessage, ShareKeysMsg } from './messages.ts';
import { SecAggServer } from './server.ts';
import { openShareBox, shareBoxKey } from './shareBox.ts';
import { simulateSecAggRound } from './simulate.ts';
import { nobleSuite, webCryptoSuite, type KeyPair } from './suite.ts';

const suite = webCryptoSuite();
const random32 = () => globalThis.crypto.getRandomValues(new Uint8Array(32));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const DAY = 86_400_000;
/** The identity point (0, 1): small order, and under it (R = identity, S = 0) verifies for every message. */
const IDENTITY_POINT = Uint8Array.from([1, ...new Array(31).fill(0)]);
const UNIVERSAL_SIGNATURE = Uint8Array.from([1, ...new Array(63).fill(0)]);
const MECHANICS = { dropoutRate: 0, maxColluders: 0 } as const;

const authority = await suite.ed25519KeyPair();

async function enrol(subject: string, by: KeyPair = authority, validMs = 30 * DAY): Promise<{ pair: KeyPair; certificate: Certificate }> {
  const pair = await suite.ed25519KeyPair();
  const certificate = await issueCertificate(by, { subject, publicKey: pair.publicKey, notAfter: Date.now() + validMs }, suite);
  return { pair, certificate };
}

const pkiOf = (e: { pair: KeyPair; certificate: Certificate }, authorityKey = authority.publicKey, now?: () => number): PkiClientOptions => ({
  authorityKey,
  identity: { privateKey: e.pair.privateKey, certificate: e.certificate },
  ...(now ? { now } : {}),
});

describe('certificates', () => {
  it('the authority signs the documented encoding: domain, then length-prefixed subject, key and u64 notAfter', async () => {
    const { pair, certificate } = await enrol('device-7');
    const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
    const notAfter = Buffer.alloc(8);
    notAfter.writeBigUInt64BE(BigInt(certificate.notAfter));
    const want = Buffer.concat([Buffer.from('hushfl/secagg/v1/certificate|'), u32(8), Buffer.from('device-7'), u32(32), pair.publicKey, u32(8), notAfter]);
    expect(hex(certificateMessage(certificate))).toBe(want.toString('hex'));
    // Verified by node:crypto, independently of the suite that signed.
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), authority.publicKey]);
    expect(nodeVerify(null, want, createPublicKey({ key: spki, format: 'der', type: 'spki' }), certificate.signature)).toBe(true);
    await expect(verifyCertificate(certificate, authority.publicKey, Date.now(), suite)).resolves.toBeUndefined();
    await expect(verifyCertificate(certificate, authority.publicKey, Date.now(), nobleSuite())).resolves.toBeUndefined();
  });

  it('refuses a certificate from another authority, or with the subject, key or expiry altered', async () => {
    const { certificate } = await enrol('alice@example.org');
    const rogue = await suite.ed25519KeyPair();
    const now = Date.now();
    await expect(verifyCertificate(certificate, rogue.publicKey, now, suite)).rejects.toMatchObject({
      code: 'bad-certificate',
      message: expect.stringMatching(/not signed by the pinned authority/),
    });
    const altered: [string, Certificate][] = [
      ['subject', { ...certificate, subject: 'mallory@example.org' }],
      ['public key', { ...certificate, publicKey: (await suite.ed25519KeyPair()).publicKey }],
      ['notAfter', { ...certificate, notAfter: certificate.notAfter + DAY }],
      ['signature', { ...certificate, signature: certificate.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) }],
    ];
    for (const [what, c] of altered) {
      await expect(verifyCertificate(c, authority.publicKey, now, suite), what).rejects.toMatchObject({ code: 'bad-certificate' });
    }
    // Self-issued by the rogue authority: well formed, but not from the pinned one.
    const self = await enrol('alice@example.org', rogue);
    await expect(verifyCertificate(self.certificate, authority.publicKey, now, suite)).rejects.toThrow(/not signed by the pinned authority/);
  });

  it('refuses an expired certificate (valid up to and including notAfter)', async () => {
    const { certificate } = await enrol('device-1', authority, DAY);
    await expect(verifyCertificate(certificate, authority.publicKey, certificate.notAfter, suite)).resolves.toBeUndefined();
    await expect(verifyCertificate(certificate, authority.publicKey, certificate.notAfter + 1, suite)).rejects.toMatchObject({
      code: 'bad-certificate',
      message: `the certificate of device-1 expired at ${new Date(certificate.notAfter).toISOString()}`,
    });
  });

  it('refuses small-order and non-canonical keys, as identity keys and as authority keys', async () => {
    const notAfter = Date.now() + DAY;
    await expect(issueCertificate(authority, { subject: 'x', publicKey: IDENTITY_POINT, notAfter }, suite)).rejects.toMatchObject({ code: 'malformed-key' });
    // A non-canonical encoding of the identity (y = p + 1).
    const nonCanonical = Uint8Array.from([0xee, ...new Array(30).fill(0xff), 0x7f]);
    await expect(issueCertificate(authority, { subject: 'x', publicKey: nonCanonical, notAfter }, suite)).rejects.toMatchObject({ code: 'malformed-key' });
    // An authority that signed a small-order key anyway: the verifier refuses it too.
    const forged: Certificate = {
      subject: 'x',
      publicKey: IDENTITY_POINT,
      notAfter,
      signature: await suite.ed25519Sign(authority.privateKey, certificateMessage({ subject: 'x', publicKey: IDENTITY_POINT, notAfter })),
    };
    await expect(verifyCertificate(forged, authority.publicKey, Date.now(), suite)).rejects.toMatchObject({ code: 'malformed-key' });
    // The identity as the authority key: the universal signature verifies in the raw primitive, never here.
    const { pair } = await enrol('y');
    const universal: Certificate = { subject: 'y', publicKey: pair.publicKey, notAfter, signature: UNIVERSAL_SIGNATURE };
    expect(await nobleSuite().ed25519Verify(IDENTITY_POINT, certificateMessage(universal), UNIVERSAL_SIGNATURE)).toBe(true);
    await expect(verifyCertificate(universal, IDENTITY_POINT, Date.now(), suite)).rejects.toMatchObject({ code: 'malformed-key' });
    await expect(
      issueCertificate({ publicKey: IDENTITY_POINT, privateKey: random32() }, { subject: 'y', publicKey: pair.publicKey, notAfter }),
    ).rejects.toMatchObject({
      code: 'malformed-key',
    });
  });

  it('refuses a bad subject or expiry, and an authority private key that is not its public key’s', async () => {
    const { pair } = await enrol('z');
    const notAfter = Date.now() + DAY;
    for (const subject of ['', 'a b', 'x|y', 'é', 'a'.repeat(129)]) {
      await expect(issueCertificate(authority, { subject, publicKey: pair.publicKey, notAfter }, suite), subject).rejects.toMatchObject({
        code: 'bad-certificate',
      });
    }
    await expect(issueCertificate(authority, { subject: 'a'.repeat(128), publicKey: pair.publicKey, notAfter }, suite)).resolves.toBeDefined();
    for (const bad of [1.5, -1, Number.NaN, 9e15]) {
      await expect(issueCertificate(authority, { subject: 'z', publicKey: pair.publicKey, notAfter: bad }, suite)).rejects.toMatchObject({
        code: 'bad-certificate',
      });
    }
    const other = await suite.ed25519KeyPair();
    await expect(
      issueCertificate({ publicKey: authority.publicKey, privateKey: other.privateKey }, { subject: 'z', publicKey: pair.publicKey, notAfter }, suite),
    ).rejects.toThrow(/does not match its public key/);
  });

  it('JSON (hex) round trip, and the identity file shape', async () => {
    const { pair, certificate } = await enrol('node-3');
    const json = certificateToJson(certificate);
    expect(json).toEqual({ subject: 'node-3', publicKey: hex(pair.publicKey), notAfter: certificate.notAfter, signature: hex(certificate.signature) });
    const back = certificateFromJson(JSON.parse(JSON.stringify(json)));
    await expect(verifyCertificate(back, authority.publicKey, Date.now(), suite)).resolves.toBeUndefined();
    const file = {
      kind: 'hushfl-identity',
      version: 1,
      subject: 'node-3',
      publicKey: json.publicKey,
      privateKey: hex(pair.privateKey),
      certificate: json,
      authorityKey: hex(authority.publicKey),
    };
    expect(hex(identityFromJson(file).privateKey)).toBe(hex(pair.privateKey));
    expect(() => identityFromJson({ ...file, kind: 'other' })).toThrow(/not a hushfl identity file/);
    expect(() => identityFromJson({ ...file, privateKey: 'zz' })).toThrow(/privateKey must be 32 bytes of hex/);
    expect(() => certificateFromJson({ ...json, signature: json.signature.slice(2) })).toThrow(/certificate.signature must be 64 bytes/);
  });
});

describe('round-key signatures', () => {
  const keys = (): RoundKeys => ({ id: 3, encryptionKey: random32(), maskingKey: random32(), signingKey: random32(), graphContribution: random32() });

  it('cover the round, the SecAgg id and every key: changing any one fails', async () => {
    const { pair } = await enrol('k');
    const k = keys();
    const sig = await signRoundKeys(pair.privateKey, 'round-1', k, suite);
    expect(await verifyRoundKeys(pair.publicKey, 'round-1', k, sig, suite)).toBe(true);
    expect(await verifyRoundKeys(pair.publicKey, 'round-2', k, sig, suite)).toBe(false);
    for (const field of ['encryptionKey', 'maskingKey', 'signingKey', 'graphContribution'] as const) {
      expect(await verifyRoundKeys(pair.publicKey, 'round-1', { ...k, [field]: random32() }, sig, suite), field).toBe(false);
    }
    expect(await verifyRoundKeys(pair.publicKey, 'round-1', { ...k, id: 4 }, sig, suite)).toBe(false);
    expect(await verifyRoundKeys((await suite.ed25519KeyPair()).publicKey, 'round-1', k, sig, suite)).toBe(false);
    expect(await verifyRoundKeys(IDENTITY_POINT, 'round-1', k, UNIVERSAL_SIGNATURE, suite)).toBe(false);
  });

  it('length-prefix every field: the encoding starts with the domain and the round id’s length', () => {
    const k = keys();
    const m = roundKeysMessage('r', k);
    expect(Buffer.from(m.subarray(0, 28)).toString()).toBe('hushfl/secagg/v1/round-keys|');
    expect(hex(m.subarray(28, 41))).toBe(`00000001${hex(Buffer.from('r'))}0000000400000003`);
    expect(m.length).toBe(28 + 4 + 1 + 4 + 4 + 4 * 36);
  });
});

// ---- protocol level

function setup(n: number, roundId: string) {
  const graphValue = random32();
  const cfg: SecAggConfig = {
    roundId,
    clients: Array.from({ length: n }, (_, i) => i + 1),
    bits: 16,
    dim: 8,
    neighbours: n - 1,
    threshold: Math.floor((n - 1) / 2) + 1,
    graphCommitment: graphCommitment(roundId, graphValue),
  };
  return { cfg, graphValue };
}
const input = (id: number) => Uint32Array.from({ length: 8 }, (_, i) => (id * 1000 + i * 7) % 65536);

/** n PKI-mode clients (complete graph) with their advertisements, and the neighbour-keys messages an honest server sends. */
async function pkiRound(n: number, opts: { serverAuthority?: boolean; pki?: boolean; validMs?: (id: number) => number } = {}) {
  const { cfg, graphValue } = setup(n, `pki-${Math.random().toString(36).slice(2)}`);
  const enrolled = new Map<number, Awaited<ReturnType<typeof enrol>>>();
  const clients = new Map<number, SecAggClient>();
  const ads = new Map<number, AdvertiseKeysMsg>();
  for (const id of cfg.clients) {
    const e = await enrol(`device-${id}`, authority, opts.validMs?.(id));
    enrolled.set(id, e);
    const c = await SecAggClient.create(cfg, id, input(id), { requirement: MECHANICS, ...(opts.pki === false ? {} : { pki: pkiOf(e) }) });
    clients.set(id, c);
    ads.set(id, await c.advertise());
  }
  const server = await SecAggServer.create(cfg, graphValue, opts.serverAuthority ? { authorityKey: authority.publicKey } : {});
  return { cfg, graphValue, enrolled, clients, ads, server };
}

async function neighbourKeysFromServer(server: SecAggServer, ads: Map<number, AdvertiseKeysMsg>): Promise<NeighbourKeysMsg[]> {
  for (const m of ads.values()) expect(await server.receive(m)).toBeNull();
  const step = await server.advance();
  expect(step.error).toBeUndefined();
  return step.outgoing as NeighbourKeysMsg[];
}

/** The coordinator's edit: in every neighbour-keys message, replace `victim`'s keys (its certificate and signature kept). */
function substitute(msgs: NeighbourKeysMsg[], victim: number, keys: { encryptionKey: Uint8Array; maskingKey: Uint8Array; signingKey?: Uint8Array }) {
  return msgs.map((m) => ({ ...m, keys: m.keys.map((k) => (k.id === victim ? { ...k, ...keys } : k)) }));
}

async function deliverAll(clients: Map<number, SecAggClient>, msgs: readonly SecAggServerMessage[]): Promise<Map<number, ClientStep>> {
  const out = new Map<number, ClientStep>();
  for (const m of msgs) out.set(m.to, await clients.get(m.to)!.handle(m));
  return out;
}

describe('PKI mode: an honest round', () => {
  it('sums exactly (simulateSecAggRound, PKI clients and a PKI server), complete and sparse graphs', async () => {
    for (const [n, k, t] of [
      [5, 4, 3],
      [10, 4, 3],
    ] as const) {
      const ids = Array.from({ length: n }, (_, i) => i + 1);
      const inputs = new Map(ids.map((id) => [id, input(id)]));
      const pki = new Map<number, PkiClientOptions>();
      for (const id of ids) pki.set(id, pkiOf(await enrol(`sim-${id}`)));
      const r = await simulateSecAggRound({
        config: { roundId: `pki-sim-${n}`, clients: ids, bits: 16, dim: 8, neighbours: k, threshold: t },
        inputs,
        requirement: MECHANICS,
        pki,
        serverAuthorityKey: authority.publicKey,
      });
      expect(r.error).toBeUndefined();
      expect(r.warnings).toEqual([]);
      expect(r.included).toEqual(ids);
      const want = new Uint32Array(8);
      for (const x of inputs.values()) for (let i = 0; i < 8; i++) want[i] = (want[i]! + x[i]!) % 65536;
      expect([...r.sum!]).toEqual([...want]);
    }
  });

  it('the server forwards each advertiser’s certificate and signature in neighbour-keys', async () => {
    const { server, ads } = await pkiRound(4, { serverAuthority: true });
    for (const m of await neighbourKeysFromServer(server, ads)) {
      for (const k of m.keys) expect(k.identity).toBe(ads.get(k.id)!.identity);
    }
  });

  it('a restored PKI client continues; the snapshot names the subject and never holds the identity key', async () => {
    const { cfg, server, ads, clients, enrolled } = await pkiRound(4);
    const msgs = await neighbourKeysFromServer(server, ads);
    const snap = structuredClone(clients.get(1)!.snapshot());
    expect(snap.pki).toEqual({ subject: 'device-1' });
    const secret = hex(enrolled.get(1)!.pair.privateKey);
    const bytesIn = (v: unknown): string[] => (v instanceof Uint8Array ? [hex(v)] : v && typeof v === 'object' ? Object.values(v).flatMap(bytesIn) : []);
    expect(bytesIn(snap).some((h) => h.includes(secret))).toBe(false);
    await expect(SecAggClient.restore(snap, { requirement: MECHANICS })).rejects.toThrow(/PKI-mode client \(device-1\): restore it with the same identity/);
    await expect(SecAggClient.restore(snap, { requirement: MECHANICS, pki: pkiOf(enrolled.get(2)!) })).rejects.toMatchObject({ code: 'bad-parameters' });
    const restored = await SecAggClient.restore(snap, { requirement: MECHANICS, pki: pkiOf(enrolled.get(1)!) });
    const step = await restored.handle(msgs.find((m) => m.to === 1)!);
    expect(step.aborted).toBeUndefined();
    expect(step.outgoing?.type).toBe('share-keys');
    expect(cfg.clients).toContain(restored.id);
  });

  it('a client refuses to start with an expired certificate, one from another authority, or a key that is not the certified one', async () => {
    const { cfg } = setup(4, 'pki-create');
    const e = await enrol('device-1', authority, DAY);
    const later = () => e.certificate.notAfter + 1;
    await expect(SecAggClient.create(cfg, 1, input(1), { requirement: MECHANICS, pki: pkiOf(e, authority.publicKey, later) })).rejects.toThrow(
      /client 1 cannot take part in PKI mode: the certificate of device-1 expired/,
    );
    const rogue = await suite.ed25519KeyPair();
    await expect(SecAggClient.create(cfg, 1, input(1), { requirement: MECHANICS, pki: pkiOf(e, rogue.publicKey) })).rejects.toThrow(
      /not signed by the pinned authority/,
    );
    const other = await enrol('device-2');
    await expect(
      SecAggClient.create(cfg, 1, input(1), {
        requirement: MECHANICS,
        pki: { authorityKey: authority.publicKey, identity: { privateKey: other.pair.privateKey, certificate: e.certificate } },
      }),
    ).rejects.toThrow(/identity private key does not match the key certified for device-1/);
  });
});

describe('PKI mode: a coordinator that stands in for a client is caught', () => {
  it('THE attack: client 3’s encryption and masking keys replaced with the coordinator’s own (3’s certificate kept) — every honest client aborts, shares nothing', async () => {
    const { server, ads, clients } = await pkiRound(5);
    const [enc, mask] = [await suite.x25519KeyPair(), await suite.x25519KeyPair()];
    const forged = substitute(await neighbourKeysFromServer(server, ads), 3, { encryptionKey: enc.publicKey, maskingKey: mask.publicKey });
    const out = await deliverAll(clients, forged);
    for (const u of [1, 2, 4, 5]) {
      const step = out.get(u)!;
      expect(step.outgoing, `client ${u}`).toBeUndefined();
      expect(step.aborted, `client ${u}`).toMatchObject({
        code: 'protocol-violation',
        message: expect.stringMatching(
          new RegExp(`^client ${u} aborts: neighbour 3 fails the PKI check: client 3's round keys are not signed by the identity key certified for device-3`),
        ),
      });
      expect(clients.get(u)!.state).toBe('aborted');
      // Nothing more comes out of an aborted client, whatever it is sent next.
      expect((await clients.get(u)!.handle(forged.find((m) => m.to === u)!)).outgoing).toBeUndefined();
    }
  });

  it('also a substituted signing key alone (the consistency-check key), and the keys of 3 moved under another id', async () => {
    const { server, ads, clients, enrolled } = await pkiRound(5);
    const honest = await neighbourKeysFromServer(server, ads);
    const signing = (await suite.ed25519KeyPair()).publicKey;
    const k3 = honest.find((m) => m.to === 1)!.keys.find((k) => k.id === 3)!;
    const cases: [string, NeighbourKeysMsg][] = [
      ['signing key', substitute(honest, 3, { encryptionKey: k3.encryptionKey, maskingKey: k3.maskingKey, signingKey: signing }).find((m) => m.to === 1)!],
      [
        '3’s identity under id 4',
        (() => {
          const m = honest.find((x) => x.to === 1)!;
          return { ...m, keys: m.keys.map((k) => (k.id === 4 ? { ...k, identity: k3.identity } : k)) };
        })(),
      ],
    ];
    for (const [what, msg] of cases) {
      const c = await SecAggClient.restore(structuredClone(clients.get(1)!.snapshot()), { requirement: MECHANICS, pki: pkiOf(enrolled.get(1)!) });
      const step = await c.handle(msg);
      expect(step.aborted, what).toMatchObject({ code: 'protocol-violation' });
      expect(step.outgoing, what).toBeUndefined();
    }
  });

  it('a PKI server refuses a substituted advertisement (keys changed in transit)', async () => {
    const { server, ads } = await pkiRound(4, { serverAuthority: true });
    const a3 = ads.get(3)!;
    const refused = await server.receive({ ...a3, maskingKey: (await suite.x25519KeyPair()).publicKey });
    expect(refused).toMatchObject({ code: 'bad-signature', clientId: 3, message: expect.stringMatching(/^client 3 refused \(PKI mode\): .*substituted/) });
    expect(await server.receive(a3)).toBeNull(); // the genuine one is still taken
  });
});

describe('without PKI mode the same substitution goes through (why the mode exists)', () => {
  it('the clients share with the coordinator’s key, and the coordinator opens the share boxes meant for client 3', async () => {
    const { cfg, server, ads, clients } = await pkiRound(5, { pki: false });
    const [enc, mask] = [await suite.x25519KeyPair(), await suite.x25519KeyPair()];
    const forged = substitute(await neighbourKeysFromServer(server, ads), 3, { encryptionKey: enc.publicKey, maskingKey: mask.publicKey });
    const out = await deliverAll(clients, forged);
    for (const u of [1, 2, 4, 5]) {
      const step = out.get(u)!;
      expect(step.aborted, `client ${u}`).toBeUndefined();
      const shares = (step.outgoing as ShareKeysMsg).shares;
      const box = shares.find((s) => s.to === 3)!.ciphertext;
      // The coordinator, holding the substituted private key, reads u's shares of b_u and s_u^SK meant for 3.
      const key = await shareBoxKey(suite, cfg.roundId, 3, enc.privateKey, u, ads.get(u)!.encryptionKey);
      const opened = await openShareBox(key, cfg.roundId, u, 3, box);
      expect(opened.selfMaskShare.x).toBe(3);
      expect(opened.maskKeyShare.x).toBe(3);
    }
  });
});

describe('PKI mode: a coordinator that invents a client is caught', () => {
  it('a client certified by an authority of the coordinator’s own (a “rogue CA”), or with no certificate at all', async () => {
    const { server, ads, clients, cfg, enrolled } = await pkiRound(5);
    const honest = await neighbourKeysFromServer(server, ads);
    const rogue = await suite.ed25519KeyPair();
    const fake = await enrol('device-3', rogue); // the victim's own subject, even
    const [enc, mask, sig] = [await suite.x25519KeyPair(), await suite.x25519KeyPair(), await suite.ed25519KeyPair()];
    const fakeKeys = { encryptionKey: enc.publicKey, maskingKey: mask.publicKey, signingKey: sig.publicKey };
    const signature = await signRoundKeys(fake.pair.privateKey, cfg.roundId, { id: 3, ...fakeKeys, graphContribution: ads.get(3)!.graphContribution }, suite);
    const withRogue = honest.map((m) => ({
      ...m,
      keys: m.keys.map((k) => (k.id === 3 ? { id: 3, ...fakeKeys, identity: { certificate: fake.certificate, signature } } : k)),
    }));
    const without = honest.map((m) => ({ ...m, keys: m.keys.map((k) => (k.id === 3 ? { id: 3, ...fakeKeys } : k)) }));
    for (const [what, msgs, why] of [
      ['rogue authority', withRogue, /neighbour 3 fails the PKI check: the certificate of device-3 is not signed by the pinned authority/],
      ['no certificate', without, /neighbour 3 fails the PKI check: client 3 sent no identity certificate/],
    ] as const) {
      for (const u of [1, 2]) {
        const c = await SecAggClient.restore(structuredClone(clients.get(u)!.snapshot()), { requirement: MECHANICS, pki: pkiOf(enrolled.get(u)!) });
        const step = await c.handle(msgs.find((m) => m.to === u)!);
        expect(step.aborted, what).toMatchObject({ code: 'protocol-violation', message: expect.stringMatching(why) });
        expect(step.outgoing, what).toBeUndefined();
      }
    }
  });

  it('a Sybil: one enrolled identity (a colluder’s) advertising as two SecAgg ids — refused by clients and by a PKI server', async () => {
    const { cfg, graphValue } = setup(5, 'pki-sybil');
    const mallory = await enrol('mallory');
    const clients = new Map<number, SecAggClient>();
    const ads = new Map<number, AdvertiseKeysMsg>();
    for (const id of cfg.clients) {
      const e = id >= 4 ? mallory : await enrol(`device-${id}`);
      const c = await SecAggClient.create(cfg, id, input(id), { requirement: MECHANICS, pki: pkiOf(e) });
      clients.set(id, c);
      ads.set(id, await c.advertise());
    }
    const pkiServer = await SecAggServer.create(cfg, graphValue, { authorityKey: authority.publicKey });
    for (const id of [1, 2, 3, 4]) expect(await pkiServer.receive(ads.get(id)!)).toBeNull();
    expect(await pkiServer.receive(ads.get(5)!)).toMatchObject({
      code: 'duplicate',
      message: 'client 5 presents the identity mallory, which client 4 already advertised with',
    });
    // A coordinator that forwards both anyway (no authority option): the honest clients refuse.
    const relay = await SecAggServer.create(cfg, graphValue);
    const out = await deliverAll(clients, await neighbourKeysFromServer(relay, ads));
    for (const u of [1, 2, 3]) {
      expect(out.get(u)!.aborted).toMatchObject({
        code: 'protocol-violation',
        message: `client ${u} aborts: neighbour 5 presents the identity mallory, as does neighbour 4`,
      });
      expect(out.get(u)!.outgoing).toBeUndefined();
    }
    // Even the cloned identity's own holders refuse to run beside each other.
    expect(out.get(4)!.aborted).toMatchObject({ message: 'client 4 aborts: neighbour 5 presents the identity mallory, as does this client itself' });
  });

  it('a neighbour with an expired certificate, or with a signature replayed from another round', async () => {
    // Client 2's certificate lapses after a day, the others' after 30; client 1's clock is 2 days ahead.
    const { cfg, server, ads, clients, enrolled } = await pkiRound(4, { validMs: (id) => (id === 2 ? DAY : 30 * DAY) });
    const honest = await neighbourKeysFromServer(server, ads);
    const to1 = honest.find((m) => m.to === 1)!;
    // Client 3's advertisement in another round, replayed into this one (its keys, certificate and signature).
    const replayed = (await pkiRound(4)).ads.get(3)!;
    const cases: [string, NeighbourKeysMsg, RegExp, (() => number)?][] = [
      ['expired', to1, /^client 1 aborts: neighbour 2 fails the PKI check: the certificate of device-2 expired at /, () => Date.now() + 2 * DAY],
      [
        'replayed from another round',
        {
          ...to1,
          keys: to1.keys.map((k) =>
            k.id === 3
              ? { id: 3, encryptionKey: replayed.encryptionKey, maskingKey: replayed.maskingKey, signingKey: replayed.signingKey, identity: replayed.identity }
              : k,
          ),
        },
        /^client 1 aborts: neighbour 3 fails the PKI check: client 3's round keys are not signed by the identity key certified for device-3/,
      ],
    ];
    for (const [what, msg, why, now] of cases) {
      const c = await SecAggClient.restore(structuredClone(clients.get(1)!.snapshot()), {
        requirement: MECHANICS,
        pki: pkiOf(enrolled.get(1)!, authority.publicKey, now),
      });
      const step = await c.handle(msg);
      expect(step.aborted, what).toMatchObject({ code: 'protocol-violation', message: expect.stringMatching(why) });
      expect(step.outgoing, what).toBeUndefined();
    }
    // The replayed proof alone: a valid certificate, a signature over another round's keys.
    await expect(verifyIdentityProof(replayed.identity, authority.publicKey, Date.now(), cfg.roundId, { ...replayed, id: 3 }, suite)).rejects.toMatchObject({
      code: 'bad-signature',
    });
    // ... which verifies in its own round.
    await expect(
      verifyIdentityProof(replayed.identity, authority.publicKey, Date.now(), replayed.roundId, { ...replayed, id: 3 }, suite),
    ).resolves.toBeDefined();
  });
});
