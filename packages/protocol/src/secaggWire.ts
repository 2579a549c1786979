/**
 * Runtime schemas for the SecAgg+ messages of packages/secagg on the wire. Sizes are checked here (keys 32
 * bytes, share boxes exactly SHARE_BOX_BYTES, signatures 64, shares 33); the state machines check the rest.
 */
import {
  CERTIFICATE_SUBJECT,
  MAX_SUBJECT_LENGTH,
  packedLength,
  packWords,
  SHARE_BOX_BYTES,
  SHARE_BYTES,
  type SecAggClientMessage,
  type SecAggServerMessage,
  unpackWords,
} from '@hushfl/secagg';
import { z } from 'zod';
import { bytes } from './binary.ts';

export const MAX_CLIENTS_PER_ROUND = 10_000;
/** The most coordinates a masked input may have (2^28). */
const MAX_MASKED_WORDS = 2 ** 28;
const clientId = z.number().int().min(1).max(0xffffffff);
const roundId = z.string().min(1).max(128);
const idList = z.array(clientId).max(MAX_CLIENTS_PER_ROUND);

/** PKI mode (packages/secagg identity.ts): a certificate and the identity key's signature over the round keys. */
const identityProof = z
  .object({
    certificate: z.object({
      subject: z.string().max(MAX_SUBJECT_LENGTH).regex(CERTIFICATE_SUBJECT),
      publicKey: bytes({ length: 32 }),
      notAfter: z.number().int().min(0).max(8.64e15),
      signature: bytes({ length: 64 }),
    }),
    signature: bytes({ length: 64 }),
  })
  .optional();

/** Typed against packages/secagg's message types: the compiler checks that every parsed message is one. */
export const secaggClientWire: z.ZodType<SecAggClientMessage, unknown> = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('advertise-keys'),
    roundId,
    from: clientId,
    encryptionKey: bytes({ length: 32 }),
    maskingKey: bytes({ length: 32 }),
    signingKey: bytes({ length: 32 }),
    graphContribution: bytes({ length: 32 }),
    identity: identityProof,
  }),
  z.object({
    type: z.literal('share-keys'),
    roundId,
    from: clientId,
    selfMaskCommitment: bytes({ length: 32 }),
    shares: z.array(z.object({ to: clientId, ciphertext: bytes({ length: SHARE_BOX_BYTES }) })).max(MAX_CLIENTS_PER_ROUND),
  }),
  // y_u at B bits a coordinate (issue 18 §1): `count` words packed in exactly ceil(count·B/8) bytes.
  z
    .object({
      type: z.literal('masked-input'),
      roundId,
      from: clientId,
      bits: z.number().int().min(1).max(32),
      count: z.number().int().min(0).max(MAX_MASKED_WORDS),
      masked: bytes({ max: 4 * MAX_MASKED_WORDS }),
      unopenedShareBoxes: z.array(clientId).max(MAX_CLIENTS_PER_ROUND).optional(),
    })
    .transform(({ count, masked, ...m }, ctx) => {
      const want = packedLength(count, m.bits);
      if (masked.length !== want) {
        ctx.addIssue({ code: 'custom', path: ['masked'], message: `${count} words of ${m.bits} bits take ${want} bytes, got ${masked.length}` });
        return z.NEVER;
      }
      try {
        return { ...m, masked: unpackWords(masked, count, m.bits) };
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['masked'], message: (e as Error).message });
        return z.NEVER;
      }
    }),
  z.object({ type: z.literal('consistency-signature'), roundId, from: clientId, signature: bytes({ length: 64 }) }),
  z.object({
    type: z.literal('unmask-shares'),
    roundId,
    from: clientId,
    selfMaskShares: z.array(z.object({ of: clientId, share: bytes({ length: SHARE_BYTES }) })).max(MAX_CLIENTS_PER_ROUND),
    maskKeyShares: z.array(z.object({ of: clientId, share: bytes({ length: SHARE_BYTES }) })).max(MAX_CLIENTS_PER_ROUND),
  }),
]);

export const secaggServerWire: z.ZodType<SecAggServerMessage, unknown> = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('neighbour-keys'),
    roundId,
    to: clientId,
    graphValue: bytes({ length: 32 }),
    advertisers: z.array(z.object({ id: clientId, contribution: bytes({ length: 32 }) })).max(MAX_CLIENTS_PER_ROUND),
    keys: z
      .array(
        z.object({
          id: clientId,
          encryptionKey: bytes({ length: 32 }),
          maskingKey: bytes({ length: 32 }),
          signingKey: bytes({ length: 32 }),
          identity: identityProof,
        }),
      )
      .max(MAX_CLIENTS_PER_ROUND),
  }),
  z.object({
    type: z.literal('shares-for-you'),
    roundId,
    to: clientId,
    shares: z.array(z.object({ from: clientId, ciphertext: bytes({ length: SHARE_BOX_BYTES }) })).max(MAX_CLIENTS_PER_ROUND),
  }),
  z.object({ type: z.literal('survivors'), roundId, to: clientId, survivors: idList }),
  z.object({
    type: z.literal('unmask-request'),
    roundId,
    to: clientId,
    signatures: z.array(z.object({ id: clientId, signature: bytes({ length: 64 }) })).max(MAX_CLIENTS_PER_ROUND),
    revealSelfMaskOf: idList,
    revealMaskKeyOf: idList,
  }),
]);

/** A client SecAgg message ready for the wire (the masked vector packed at B bits a word). */
export function secaggClientToWire(m: SecAggClientMessage): unknown {
  return m.type === 'masked-input' ? { ...m, count: m.masked.length, masked: packWords(m.masked, m.bits) } : m;
}
