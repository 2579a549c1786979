/**
 * The client heartbeat (Socket.IO's ping): `pingTimeoutMs` is what a client is told in the handshake and how
 * long its socket may leave a ping unanswered; 20 s unless the operator says otherwise (`--ping-timeout-ms`).
 */
import { describe, expect, it } from 'vitest';
import { startTestCoordinator } from './testing.ts';

async function handshake(url: string): Promise<{ pingInterval: number; pingTimeout: number }> {
  const res = await fetch(new URL('/socket.io/?EIO=4&transport=polling', url));
  const text = await res.text();
  // Engine.IO v4 open packet: "0" then the JSON handshake.
  expect(text.startsWith('0')).toBe(true);
  return JSON.parse(text.slice(1));
}

describe('the client heartbeat', () => {
  it('pings every 10 s and waits 20 s for the answer by default, as long as told with pingTimeoutMs', async () => {
    const plain = await startTestCoordinator();
    const patient = await startTestCoordinator(undefined, undefined, { pingTimeoutMs: 120_000 });
    try {
      expect(await handshake(plain.c.url)).toMatchObject({ pingInterval: 10_000, pingTimeout: 20_000 });
      expect(await handshake(patient.c.url)).toMatchObject({ pingInterval: 10_000, pingTimeout: 120_000 });
    } finally {
      await Promise.all([plain.c.close(), patient.c.close()]);
    }
  });
});
