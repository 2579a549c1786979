/**
 * A share box: the AES-256-GCM ciphertext from u to v of (u, v, share of b_u, share of s_u^SK)
 * (Bonawitz et al. 2017, Fig. 4 round 1). The key is HKDF(X25519(c_u^SK, c_v^PK)) bound to the round and the
 * pair; the associated data binds sender, receiver, round and stage, so a box cannot be replayed elsewhere.
 */
import { shareAad, shareKeyInfo } from './context.ts';
import { SecAggError } from './errors.ts';
import { SHARE_BYTES, decodeShare, encodeShare, type ShamirShare } from './shamir.ts';
import type { CryptoSuite } from './suite.ts';
import { GCM_OVERHEAD, aesGcmOpen, aesGcmSeal, hkdfSha256 } from './symmetric.ts';

const PLAINTEXT_BYTES = 8 + 2 * SHARE_BYTES;
export const SHARE_BOX_BYTES = PLAINTEXT_BYTES + GCM_OVERHEAD;

export interface OpenedShareBox {
  readonly selfMaskShare: ShamirShare;
  readonly maskKeyShare: ShamirShare;
}

export async function shareBoxKey(
  suite: CryptoSuite,
  roundId: string,
  self: number,
  encryptionPrivate: Uint8Array,
  other: number,
  otherEncryptionPublic: Uint8Array,
) {
  const shared = await suite.x25519Shared(encryptionPrivate, otherEncryptionPublic);
  return hkdfSha256(shared, shareKeyInfo(roundId, self, other), 32);
}

export async function sealShareBox(
  key: Uint8Array,
  roundId: string,
  from: number,
  to: number,
  selfMaskShare: ShamirShare,
  maskKeyShare: ShamirShare,
): Promise<Uint8Array> {
  const pt = new Uint8Array(PLAINTEXT_BYTES);
  const view = new DataView(pt.buffer);
  view.setUint32(0, from);
  view.setUint32(4, to);
  pt.set(encodeShare(selfMaskShare), 8);
  pt.set(encodeShare(maskKeyShare), 8 + SHARE_BYTES);
  return aesGcmSeal(key, pt, shareAad(roundId, from, to));
}

/** Opens the box from `from` to `to`; the shares' x-coordinate is the receiver's id. */
export async function openShareBox(key: Uint8Array, roundId: string, from: number, to: number, box: Uint8Array): Promise<OpenedShareBox> {
  if (!(box instanceof Uint8Array) || box.length !== SHARE_BOX_BYTES) {
    throw new SecAggError('bad-message', `share ciphertext from client ${from} must be ${SHARE_BOX_BYTES} bytes`, from);
  }
  const pt = await aesGcmOpen(key, box, shareAad(roundId, from, to), from);
  const view = new DataView(pt.buffer, pt.byteOffset, pt.byteLength);
  if (pt.length !== PLAINTEXT_BYTES || view.getUint32(0) !== from || view.getUint32(4) !== to) {
    throw new SecAggError('auth-failed', `share box from client ${from} names the wrong parties`, from);
  }
  return {
    selfMaskShare: decodeShare(to, pt.subarray(8, 8 + SHARE_BYTES)),
    maskKeyShare: decodeShare(to, pt.subarray(8 + SHARE_BYTES)),
  };
}
