/**
 * PKI mode in the client Worker (issue 12 §6): an imported identity file is checked, stored in IndexedDB
 * (fake-indexeddb) and used from the next init; a broken or expired one is refused, never silently dropped.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Trainer } from '@hushfl/client';
import { defaultSuite, identityFileOf, issueCertificate, type IdentityFileJson } from '@hushfl/secagg';
import { store } from '../store.ts';
import { ClientWorkerLogic } from './clientWorker.ts';
import type { FromClientWorker } from './messages.ts';

const stubTrainer: Trainer = { miniClients: 1, backend: 'stub', train: () => Promise.reject(new Error('no training here')), dispose() {} };

async function identityFile(notAfter = Date.now() + 86_400_000): Promise<IdentityFileJson> {
  const suite = await defaultSuite();
  const authority = await suite.ed25519KeyPair();
  const identity = await suite.ed25519KeyPair();
  const certificate = await issueCertificate(authority, { subject: 'tab-7', publicKey: identity.publicKey, notAfter }, suite);
  return identityFileOf(identity, certificate, authority.publicKey);
}

afterEach(() => store.forget());

describe('PKI identity in the client Worker', () => {
  it('checks and stores an imported identity; the next init runs with it', async () => {
    const file = await identityFile();
    const posted: FromClientWorker[] = [];
    const first = new ClientWorkerLogic((m) => void posted.push(m), store);
    await first.init(stubTrainer);
    await first.importIdentity(JSON.stringify(file));
    expect(posted.filter((m) => m.type === 'identity')).toEqual([
      { type: 'identity', identity: { subject: 'tab-7', authorityKey: file.authorityKey, notAfter: file.certificate.notAfter, active: false } },
    ]);
    expect(await store.pkiIdentity()).toEqual(file);
    const next: FromClientWorker[] = [];
    await new ClientWorkerLogic((m) => void next.push(m), store).init(stubTrainer);
    expect(next.find((m) => m.type === 'identity')).toMatchObject({ identity: { subject: 'tab-7', active: true } });
    expect(next.some((m) => m.type === 'error')).toBe(false);
  });

  it('refuses a file that is not an identity, or whose key does not match its certificate', async () => {
    const posted: FromClientWorker[] = [];
    const logic = new ClientWorkerLogic((m) => void posted.push(m), store);
    await logic.importIdentity('{"kind":"something-else"}');
    const file = await identityFile();
    const other = await identityFile();
    await logic.importIdentity(JSON.stringify({ ...file, privateKey: other.privateKey }));
    const errors = posted.filter((m) => m.type === 'error').map((m) => (m as { message: string }).message);
    expect(errors).toEqual([
      expect.stringMatching(/^not a usable identity file: not a hushfl identity file/),
      expect.stringMatching(/does not match the key certified/),
    ]);
    expect(await store.pkiIdentity()).toBeUndefined();
  });

  it('an expired stored identity: init says so and takes no part (no fallback to plain SecAgg)', async () => {
    await store.setPkiIdentity(await identityFile(Date.now() - 1000));
    const posted: FromClientWorker[] = [];
    await new ClientWorkerLogic((m) => void posted.push(m), store).init(stubTrainer);
    expect(posted.find((m) => m.type === 'error')).toMatchObject({ message: expect.stringMatching(/the stored identity cannot be used \(.*expired/) });
    expect(posted.some((m) => m.type === 'identity')).toBe(false);
    expect(posted.find((m) => m.type === 'ready')).toEqual({ type: 'ready', resumedRound: null });
  });
});
