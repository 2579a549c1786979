/**
 * `hushfl enroll`: a minimal identity authority for SecAgg's PKI mode (issue 12 §6, packages/secagg
 * identity.ts). Run it where the clients' identity source lives — not on the coordinator, which must never
 * hold the authority's private key.
 * - `hushfl enroll authority --out FILE` creates the authority's Ed25519 key pair (JSON, hex; mode 0600).
 *   Every client pins the printed public key in its own configuration (`hushfl-node-client --authority-key`).
 * - `hushfl enroll issue --authority FILE --subject NAME [--valid-days N] --out FILE` creates a client's
 *   long-term identity key pair and the authority's certificate on it (JSON, hex; mode 0600): the file the
 *   client runs with (`hushfl-node-client --identity FILE`). Enrol each identity once: a subject is one
 *   party, and clients refuse two neighbours with one subject.
 * Both print only public parts (with --json as JSON); the private keys stay in the files.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { CERTIFICATE_SUBJECT, SecAggError, identityFileOf, defaultSuite, fromHex, issueCertificate, toHex, type KeyPair } from '@hushfl/secagg';
import { UsageError, type FlagSpecs } from '../args.ts';
import type { Command } from '../command.ts';

const DAY_MS = 86_400_000;

/** The authority file `hushfl enroll authority` writes. Secret: whoever holds it can enrol anyone. */
export interface AuthorityFileJson {
  readonly kind: 'hushfl-authority';
  readonly version: 1;
  readonly publicKey: string;
  readonly privateKey: string;
}

/** Writes a secret file readable by its owner only; refuses to replace an existing file unless `force`. */
function writeSecret(path: string, value: unknown, force: boolean): void {
  try {
    writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600, flag: force ? 'w' : 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`--out ${path} exists; pass --force to replace it`);
    throw e;
  }
  chmodSync(path, 0o600); // an existing file replaced with --force keeps its old mode otherwise
}

function readAuthority(path: string): KeyPair {
  let json: Partial<AuthorityFileJson>;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as Partial<AuthorityFileJson>;
  } catch (e) {
    throw new Error(`--authority: cannot read ${path}: ${(e as Error).message}`);
  }
  if (json?.kind !== 'hushfl-authority' || json.version !== 1) throw new Error(`--authority: ${path} is not a hushfl authority file (kind "hushfl-authority")`);
  return { publicKey: fromHex(json.publicKey, 32, 'the authority publicKey'), privateKey: fromHex(json.privateKey, 32, 'the authority privateKey') };
}

const authorityFlags = {
  out: { kind: 'string', required: true, help: 'where to write the authority key pair (JSON, mode 0600)' },
  force: { kind: 'bool', help: 'replace an existing --out file' },
  json: { kind: 'bool', help: 'print the public key as JSON' },
} as const satisfies FlagSpecs;

export const enrollAuthorityCommand: Command<typeof authorityFlags> = {
  name: 'enroll authority',
  summary: 'create a PKI-mode identity authority (Ed25519 key pair) whose public key the clients pin',
  flags: authorityFlags,
  async run(f) {
    const out = f.out!;
    const pair = await (await defaultSuite()).ed25519KeyPair();
    const file: AuthorityFileJson = { kind: 'hushfl-authority', version: 1, publicKey: toHex(pair.publicKey), privateKey: toHex(pair.privateKey) };
    writeSecret(out, file, f.force);
    return {
      json: { kind: 'hushfl-authority', publicKey: file.publicKey, out },
      text: [
        `authority key pair written to ${out} (mode 0600; keep it off the coordinator)`,
        `public key: ${file.publicKey}`,
        `pin it in every client: hushfl-node-client --authority-key ${file.publicKey} --identity FILE`,
      ].join('\n'),
    };
  },
};

const issueFlags = {
  authority: { kind: 'string', required: true, help: 'the authority key pair file (from `hushfl enroll authority`)' },
  subject: { kind: 'string', required: true, help: 'the identity certified: a device or user id, 1–128 characters of [A-Za-z0-9._:@+/=-]' },
  'valid-days': { kind: 'number', help: 'days until the certificate expires (default 365)', range: 'in (0, 36500]', ok: (v: number) => v > 0 && v <= 36_500 },
  out: { kind: 'string', required: true, help: "where to write the client's identity key pair and certificate (JSON, mode 0600)" },
  force: { kind: 'bool', help: 'replace an existing --out file' },
  json: { kind: 'bool', help: 'print the certificate (public parts) as JSON' },
} as const satisfies FlagSpecs;

export const enrollIssueCommand: Command<typeof issueFlags> = {
  name: 'enroll issue',
  summary: "create a client's identity key pair and the authority's certificate on it (PKI mode)",
  flags: issueFlags,
  async run(f) {
    const subject = f.subject!;
    if (!CERTIFICATE_SUBJECT.test(subject)) throw new UsageError(`--subject must be 1–128 characters of [A-Za-z0-9._:@+/=-], got ${JSON.stringify(subject)}`);
    const authority = readAuthority(f.authority!);
    const suite = await defaultSuite();
    const identity = await suite.ed25519KeyPair();
    const notAfter = Math.floor(Date.now() + (f['valid-days'] ?? 365) * DAY_MS);
    let certificate: Awaited<ReturnType<typeof issueCertificate>>;
    try {
      certificate = await issueCertificate(authority, { subject, publicKey: identity.publicKey, notAfter }, suite);
    } catch (e) {
      if (e instanceof SecAggError) throw new Error(`--authority ${f.authority}: ${e.message}`);
      throw e;
    }
    const file = identityFileOf(identity, certificate, authority.publicKey);
    const out = f.out!;
    writeSecret(out, file, f.force);
    const expires = new Date(notAfter).toISOString();
    return {
      json: {
        kind: 'hushfl-identity',
        subject,
        publicKey: file.publicKey,
        notAfter,
        expires,
        certificate: file.certificate,
        authorityKey: file.authorityKey,
        out,
      },
      text: [
        `identity of ${subject} written to ${out} (mode 0600; it holds the identity's private key: keep it on the client)`,
        `identity key: ${file.publicKey}`,
        `certified by ${file.authorityKey} until ${expires}`,
      ].join('\n'),
    };
  },
};
