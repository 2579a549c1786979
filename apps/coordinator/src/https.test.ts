/**
 * Cross-device clients need a secure context for WebCrypto: the coordinator serves HTTPS when given a
 * certificate and key, and warns when it would serve plain HTTP on a network address.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectNodeClient } from '@hushfl/node';
import { createCoordinator } from './app.ts';

describe('HTTPS', () => {
  it('serves the client protocol over TLS with the given certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hushfl-tls-'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], {
      stdio: 'ignore',
    });
    const c = await createCoordinator({ port: 0, dataDir: join(dir, 'data'), logLevel: 'silent', tls: { cert, key } });
    expect(c.url).toMatch(/^https:\/\//);
    expect(c.warnings).toEqual([]);
    const client = await connectNodeClient({ url: c.url, insecureTls: true });
    expect(client.clientId).toMatch(/^[A-Za-z0-9_-]{16}$/);
    await client.close();
    await c.close();
  });

  it('warns that browsers elsewhere lack WebCrypto over plain HTTP on a network address', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hushfl-http-'));
    const c = await createCoordinator({ port: 0, host: '0.0.0.0', dataDir: dir, logLevel: 'silent' });
    expect(c.warnings.join(' ')).toMatch(/plain HTTP on 0\.0\.0\.0: browsers on other devices get no WebCrypto/);
    await c.close();
  });
});
