import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecAggClient, certificateFromJson, checkOwnIdentity, fromHex, graphCommitment, identityFromJson, verifyCertificate } from '@hushfl/secagg';
import { describe, expect, it } from 'vitest';
import { runCli } from '../runCli.testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'hushfl-enroll-'));
const at = (name: string) => join(dir, name);
const mode = (p: string) => statSync(p).mode & 0o777;

async function authority(name: string): Promise<{ path: string; publicKey: string }> {
  const path = at(name);
  const r = await runCli('enroll', 'authority', '--out', path, '--json');
  expect(r.code).toBe(0);
  return { path, publicKey: JSON.parse(r.out).publicKey };
}

describe('hushfl enroll', () => {
  it('authority writes a 0600 key pair file and prints only the public key', async () => {
    const path = at('ca.json');
    const r = await runCli('enroll', 'authority', '--out', path, '--json');
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.out);
    const file = JSON.parse(readFileSync(path, 'utf8'));
    expect(file).toMatchObject({ kind: 'hushfl-authority', version: 1, publicKey: printed.publicKey });
    expect(file.privateKey).toMatch(/^[0-9a-f]{64}$/);
    expect(r.out).not.toContain(file.privateKey);
    expect(printed).toEqual({ kind: 'hushfl-authority', publicKey: file.publicKey, out: path });
    expect(mode(path)).toBe(0o600);
    // Text mode names the key to pin.
    const text = await runCli('enroll', 'authority', '--out', at('ca-text.json'));
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/--authority-key [0-9a-f]{64}/);
  });

  it('refuses to overwrite an existing file without --force, and keeps 0600 with it', async () => {
    const path = at('taken.json');
    writeFileSync(path, 'keep me', { mode: 0o644 });
    const r = await runCli('enroll', 'authority', '--out', path);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--out .*taken\.json exists; pass --force/);
    expect(readFileSync(path, 'utf8')).toBe('keep me');
    expect((await runCli('enroll', 'authority', '--out', path, '--force')).code).toBe(0);
    expect(mode(path)).toBe(0o600);
  });

  it('issue writes an identity whose certificate verifies under the authority and works in SecAggClient', async () => {
    const ca = await authority('ca-issue.json');
    const out = at('node-1.json');
    const r = await runCli('enroll', 'issue', '--authority', ca.path, '--subject', 'node-1@lab', '--valid-days', '30', '--out', out, '--json');
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.out);
    const file = JSON.parse(readFileSync(out, 'utf8'));
    expect(mode(out)).toBe(0o600);
    expect(r.out).not.toContain(file.privateKey);
    expect(printed).toMatchObject({
      kind: 'hushfl-identity',
      subject: 'node-1@lab',
      publicKey: file.publicKey,
      authorityKey: ca.publicKey,
      certificate: file.certificate,
      out,
    });
    const days = (printed.notAfter - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    expect(printed.expires).toBe(new Date(printed.notAfter).toISOString());
    const authorityKey = fromHex(ca.publicKey, 32, 'authority');
    await expect(verifyCertificate(certificateFromJson(file.certificate), authorityKey, Date.now())).resolves.toBeUndefined();
    const identity = identityFromJson(file);
    await expect(checkOwnIdentity({ authorityKey, identity }, Date.now())).resolves.toBeUndefined();
    // The file is what a PKI-mode client runs with.
    const roundId = 'enroll-round';
    const cfg = { roundId, clients: [1, 2, 3], bits: 8, dim: 2, neighbours: 2, threshold: 2, graphCommitment: graphCommitment(roundId, new Uint8Array(32)) };
    const c = await SecAggClient.create(cfg, 1, new Uint32Array(2), { requirement: { dropoutRate: 0, maxColluders: 0 }, pki: { authorityKey, identity } });
    expect((await c.advertise()).identity?.certificate.subject).toBe('node-1@lab');
    // Another authority's clients refuse it.
    const other = await authority('ca-other.json');
    await expect(verifyCertificate(identity.certificate, fromHex(other.publicKey, 32, 'other'), Date.now())).rejects.toThrow(
      /not signed by the pinned authority/,
    );
  });

  it('issue defaults to 365 days and prints text without --json', async () => {
    const ca = await authority('ca-default.json');
    const r = await runCli('enroll', 'issue', '--authority', ca.path, '--subject', 'dev-2', '--out', at('dev-2.json'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^identity of dev-2 written to .*dev-2\.json/);
    expect(r.out).toContain(`certified by ${ca.publicKey} until `);
    const notAfter = JSON.parse(readFileSync(at('dev-2.json'), 'utf8')).certificate.notAfter;
    expect(Math.round((notAfter - Date.now()) / 86_400_000)).toBe(365);
  });

  it('refuses a bad subject, validity, a missing or foreign authority file (exit 2 for flags, 1 for files)', async () => {
    const ca = await authority('ca-bad.json');
    const bad = await runCli('enroll', 'issue', '--authority', ca.path, '--subject', 'has space', '--out', at('x.json'));
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--subject must be 1–128 characters/);
    expect((await runCli('enroll', 'issue', '--authority', ca.path, '--subject', 'a'.repeat(129), '--out', at('x.json'))).code).toBe(2);
    const days = await runCli('enroll', 'issue', '--authority', ca.path, '--subject', 'ok', '--valid-days', '0', '--out', at('x.json'));
    expect(days.code).toBe(2);
    expect(days.err).toMatch(/--valid-days must be a number in \(0, 36500\]/);
    expect((await runCli('enroll', 'issue', '--subject', 'ok', '--out', at('x.json'))).err).toMatch(/--authority is required/);
    const missing = await runCli('enroll', 'issue', '--authority', at('nope.json'), '--subject', 'ok', '--out', at('x.json'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/--authority: cannot read/);
    const identityAsAuthority = at('dev-as-ca.json');
    expect((await runCli('enroll', 'issue', '--authority', ca.path, '--subject', 'ok', '--out', identityAsAuthority)).code).toBe(0);
    const wrong = await runCli('enroll', 'issue', '--authority', identityAsAuthority, '--subject', 'ok', '--out', at('y.json'));
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/is not a hushfl authority file/);
    // A tampered authority file (public key not the private key's) issues nothing.
    const ca2 = JSON.parse(readFileSync(ca.path, 'utf8'));
    const tampered = at('ca-tampered.json');
    writeFileSync(tampered, JSON.stringify({ ...ca2, publicKey: (await authority('ca-3.json')).publicKey }));
    const t = await runCli('enroll', 'issue', '--authority', tampered, '--subject', 'ok', '--out', at('z.json'));
    expect(t.code).toBe(1);
    expect(t.err).toMatch(/does not match its public key/);
    // `hushfl enroll` alone names its subcommands.
    const bare = await runCli('enroll');
    expect(bare.code).toBe(2);
    expect(bare.err).toMatch(/'enroll authority', 'enroll issue'/);
  });
});
