/**
 * PKI mode in the browser (issue 12 §6): a tab imports an identity file as `hushfl enroll issue` writes it,
 * uses it from its next load (the pinned authority key comes from that file, never from the coordinator); a
 * neighbour the authority did not certify makes the enrolled parties refuse to share (the attempt aborts),
 * and with enrolled Node clients only the round is released.
 */
import { expect, test } from '@playwright/test';
import { connectNodeClient, type NodeClient } from '@hushfl/node';
import { defaultSuite, identityFileOf, issueCertificate, type IdentityFileJson, type KeyPair, type PkiClientOptions } from '@hushfl/secagg';
import { startCoordinator } from './support/coordinator.ts';

async function enrol(authority: KeyPair, subject: string): Promise<{ file: IdentityFileJson; pki: PkiClientOptions }> {
  const suite = await defaultSuite();
  const identity = await suite.ed25519KeyPair();
  const certificate = await issueCertificate(authority, { subject, publicKey: identity.publicKey, notAfter: Date.now() + 86_400_000 }, suite);
  const file = identityFileOf(identity, certificate, authority.publicKey);
  return { file, pki: { authorityKey: authority.publicKey, identity: { privateKey: identity.privateKey, certificate } } };
}

test('a tab in PKI mode refuses an unenrolled neighbour, then completes a round with enrolled clients', async ({ page }) => {
  const authority = await (await defaultSuite()).ed25519KeyPair();
  const tab = await enrol(authority, 'tab-0');
  const { c, rounds } = await startCoordinator({
    rounds: 1,
    minClients: 3,
    selection: { clientsPerRound: 3 },
    maxAttempts: 30,
    deadlines: { training: 60, shareKeys: 3, maskedInput: 20, consistencyCheck: 20, unmasking: 20 },
  });
  const nodes: NodeClient[] = [];
  try {
    // Alone on the coordinator, the tab joins (no round can start) and takes its identity for the next load.
    await page.goto(`${c.url}/?backend=wasm`);
    await expect(page.getByTestId('client-id')).toHaveText(/^[A-Za-z0-9_-]{16}$/, { timeout: 30_000 });
    await expect(page.getByTestId('identity')).toHaveText(/^none/);
    await page.getByTestId('identity-file').setInputFiles({ name: 'tab-0.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(tab.file)) });
    await expect(page.getByTestId('identity')).toContainText('tab-0, authority');
    await expect(page.getByTestId('identity')).toContainText('(reload to use)');
    await page.reload();
    await expect(page.getByTestId('identity')).toHaveText(/^tab-0, authority [0-9a-f]{16}…/, { timeout: 30_000 });
    await expect(page.getByTestId('identity')).not.toContainText('reload');

    // One enrolled Node client and one the authority never certified: the enrolled parties share nothing.
    nodes.push(await connectNodeClient({ url: c.url, pki: (await enrol(authority, 'node-1')).pki }));
    const stranger = await connectNodeClient({ url: c.url });
    await expect.poll(() => rounds.filter((r) => r.status === 'aborted').length, { timeout: 60_000 }).toBeGreaterThan(0);
    expect(rounds.some((r) => r.status === 'completed')).toBe(false);

    // The stranger leaves, a second enrolled client comes: the round is released with the tab's update.
    await stranger.close();
    nodes.push(await connectNodeClient({ url: c.url, pki: (await enrol(authority, 'node-2')).pki }));
    await expect(page.getByTestId('notice')).toContainText('Round 1 completed with this tab’s update in the sum', { timeout: 90_000 });
    expect(rounds.find((r) => r.status === 'completed')).toMatchObject({ contributors: 3 });
  } finally {
    for (const n of nodes) await n.close();
    await c.close();
  }
});
