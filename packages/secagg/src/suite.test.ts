import { describe, expect, it } from 'vitest';
import { isSmallOrderX25519 } from './smallOrder.ts';
import { nobleSuite, webCryptoSuite } from './suite.ts';

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

for (const suite of [webCryptoSuite(), nobleSuite()]) {
  describe(`${suite.name} suite`, () => {
    it('X25519 matches RFC 7748 §6.1', async () => {
      const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
      const bobPub = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
      expect(toHex(await suite.x25519PublicFromPrivate(alice))).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
      expect(toHex(await suite.x25519Shared(alice, bobPub))).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
    });

    it('Ed25519 matches RFC 8032 §7.1 test 1 and rejects forgeries', async () => {
      const secret = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
      const pub = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
      const sig = await suite.ed25519Sign(secret, new Uint8Array(0));
      expect(toHex(sig)).toBe(
        'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
      );
      expect(await suite.ed25519Verify(pub, new Uint8Array(0), sig)).toBe(true);
      const forged = sig.slice();
      forged[0]! ^= 1;
      expect(await suite.ed25519Verify(pub, new Uint8Array(0), forged)).toBe(false);
      expect(await suite.ed25519Verify(new Uint8Array(31), new Uint8Array(0), sig)).toBe(false);
    });

    it('refuses a small-order public key', async () => {
      const { privateKey } = await suite.x25519KeyPair();
      await expect(suite.x25519Shared(privateKey, new Uint8Array(32))).rejects.toMatchObject({ code: 'malformed-key' });
      await expect(suite.x25519Shared(privateKey, new Uint8Array(31))).rejects.toMatchObject({ code: 'malformed-key' });
    });
  });
}

describe('suites interoperate', () => {
  it('keys made by one agree with keys made by the other', async () => {
    const web = webCryptoSuite();
    const noble = nobleSuite();
    const a = await web.x25519KeyPair();
    const b = await noble.x25519KeyPair();
    const ab = await web.x25519Shared(a.privateKey, b.publicKey);
    const ba = await noble.x25519Shared(b.privateKey, a.publicKey);
    expect(toHex(ab)).toBe(toHex(ba));
    expect(toHex(await noble.x25519PublicFromPrivate(a.privateKey))).toBe(toHex(a.publicKey));
    const s = await noble.ed25519KeyPair();
    const msg = new TextEncoder().encode('survivors=1,2,3');
    expect(await web.ed25519Verify(s.publicKey, msg, await noble.ed25519Sign(s.privateKey, msg))).toBe(true);
  });
});

describe('isSmallOrderX25519', () => {
  it('flags the small-order points, with or without the top bit, and passes real keys', async () => {
    const p = (1n << 255n) - 19n;
    const enc = (u: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((u >> BigInt(8 * i)) & 0xffn));
    for (const u of [0n, 1n, p - 1n, p, p + 1n]) {
      expect(isSmallOrderX25519(enc(u))).toBe(true);
      const top = enc(u);
      top[31]! |= 0x80;
      expect(isSmallOrderX25519(top)).toBe(true);
    }
    expect(isSmallOrderX25519((await webCryptoSuite().x25519KeyPair()).publicKey)).toBe(false);
  });
});
