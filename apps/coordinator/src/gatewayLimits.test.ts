/** The gateway's counting parts on their own: the sliding window, the address a cap counts, the limits' checks. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_GATEWAY_LIMITS, GatewayCounters, SlidingWindow, addressKey, clientAddress, isLoopback, resolveLimits } from './gatewayLimits.ts';

describe('SlidingWindow', () => {
  it('counts the events of a key within the window and forgets older ones', () => {
    let t = 1_000_000;
    const w = new SlidingWindow(60_000, 100, () => t);
    expect([w.hit('a'), w.hit('a'), w.hit('b')]).toEqual([1, 2, 1]);
    t += 30_000;
    expect(w.hit('a')).toBe(3);
    t += 30_000; // the first two are exactly one window old: out
    expect(w.hit('a')).toBe(2);
    t += 60_000; // b has nothing left in the window: swept
    w.hit('a');
    expect(w.size).toBe(1);
  });

  it('saturates at its cap, keeping memory bounded under a flood', () => {
    const t = 5;
    const w = new SlidingWindow(60_000, 4, () => t);
    const counts = Array.from({ length: 1000 }, () => w.hit('flood'));
    expect(counts.slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(new Set(counts.slice(4))).toEqual(new Set([4]));
  });
});

describe('clientAddress', () => {
  it('takes the entry the trusted proxy appended, and ignores the header without one', () => {
    expect(clientAddress('127.0.0.1', '198.51.100.1, 203.0.113.7', true)).toBe('203.0.113.7');
    expect(clientAddress('127.0.0.1', ['198.51.100.1', '203.0.113.9'], true)).toBe('203.0.113.9');
    expect(clientAddress('127.0.0.1', undefined, true)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', ' , ', true)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', '203.0.113.7', false)).toBe('127.0.0.1');
  });
});

describe('addressKey', () => {
  it('counts IPv4, IPv4-mapped IPv6 alike, and an IPv6 address by its /64', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:0:1:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:0db8:0000:0001::7')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:db8:0:2::1')).not.toBe(addressKey('2001:db8:0:1::1'));
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('203.0.113.7')).toBe(false);
  });
});

describe('resolveLimits', () => {
  it('fills in the defaults, per strike class too, and refuses a limit below 1', () => {
    const l = resolveLimits({ maxConnectionsPerIp: 8, strikeLimits: { schema: 5 } });
    expect(l.maxConnectionsPerIp).toBe(8);
    expect(l.maxConnections).toBe(DEFAULT_GATEWAY_LIMITS.maxConnections);
    expect(l.strikeLimits.schema).toBe(5);
    expect(l.strikeLimits['repeated-hello']).toBe(DEFAULT_GATEWAY_LIMITS.strikeLimits['repeated-hello']);
    expect(() => resolveLimits({ maxHellosPerConnection: 0 })).toThrow('gateway limit maxHellosPerConnection must be an integer >= 1, got 0');
    expect(() => resolveLimits({ strikeLimits: { 'wrong-round': 1.5 } })).toThrow('wrong-round');
  });

  it('counters start at zero in every class and hand out copies', () => {
    const c = new GatewayCounters();
    const s = c.stats();
    expect(Object.values(s.strikes).every((n) => n === 0)).toBe(true);
    expect(Object.keys(s.strikes)).toHaveLength(Object.keys(DEFAULT_GATEWAY_LIMITS.strikeLimits).length + 2);
    s.strikes.schema = 9;
    expect(c.stats().strikes.schema).toBe(0);
  });
});
