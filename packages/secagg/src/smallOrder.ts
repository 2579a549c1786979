import { toHex } from './hex.ts';
import { ed25519 } from '@noble/curves/ed25519.js';

/**
 * X25519 public keys of small order (RFC 7748 §6.1: such a key makes the shared secret all-zero or
 * predictable). The server refuses them at AdvertiseKeys, before any client uses them. The list holds the
 * u-coordinates of the order-1, 2, 4 and 8 points and their non-canonical encodings (u + p), in both values
 * of the ignored top bit.
 */
const P = (1n << 255n) - 19n;
const SMALL_ORDER_U: readonly bigint[] = [
  0n,
  1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
  P - 1n,
  P,
  P + 1n,
];

function decodeU(key: Uint8Array): bigint {
  let u = 0n;
  for (let i = 31; i >= 0; i--) u = (u << 8n) | BigInt(key[i]!);
  return u & ((1n << 255n) - 1n); // RFC 7748 masks the top bit
}

export function isSmallOrderX25519(key: Uint8Array): boolean {
  if (key.length !== 32) return true;
  const u = decodeU(key);
  return SMALL_ORDER_U.some((s) => s === u || s + P === u);
}

/**
 * Ed25519 public keys that must never be used as a signing key: encodings that do not decode to a curve
 * point (RFC 8032 §5.1.3), non-canonical encodings (y ≥ p, or x = 0 with the sign bit set, or any encoding
 * that does not re-encode to itself), and points of small order — the 8-torsion subgroup, the identity among
 * them. Under the identity key the signature (R = identity, S = 0) verifies for every message, in WebCrypto
 * and in noble alike (a universal signature, made without any secret); under another small-order key, S = 0
 * with a small-order R verifies for about one message in eight (for all under a cofactored verifier).
 * Honest keys are [a]B for a clamped scalar a, of prime order L, so none is refused. The server refuses
 * such keys at AdvertiseKeys, and each client again in the neighbour keys it is shown.
 */
export function isSmallOrderEd25519(key: Uint8Array): boolean {
  if (!(key instanceof Uint8Array) || key.length !== 32) return true;
  // Every neighbour of a key's owner checks it (k decodings of one key a round); where many clients share a
  // process (the simulator, the utility experiment, a load generator) a key checked once is not decoded again.
  // Only accepted keys are remembered, and the memo is bounded.
  const hex = toHex(key);
  if (ACCEPTED_ED25519.has(hex)) return false;
  const refused = checkEd25519(key);
  if (!refused) {
    if (ACCEPTED_ED25519.size >= ACCEPTED_LIMIT) ACCEPTED_ED25519.clear();
    ACCEPTED_ED25519.add(hex);
  }
  return refused;
}

const ACCEPTED_LIMIT = 65_536;
const ACCEPTED_ED25519 = new Set<string>();

function checkEd25519(key: Uint8Array): boolean {
  let point: ReturnType<typeof ed25519.Point.fromBytes>;
  try {
    point = ed25519.Point.fromBytes(key, false); // strict RFC 8032 decoding, not ZIP-215
  } catch {
    return true;
  }
  const canonical = point.toBytes();
  for (let i = 0; i < 32; i++) if (canonical[i] !== key[i]) return true;
  return point.isSmallOrder(); // [8]A = identity
}
