/** Enrollment on the wire (issue 13 §2): the run config's `access`, hello's `joinCode`, the client page's `?joinCode=`. */
import { describe, expect, it } from 'vitest';
import { parseRunConfig } from './config.ts';
import { helloSchema, PROTOCOL_VERSION } from './messages.ts';
import { clientPageQuerySchema } from './pages.ts';

const base = { secagg: { maxColluders: 1 }, rounds: 5, minClients: 8, ddg: { epsilon: 4 } };
const code = 'Ab3_-'.repeat(5).slice(0, 22);

describe('enrollment', () => {
  it('access defaults to no enrollment, takes enrollment: true and nothing else', () => {
    expect(parseRunConfig(base).access).toEqual({ enrollment: false });
    expect(parseRunConfig({ ...base, access: { enrollment: true } }).access).toEqual({ enrollment: true });
    expect(() => parseRunConfig({ ...base, access: { enrollment: 'yes' } })).toThrow(/^access\.enrollment: /);
    expect(() => parseRunConfig({ ...base, access: { invite: true } })).toThrow(/^access: /);
  });

  it('hello and the client page query carry an optional join code of the token alphabet', () => {
    expect(helloSchema.parse({ v: PROTOCOL_VERSION, joinCode: code }).joinCode).toBe(code);
    expect(helloSchema.parse({ v: PROTOCOL_VERSION }).joinCode).toBeUndefined();
    for (const bad of ['short', 'x'.repeat(129), `${code}!`]) expect(helloSchema.safeParse({ v: PROTOCOL_VERSION, joinCode: bad }).success).toBe(false);
    expect(clientPageQuerySchema.parse({ joinCode: code, autojoin: '1' })).toEqual({ joinCode: code, autojoin: '1' });
    expect(clientPageQuerySchema.safeParse({ joinCode: 'a b' }).success).toBe(false);
  });
});
