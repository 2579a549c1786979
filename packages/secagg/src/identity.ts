/**
 * PKI mode (issue 12 §6): optional active security for deployments with an identity source that the
 * clients trust and the coordinator does not control. Without it the coordinator relays every round key, so
 * it can substitute a client's keys (stand in for it) or invent clients. With it:
 * - an authority holds an Ed25519 key pair; every client pins the authority's public key in its own
 *   configuration (never taken from the coordinator);
 * - each client holds a long-term Ed25519 identity key, certified by the authority: a certificate binds a
 *   subject (a device or user id) to the identity public key until `notAfter`;
 * - in AdvertiseKeys the client sends its certificate and its identity key's signature over the round, its
 *   SecAgg id and all of its round keys (encryption, masking, signing, graph contribution);
 * - before sharing anything, every client verifies each neighbour's certificate against the pinned
 *   authority, its expiry, and the signature over exactly the keys it was shown; two neighbours with one
 *   subject are refused (a Sybil needs an enrolled identity per id).
 *
 * Every signed byte string is domain separated ("hushfl/secagg/v1/…|") and each field is length prefixed
 * (u32, big-endian), so no two different field lists encode alike. Pure code: no I/O (files are the CLI's).
 */
import { toHex } from './hex.ts';
import { SecAggError } from './errors.ts';
import { isSmallOrderEd25519 } from './smallOrder.ts';
import { defaultSuite, type CryptoSuite, type KeyPair } from './suite.ts';
import { concatBytes, utf8 } from './symmetric.ts';

const V = 'hushfl/secagg/v1';
const CERTIFICATE_DOMAIN = `${V}/certificate|`;
const ROUND_KEYS_DOMAIN = `${V}/round-keys|`;

/** A certificate subject: 1–128 characters of [A-Za-z0-9._:@+/=-] (a device id, a user id, an e-mail address). */
export const CERTIFICATE_SUBJECT = /^[A-Za-z0-9._:@+/=-]{1,128}$/;
export const MAX_SUBJECT_LENGTH = 128;
/** The largest instant a Date can hold (ECMA-262 §21.4.1.31): the bound on notAfter. */
const MAX_DATE_MS = 8.64e15;

/** The authority's statement "subject holds publicKey until notAfter". */
export interface CertificateFields {
  readonly subject: string;
  /** The subject's raw 32-byte Ed25519 identity public key. */
  readonly publicKey: Uint8Array;
  /** Last valid instant, in milliseconds since the Unix epoch (an integer). */
  readonly notAfter: number;
}

export interface Certificate extends CertificateFields {
  /** The authority's 64-byte Ed25519 signature over `certificateMessage(fields)`. */
  readonly signature: Uint8Array;
}

/** What an advertising client attaches in PKI mode (AdvertiseKeysMsg.identity, AdvertisedKeys.identity). */
export interface IdentityProof {
  readonly certificate: Certificate;
  /** The identity key's 64-byte signature over `roundKeysMessage(roundId, keys)`. */
  readonly signature: Uint8Array;
}

/** The keys a PKI-mode client signs for one round. */
export interface RoundKeys {
  /** The client's SecAgg id in the round. */
  readonly id: number;
  readonly encryptionKey: Uint8Array;
  readonly maskingKey: Uint8Array;
  readonly signingKey: Uint8Array;
  readonly graphContribution: Uint8Array;
}

/** A client's PKI-mode configuration (SecAggClient.create's `options.pki`). */
export interface PkiClientOptions {
  /** The authority's raw 32-byte Ed25519 public key, pinned in the client's own configuration. */
  readonly authorityKey: Uint8Array;
  /** The client's long-term identity: its private key and the authority's certificate on its public key. */
  readonly identity: { readonly privateKey: Uint8Array; readonly certificate: Certificate };
  /** The clock certificates are checked against (default Date.now). */
  readonly now?: () => number;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

/** domain ‖ (u32 length ‖ bytes) for each field. */
function encode(domain: string, fields: readonly Uint8Array[]): Uint8Array {
  return concatBytes([utf8(domain), ...fields.flatMap((f) => [u32(f.length), f])]);
}

function fail(code: SecAggError['code'], text: string): never {
  throw new SecAggError(code, text);
}

function checkSubject(subject: unknown): asserts subject is string {
  if (typeof subject !== 'string' || !CERTIFICATE_SUBJECT.test(subject))
    fail('bad-certificate', `a certificate subject must be 1–${MAX_SUBJECT_LENGTH} characters of [A-Za-z0-9._:@+/=-], got ${JSON.stringify(subject)}`);
}

function checkNotAfter(notAfter: unknown): asserts notAfter is number {
  if (typeof notAfter !== 'number' || !Number.isInteger(notAfter) || notAfter < 0 || notAfter > MAX_DATE_MS)
    fail('bad-certificate', `a certificate's notAfter must be an integer of milliseconds since the epoch in [0, 8.64e15], got ${String(notAfter)}`);
}

/** Refuses a key that is not 32 bytes, not canonical, or of small order (a universal-signature key). */
function checkEd25519Key(key: unknown, what: string): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== 32) fail('malformed-key', `${what} must be 32 bytes`);
  if (isSmallOrderEd25519(key)) fail('malformed-key', `${what} is of small order or not canonically encoded: refused`);
}

function checkId(id: unknown): asserts id is number {
  if (!Number.isInteger(id) || (id as number) < 1 || (id as number) > 0xffffffff)
    fail('bad-message', `a SecAgg id must be an integer in [1, 2^32), got ${String(id)}`);
}

/** The bytes the authority signs: domain ‖ subject ‖ public key ‖ notAfter (u64 ms), each length prefixed. */
export function certificateMessage(fields: CertificateFields): Uint8Array {
  checkSubject(fields.subject);
  checkNotAfter(fields.notAfter);
  if (!(fields.publicKey instanceof Uint8Array) || fields.publicKey.length !== 32) fail('malformed-key', 'the certified public key must be 32 bytes');
  return encode(CERTIFICATE_DOMAIN, [utf8(fields.subject), fields.publicKey, u64(fields.notAfter)]);
}

/**
 * The bytes a client's identity key signs in AdvertiseKeys: domain ‖ round id ‖ SecAgg id (u32) ‖
 * encryption key ‖ masking key ‖ signing key ‖ graph contribution, each length prefixed.
 */
export function roundKeysMessage(roundId: string, keys: RoundKeys): Uint8Array {
  if (typeof roundId !== 'string' || roundId.length === 0) fail('bad-message', 'the round id must be a non-empty string');
  checkId(keys.id);
  const parts = [keys.encryptionKey, keys.maskingKey, keys.signingKey, keys.graphContribution];
  if (!parts.every((p) => p instanceof Uint8Array && p.length === 32)) fail('malformed-key', `client ${keys.id}'s round keys must be 32 bytes each`);
  return encode(ROUND_KEYS_DOMAIN, [utf8(roundId), u32(keys.id), ...parts]);
}

/** The authority certifies `fields.publicKey` for `fields.subject` until `fields.notAfter`. */
export async function issueCertificate(authority: KeyPair, fields: CertificateFields, suite?: CryptoSuite): Promise<Certificate> {
  const s = suite ?? (await defaultSuite());
  checkEd25519Key(authority.publicKey, 'the authority key');
  checkEd25519Key(fields.publicKey, 'the identity key');
  const message = certificateMessage(fields);
  const signature = await s.ed25519Sign(authority.privateKey, message);
  // A private key that does not belong to the public one would issue certificates nobody accepts.
  if (!(await s.ed25519Verify(authority.publicKey, message, signature))) fail('bad-parameters', "the authority's private key does not match its public key");
  return { subject: fields.subject, publicKey: Uint8Array.from(fields.publicKey), notAfter: fields.notAfter, signature };
}

/**
 * Throws SecAggError('bad-certificate' | 'malformed-key') unless `certificate` is well formed, signed by
 * `authorityKey`, not expired at `now` (ms), and certifies a canonical key of prime order.
 */
export async function verifyCertificate(certificate: Certificate, authorityKey: Uint8Array, now: number, suite?: CryptoSuite): Promise<void> {
  if (typeof certificate !== 'object' || certificate === null) fail('bad-certificate', 'the certificate is missing');
  checkEd25519Key(authorityKey, 'the pinned authority key');
  checkSubject(certificate.subject);
  checkNotAfter(certificate.notAfter);
  checkEd25519Key(certificate.publicKey, `the identity key certified for ${certificate.subject}`);
  if (!(certificate.signature instanceof Uint8Array) || certificate.signature.length !== 64)
    fail('bad-certificate', `the certificate of ${certificate.subject} has no 64-byte signature`);
  const s = suite ?? (await defaultSuite());
  if (!(await s.ed25519Verify(authorityKey, certificateMessage(certificate), certificate.signature)))
    fail('bad-certificate', `the certificate of ${certificate.subject} is not signed by the pinned authority`);
  if (!(now <= certificate.notAfter))
    fail('bad-certificate', `the certificate of ${certificate.subject} expired at ${new Date(certificate.notAfter).toISOString()}`);
}

/** The identity key's signature over this round's keys (AdvertiseKeysMsg.identity.signature). */
export async function signRoundKeys(identityPrivateKey: Uint8Array, roundId: string, keys: RoundKeys, suite?: CryptoSuite): Promise<Uint8Array> {
  const s = suite ?? (await defaultSuite());
  return s.ed25519Sign(identityPrivateKey, roundKeysMessage(roundId, keys));
}

/** True when `signature` is the identity key's signature over exactly these round keys (never throws on a bad one). */
export async function verifyRoundKeys(identityKey: Uint8Array, roundId: string, keys: RoundKeys, signature: Uint8Array, suite?: CryptoSuite): Promise<boolean> {
  if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
  if (!(identityKey instanceof Uint8Array) || isSmallOrderEd25519(identityKey)) return false;
  let message: Uint8Array;
  try {
    message = roundKeysMessage(roundId, keys);
  } catch {
    return false;
  }
  const s = suite ?? (await defaultSuite());
  return s.ed25519Verify(identityKey, message, signature);
}

/**
 * Checks one advertiser's identity proof: a valid certificate from the pinned authority and the certified
 * key's signature over `keys`. Returns the certificate (its subject identifies the party); throws
 * SecAggError('bad-certificate' | 'malformed-key' | 'bad-signature') naming what failed.
 */
export async function verifyIdentityProof(
  proof: IdentityProof | undefined,
  authorityKey: Uint8Array,
  now: number,
  roundId: string,
  keys: RoundKeys,
  suite?: CryptoSuite,
): Promise<Certificate> {
  if (typeof proof !== 'object' || proof === null) fail('bad-certificate', `client ${keys.id} sent no identity certificate (PKI mode requires one)`);
  await verifyCertificate(proof.certificate, authorityKey, now, suite);
  if (!(await verifyRoundKeys(proof.certificate.publicKey, roundId, keys, proof.signature, suite))) {
    fail(
      'bad-signature',
      `client ${keys.id}'s round keys are not signed by the identity key certified for ${proof.certificate.subject}: the keys were substituted or the signature forged`,
    );
  }
  return proof.certificate;
}

// ---- JSON encodings (hex fields), for the files `hushfl enroll` writes and the Node client reads.

/** Parses `bytes` bytes of hex (upper or lower case); throws SecAggError('bad-message') naming `what`. */
export function fromHex(text: unknown, bytes: number, what: string): Uint8Array {
  if (typeof text !== 'string' || text.length !== 2 * bytes || !/^[0-9a-fA-F]*$/.test(text))
    fail('bad-message', `${what} must be ${bytes} bytes of hex (${2 * bytes} hex digits)`);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export interface CertificateJson {
  readonly subject: string;
  readonly publicKey: string;
  readonly notAfter: number;
  readonly signature: string;
}

export function certificateToJson(c: Certificate): CertificateJson {
  return { subject: c.subject, publicKey: toHex(c.publicKey), notAfter: c.notAfter, signature: toHex(c.signature) };
}

/** Parses the JSON form; checks the shape only (verifyCertificate checks the rest). */
export function certificateFromJson(json: unknown): Certificate {
  if (typeof json !== 'object' || json === null) fail('bad-certificate', 'a certificate must be a JSON object');
  const j = json as Record<string, unknown>;
  checkSubject(j.subject);
  checkNotAfter(j.notAfter);
  return {
    subject: j.subject,
    publicKey: fromHex(j.publicKey, 32, 'certificate.publicKey'),
    notAfter: j.notAfter,
    signature: fromHex(j.signature, 64, 'certificate.signature'),
  };
}

/** An enrolled client's identity file, as `hushfl enroll issue` writes it. Secret: keep it on the device. */
export interface IdentityFileJson {
  readonly kind: 'hushfl-identity';
  readonly version: 1;
  readonly subject: string;
  readonly publicKey: string;
  readonly privateKey: string;
  readonly certificate: CertificateJson;
  /** The issuing authority's public key (informational: a client pins its own copy). */
  readonly authorityKey: string;
}

/** The identity file `hushfl enroll issue` writes, for an identity key pair and the authority's certificate on it. */
export function identityFileOf(identity: KeyPair, certificate: Certificate, authorityKey: Uint8Array): IdentityFileJson {
  return {
    kind: 'hushfl-identity',
    version: 1,
    subject: certificate.subject,
    publicKey: toHex(identity.publicKey),
    privateKey: toHex(identity.privateKey),
    certificate: certificateToJson(certificate),
    authorityKey: toHex(authorityKey),
  };
}

/** Reads an identity file: the identity private key and its certificate, checked to belong together in shape. */
export function identityFromJson(json: unknown): { privateKey: Uint8Array; certificate: Certificate } {
  if (typeof json !== 'object' || json === null || (json as { kind?: unknown }).kind !== 'hushfl-identity')
    fail('bad-message', 'not a hushfl identity file (kind "hushfl-identity")');
  const j = json as Record<string, unknown>;
  if (j.version !== 1) fail('bad-message', `unknown identity file version ${String(j.version)}`);
  const certificate = certificateFromJson(j.certificate);
  const privateKey = fromHex(j.privateKey, 32, 'privateKey');
  return { privateKey, certificate };
}

/**
 * Checks that an identity (private key + certificate) is usable under `authorityKey` at `now`: the
 * certificate verifies and the private key signs for the certified public key. Throws SecAggError.
 */
export async function checkOwnIdentity(pki: PkiClientOptions, now: number, suite?: CryptoSuite): Promise<void> {
  const s = suite ?? (await defaultSuite());
  await verifyCertificate(pki.identity.certificate, pki.authorityKey, now, s);
  const probe = utf8(`${V}/identity-probe|`);
  const privateKey = pki.identity.privateKey;
  const ok =
    privateKey instanceof Uint8Array &&
    privateKey.length === 32 &&
    (await s.ed25519Verify(pki.identity.certificate.publicKey, probe, await s.ed25519Sign(privateKey, probe)));
  if (!ok) fail('bad-certificate', `the identity private key does not match the key certified for ${pki.identity.certificate.subject}`);
}
