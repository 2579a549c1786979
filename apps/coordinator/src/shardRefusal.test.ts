/**
 * A refused shard download reads as the coordinator's words in the Node client (and, through the same
 * httpErrorMessage, on the page): a real coordinator, a real session, the Node client's own GET.
 */
import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { getBytes } from '@hushfl/node';
import { CLIENT_NAMESPACE, EVENTS, PROTOCOL_VERSION } from '@hushfl/protocol';
import { startTestCoordinator } from './testing.ts';

describe('a refused shard download', () => {
  it('says the status and the reason: not "[object Object]", not the status alone', async () => {
    const { c } = await startTestCoordinator();
    const socket = io(new URL(CLIENT_NAMESPACE, c.url).toString(), { transports: ['websocket'], reconnection: false });
    try {
      const ack = await socket.emitWithAck(EVENTS.hello, { v: PROTOCOL_VERSION, miniClients: 1 });
      expect(ack.ok).toBe(true);
      const session = { 'x-hushfl-session': `${ack.clientId}:${ack.sessionToken}` };
      const url = (i: number | string) => new URL(`${ack.shardUrl}${i}`, c.url).toString();
      const other = ack.shards[0] === 0 ? 1 : 0;
      expect((await getBytes(url(ack.shards[0]), session, false)).byteLength).toBeGreaterThan(0);
      await expect(getBytes(url(other), session, false)).rejects.toThrow(new Error(`HTTP 403: shard ${other} is not assigned to this client`));
      await expect(getBytes(url(ack.shards[0]), { 'x-hushfl-session': 'nobody:0123456789abcdef' }, false)).rejects.toThrow(
        new Error('HTTP 401: client session required: X-Hushfl-Session: <clientId>:<sessionToken>'),
      );
      await expect(getBytes(url('x'), session, false)).rejects.toThrow(new Error('HTTP 400: index: must be a shard number'));
    } finally {
      socket.close();
      await c.close();
    }
  });
});
