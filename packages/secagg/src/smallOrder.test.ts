/**
 * Ed25519 signing keys of small order, the identity among them, are refused (issue 12 §5). Under the identity
 * key the signature (R = identity, S = 0) verifies for every message: a party that advertises it could
 * "sign" any survivor set in the consistency check without holding a secret. The 8-torsion subgroup is
 * computed here from the curve equation in plain BigInt arithmetic (independently of @noble/curves), not
 * pasted.
 */
import { ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { SecAggClient } from './client.ts';
import { graphCommitment } from './graphSeed.ts';
import type { SecAggConfig, SecAggServerMessage } from './messages.ts';
import { SecAggServer } from './server.ts';
import { isSmallOrderEd25519 } from './smallOrder.ts';
import { nobleSuite, webCryptoSuite } from './suite.ts';

// ---- edwards25519 from RFC 8032 §5.1: −x² + y² = 1 + d·x²·y² over GF(2^255 − 19), group order 8·L.
const p = (1n << 255n) - 19n;
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const mod = (a: bigint) => ((a % p) + p) % p;
const pow = (b: bigint, e: bigint) => {
  let r = 1n;
  let x = mod(b);
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) r = (r * x) % p;
    x = (x * x) % p;
  }
  return r;
};
const inv = (a: bigint) => pow(a, p - 2n);
const d = mod(-121665n * inv(121666n));
const sqrtM1 = pow(2n, (p - 1n) / 4n);

type Pt = { x: bigint; y: bigint };
const O: Pt = { x: 0n, y: 1n };
const eq = (a: Pt, b: Pt) => a.x === b.x && a.y === b.y;
function add(a: Pt, b: Pt): Pt {
  const t = mod(d * a.x * b.x * a.y * b.y);
  return { x: mod((a.x * b.y + a.y * b.x) * inv(1n + t)), y: mod((a.y * b.y + a.x * b.x) * inv(1n - t)) };
}
function mul(k: bigint, a: Pt): Pt {
  let r = O;
  let q = a;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) r = add(r, q);
    q = add(q, q);
  }
  return r;
}
/** x with x² = (y² − 1)/(d·y² + 1) and the given parity, or null when y is not on the curve. */
function recoverX(y: bigint, odd: boolean): bigint | null {
  const u = mod(y * y - 1n);
  const v = mod(d * y * y + 1n);
  let x = pow(mod(u * inv(v)), (p + 3n) / 8n);
  if (mod(x * x * v) !== u) x = mod(x * sqrtM1);
  if (mod(x * x * v) !== u) return null;
  if ((x & 1n) === 1n) x = mod(-x);
  return odd ? mod(-x) : x;
}
/** The RFC 8032 encoding of y with x's parity in bit 255; y may be ≥ p to make non-canonical encodings. */
function encode(y: bigint, signBit: boolean): Uint8Array {
  const out = Uint8Array.from({ length: 32 }, (_, i) => Number((y >> BigInt(8 * i)) & 0xffn));
  if (signBit) out[31]! |= 0x80;
  return out;
}
const encodePoint = (a: Pt) => encode(a.y, (a.x & 1n) === 1n);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The 8-torsion subgroup: [L]Q for a curve point Q is in it; one of order 8 generates all 8 points. */
function torsionSubgroup(): Pt[] {
  for (let y = 2n; ; y++) {
    const x = recoverX(y, false);
    if (x === null) continue;
    const t = mul(L, { x, y });
    if (eq(mul(4n, t), O)) continue; // order < 8
    return Array.from({ length: 8 }, (_, i) => mul(BigInt(i), t));
  }
}

const TORSION = torsionSubgroup();
const IDENTITY = encodePoint(O);
/** R = identity, S = 0: under the identity key, [S]B = R + [k]A holds for every k, so for every message. */
const UNIVERSAL_SIGNATURE = (() => {
  const s = new Uint8Array(64);
  s.set(IDENTITY, 0);
  return s;
})();

describe('the 8-torsion subgroup, computed', () => {
  it('has 8 distinct points, each of order dividing 8, and matches noble’s table', () => {
    expect(new Set(TORSION.map((t) => `${t.x},${t.y}`)).size).toBe(8);
    for (const t of TORSION) {
      expect(mod(-t.x * t.x + t.y * t.y)).toBe(mod(1n + d * t.x * t.x * t.y * t.y)); // on the curve
      expect(eq(mul(8n, t), O)).toBe(true);
    }
    expect(hex(IDENTITY)).toBe(`01${'00'.repeat(31)}`);
    expect(new Set(TORSION.map((t) => hex(encodePoint(t))))).toEqual(new Set(ED25519_TORSION_SUBGROUP));
  });
});

describe('the attack: a universal signature under the identity key', () => {
  for (const suite of [webCryptoSuite(), nobleSuite()]) {
    it(`${suite.name}: (R = identity, S = 0) verifies under the identity key for any message`, async () => {
      for (const text of ['', 'survivors=1,2,3', 'survivors=1,2,3,4,5,6', 'anything at all']) {
        expect(await suite.ed25519Verify(IDENTITY, new TextEncoder().encode(text), UNIVERSAL_SIGNATURE)).toBe(true);
      }
    });
  }
});

describe('isSmallOrderEd25519', () => {
  it('flags all 8 small-order points', () => {
    for (const t of TORSION) expect(isSmallOrderEd25519(encodePoint(t))).toBe(true);
  });

  it('flags non-canonical encodings: y ≥ p, and x = 0 with the sign bit set', () => {
    let n = 0;
    for (const t of TORSION) {
      if (t.y + p < 1n << 255n) {
        expect(isSmallOrderEd25519(encode(t.y + p, (t.x & 1n) === 1n))).toBe(true);
        n++;
      }
      if (t.x === 0n) {
        expect(isSmallOrderEd25519(encode(t.y, true))).toBe(true);
        n++;
      }
    }
    expect(n).toBe(5); // (±√−1, 0) and (0, 1) re-encoded with y + p; (0, 1) and (0, −1) with the sign bit
    // A non-canonical y ≥ p for a point of large order.
    let y = 2n;
    while (recoverX(y, false) === null) y++;
    expect(y + p < 1n << 255n).toBe(true);
    expect(isSmallOrderEd25519(encode(y + p, false))).toBe(true);
    expect(isSmallOrderEd25519(encode(y, false))).toBe(false);
  });

  it('flags encodings that are not a curve point, and keys of the wrong length', () => {
    let y = 2n;
    while (recoverX(y, false) !== null) y++;
    expect(isSmallOrderEd25519(encode(y, false))).toBe(true);
    expect(isSmallOrderEd25519(new Uint8Array(31))).toBe(true);
    expect(isSmallOrderEd25519(new Uint8Array(33))).toBe(true);
  });

  it('passes honest keys from both suites and the RFC 8032 §7.1 test key', async () => {
    for (const suite of [webCryptoSuite(), nobleSuite()]) {
      for (let i = 0; i < 4; i++) expect(isSmallOrderEd25519((await suite.ed25519KeyPair()).publicKey)).toBe(false);
    }
    const rfc = Uint8Array.from(Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex'));
    expect(isSmallOrderEd25519(rfc)).toBe(false);
  });

  it('answers the same when asked again (accepted keys are remembered, refused ones decoded each time)', async () => {
    const honest = (await webCryptoSuite().ed25519KeyPair()).publicKey;
    const identity = encodePoint(TORSION[0]!);
    for (let i = 0; i < 3; i++) {
      expect(isSmallOrderEd25519(honest)).toBe(false);
      expect(isSmallOrderEd25519(identity)).toBe(true);
    }
  });
});

// ---- In the protocol: refused before use, by the server and by every client.

function roundConfig(ids: number[]): SecAggConfig & { graphValue: Uint8Array } {
  const roundId = 'small-order-round';
  const graphValue = globalThis.crypto.getRandomValues(new Uint8Array(32));
  return {
    roundId,
    clients: ids,
    bits: 16,
    dim: 16,
    neighbours: ids.length - 1,
    threshold: 4,
    graphCommitment: graphCommitment(roundId, graphValue),
    graphValue,
  };
}

async function advertisedRound() {
  const ids = [1, 2, 3, 4, 5, 6];
  const cfg = roundConfig(ids);
  const server = await SecAggServer.create(cfg, cfg.graphValue);
  const clients = new Map<number, SecAggClient>();
  // The clients assume no colluders and no dropouts: this round tests key checks, not the choice of (k, t).
  const requirement = { dropoutRate: 0, maxColluders: 0 } as const;
  for (const id of ids) clients.set(id, await SecAggClient.create(cfg, id, new Uint32Array(cfg.dim).fill(id), { requirement }));
  const advertisements = await Promise.all(ids.map((id) => clients.get(id)!.advertise()));
  return { ids, cfg, server, clients, advertisements };
}

describe('small-order signing keys in a round', () => {
  it('server: AdvertiseKeys with any small-order signing key is refused; the honest one is then taken', async () => {
    const r = await advertisedRound();
    const ad = r.advertisements[0]!;
    for (const t of TORSION) {
      expect(await r.server.receive({ ...ad, signingKey: encodePoint(t) })).toMatchObject({ code: 'malformed-key', clientId: ad.from });
    }
    expect(await r.server.receive({ ...ad, signingKey: encode(1n + p, false) })).toMatchObject({ code: 'malformed-key' });
    for (const a of r.advertisements) expect(await r.server.receive(a)).toBeNull();
    const step = await r.server.advance();
    expect(step.error).toBeUndefined();
    const keys = step.outgoing.flatMap((m) => (m.type === 'neighbour-keys' ? m.keys : []));
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((k) => isSmallOrderEd25519(k.signingKey))).toBe(false);
  });

  it('client: neighbour keys carrying the identity as a signing key make it abort before it shares anything', async () => {
    const r = await advertisedRound();
    for (const a of r.advertisements) expect(await r.server.receive(a)).toBeNull();
    const step = await r.server.advance();
    const m = step.outgoing.find((x) => x.to === 1)! as Extract<SecAggServerMessage, { type: 'neighbour-keys' }>;
    // A coordinator that substitutes the identity for neighbour 2's signing key.
    const forged = { ...m, keys: m.keys.map((k) => (k.id === 2 ? { ...k, signingKey: IDENTITY } : k)) };
    expect(forged.keys.some((k) => k.id === 2)).toBe(true);
    const client = r.clients.get(1)!;
    const out = await client.handle(forged);
    expect(out.aborted).toMatchObject({ code: 'protocol-violation' });
    expect(out.aborted!.message).toMatch(/small order/);
    expect(out.outgoing).toBeUndefined();
    expect(client.state).toBe('aborted');
  });
});
