/**
 * The asymmetric primitives SecAgg needs — X25519 key agreement (RFC 7748) and Ed25519 signatures
 * (RFC 8032) — behind one interface with two implementations: WebCrypto where the runtime has them (Node 20,
 * Chromium), else @noble/curves. Keys cross the interface as raw 32-byte strings, so both implementations
 * interoperate (a share of s_u^SK made in a browser reconstructs to a key Node can use).
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { SecAggError } from './errors.ts';

export interface KeyPair {
  /** Raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** Raw 32-byte private key (the RFC 7748 / RFC 8032 secret). */
  readonly privateKey: Uint8Array;
}

export interface CryptoSuite {
  readonly name: 'webcrypto' | 'noble';
  x25519KeyPair(): Promise<KeyPair>;
  /** The 32-byte X25519 shared secret; throws SecAggError('malformed-key') for a small-order public key. */
  x25519Shared(privateKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array>;
  x25519PublicFromPrivate(privateKey: Uint8Array): Promise<Uint8Array>;
  ed25519KeyPair(): Promise<KeyPair>;
  ed25519Sign(privateKey: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /** False (never a throw) for a bad signature or a malformed key. */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** RFC 8410 PKCS#8 prefixes: a private key is prefix ‖ 32 raw bytes. */
const PKCS8_PREFIX = {
  X25519: Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]),
  Ed25519: Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]),
};

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function bufferOf(u: Uint8Array): Uint8Array<ArrayBuffer> {
  return u.buffer instanceof ArrayBuffer && u.byteOffset === 0 && u.byteLength === u.buffer.byteLength ? (u as Uint8Array<ArrayBuffer>) : Uint8Array.from(u);
}

export function checkKey32(key: Uint8Array, what: string, clientId?: number): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new SecAggError('malformed-key', `${what} must be 32 bytes${clientId === undefined ? '' : ` (client ${clientId})`}`, clientId);
  }
}

function allZero(b: Uint8Array): boolean {
  let acc = 0;
  for (const x of b) acc |= x;
  return acc === 0;
}

export function webCryptoSuite(subtle: SubtleCrypto = globalThis.crypto.subtle): CryptoSuite {
  const exportRaw = async (key: CryptoKey) => new Uint8Array(await subtle.exportKey('raw', key));
  const exportPrivate = async (key: CryptoKey) => new Uint8Array(await subtle.exportKey('pkcs8', key)).slice(16);
  // A client uses its private keys dozens of times per round: import each raw key once.
  const imported = new WeakMap<Uint8Array, Promise<CryptoKey>>();
  const importPrivate = (alg: 'X25519' | 'Ed25519', raw: Uint8Array, usages: KeyUsage[]) => {
    let key = imported.get(raw);
    if (!key) {
      key = subtle.importKey('pkcs8', concat(PKCS8_PREFIX[alg], raw), { name: alg }, true, usages);
      imported.set(raw, key);
    }
    return key;
  };
  return {
    name: 'webcrypto',
    async x25519KeyPair() {
      const k = (await subtle.generateKey({ name: 'X25519' }, true, ['deriveBits'])) as CryptoKeyPair;
      return { publicKey: await exportRaw(k.publicKey), privateKey: await exportPrivate(k.privateKey) };
    },
    async x25519Shared(privateKey, publicKey) {
      checkKey32(publicKey, 'X25519 public key');
      const priv = await importPrivate('X25519', privateKey, ['deriveBits']);
      const pub = await subtle.importKey('raw', bufferOf(publicKey), { name: 'X25519' }, true, []);
      let shared: Uint8Array;
      try {
        shared = new Uint8Array(await subtle.deriveBits({ name: 'X25519', public: pub }, priv, 256));
      } catch {
        throw new SecAggError('malformed-key', 'X25519 public key is of small order (all-zero shared secret)');
      }
      if (allZero(shared)) throw new SecAggError('malformed-key', 'X25519 public key is of small order (all-zero shared secret)');
      return shared;
    },
    async x25519PublicFromPrivate(privateKey) {
      const priv = await importPrivate('X25519', privateKey, ['deriveBits']);
      const jwk = await subtle.exportKey('jwk', priv);
      return base64UrlDecode(jwk.x!);
    },
    async ed25519KeyPair() {
      const k = (await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
      return { publicKey: await exportRaw(k.publicKey), privateKey: await exportPrivate(k.privateKey) };
    },
    async ed25519Sign(privateKey, message) {
      const priv = await importPrivate('Ed25519', privateKey, ['sign']);
      return new Uint8Array(await subtle.sign({ name: 'Ed25519' }, priv, bufferOf(message)));
    },
    async ed25519Verify(publicKey, message, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return false;
      try {
        const pub = await subtle.importKey('raw', bufferOf(publicKey), { name: 'Ed25519' }, false, ['verify']);
        return await subtle.verify({ name: 'Ed25519' }, pub, bufferOf(signature), bufferOf(message));
      } catch {
        return false;
      }
    },
  };
}

export function nobleSuite(): CryptoSuite {
  return {
    name: 'noble',
    async x25519KeyPair() {
      const privateKey = x25519.utils.randomSecretKey();
      return { publicKey: x25519.getPublicKey(privateKey), privateKey };
    },
    async x25519Shared(privateKey, publicKey) {
      checkKey32(publicKey, 'X25519 public key');
      let shared: Uint8Array;
      try {
        shared = x25519.getSharedSecret(privateKey, publicKey);
      } catch {
        throw new SecAggError('malformed-key', 'X25519 public key is of small order (all-zero shared secret)');
      }
      if (allZero(shared)) throw new SecAggError('malformed-key', 'X25519 public key is of small order (all-zero shared secret)');
      return shared;
    },
    async x25519PublicFromPrivate(privateKey) {
      return x25519.getPublicKey(privateKey);
    },
    async ed25519KeyPair() {
      const privateKey = ed25519.utils.randomSecretKey();
      return { publicKey: ed25519.getPublicKey(privateKey), privateKey };
    },
    async ed25519Sign(privateKey, message) {
      return ed25519.sign(message, privateKey);
    },
    async ed25519Verify(publicKey, message, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return false;
      try {
        return ed25519.verify(signature, message, publicKey);
      } catch {
        return false;
      }
    },
  };
}

function base64UrlDecode(s: string): Uint8Array {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  const bin = atob(b64);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

let detected: Promise<CryptoSuite> | undefined;

/** WebCrypto when it supports X25519 and Ed25519 here, else noble (detected once per process/worker). */
export function defaultSuite(): Promise<CryptoSuite> {
  detected ??= (async () => {
    const subtle = globalThis.crypto?.subtle;
    if (!subtle) return nobleSuite();
    try {
      await subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']);
      await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
      return webCryptoSuite(subtle);
    } catch {
      return nobleSuite();
    }
  })();
  return detected;
}
