import { describe, expect, it } from 'vitest';
import { joinUrl } from './joinUrl.ts';

describe('joinUrl', () => {
  const served = ['https://127.0.0.1:8443/', 'https://192.168.1.20:8443/'];
  it('keeps the origin the dashboard was opened on when a phone can reach it', () => {
    expect(joinUrl('https://fl.example.org', served)).toBe('https://fl.example.org/');
    expect(joinUrl('https://192.168.1.20:8443', served)).toBe('https://192.168.1.20:8443/');
  });
  it('offers the coordinator’s network address instead of loopback', () => {
    expect(joinUrl('https://localhost:8443', served)).toBe('https://192.168.1.20:8443/');
    expect(joinUrl('http://127.0.0.1:8080', served)).toBe('https://192.168.1.20:8443/');
    expect(joinUrl('http://[::1]:8080', served)).toBe('https://192.168.1.20:8443/');
  });
  it('stays on loopback when the coordinator listens only there', () => {
    expect(joinUrl('http://127.0.0.1:8080', ['http://127.0.0.1:8080/'])).toBe('http://127.0.0.1:8080/');
  });
});
