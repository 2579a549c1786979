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
