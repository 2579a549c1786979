import { describe, expect, it } from 'vitest';
import { clientPageQuerySchema } from '@hushfl/protocol';
import { inviteUrl } from './Invites.tsx';

describe('inviteUrl', () => {
  it('puts the code in the client page query the page reads (?joinCode=), keeping what is there', () => {
    const code = 'k3Y_-abcdefghijklmnopq';
    const url = new URL(inviteUrl('https://192.168.1.20:8443/?miniClients=2', code));
    expect(url.origin + url.pathname).toBe('https://192.168.1.20:8443/');
    expect(clientPageQuerySchema.parse(Object.fromEntries(url.searchParams))).toEqual({ miniClients: 2, joinCode: code });
  });
});
