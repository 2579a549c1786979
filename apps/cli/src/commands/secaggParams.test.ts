import { chooseSecAggParams } from '@hushfl/secagg';
import { describe, expect, it } from 'vitest';
import { runCli } from '../runCli.testing.ts';

/** n · P[Bin(k, 1/10) >= j] <= 2^-40, exactly (condition (i) at γ = 0.1). */
function exposureAtMost2To40(n: number, k: number, j: number): boolean {
  let num = 0n;
  for (let i = j; i <= k; i++) {
    let c = 1n;
    for (let m = 1; m <= i; m++) c = (c * BigInt(k - i + m)) / BigInt(m);
    num += c * 9n ** BigInt(k - i);
  }
  return BigInt(n) * num * 2n ** 40n <= 10n ** BigInt(k);
}

describe('hushfl secagg-params', () => {
  it('--json prints k, t, n, dropout, corrupt and the guarantee of the chooser', async () => {
    const r = await runCli('secagg-params', '--clients', '500', '--dropout', '0.1', '--corrupt', '0.1', '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out);
    for (const key of ['k', 't', 'n', 'dropout', 'corrupt']) expect(json).toHaveProperty(key);
    const p = chooseSecAggParams(500, { dropoutRate: 0.1, corruptRate: 0.1 });
    expect(json).toMatchObject({ k: p.neighbours, t: p.threshold, n: 500, dropout: 0.1, corrupt: 0.1, complete: p.complete });
    expect(json.guarantee).toEqual({ kind: 'rate', corruptRate: 0.1, securityBits: 40 });
    expect(json.abortProbability).toBe(p.abortProbability);
    expect(exposureAtMost2To40(500, json.k, 2 * json.t - json.k)).toBe(true);
  });

  it('prints a short summary without --json; reports the abort probability when liveness fails', async () => {
    const r = await runCli('secagg-params', '--clients', '20', '--dropout', '0.1', '--corrupt', '0.1');
    expect(r.code).toBe(0);
    const p = chooseSecAggParams(20);
    expect(r.out).toContain(`k = ${p.neighbours}, t = ${p.threshold} (complete graph)`);
    expect(r.out).toMatch(/2\^-40 per round/);
    expect(r.out).toMatch(/above the 2\^-20 target/);
  });

  it('--max-colluders gives the absolute guarantee C < 2t − k', async () => {
    const r = await runCli('secagg-params', '--clients', '10', '--dropout', '0.1', '--max-colluders', '2', '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out);
    expect(json.guarantee).toEqual({ kind: 'colluders', maxColluders: 2 });
    expect(json.n).toBe(10);
    expect(json.corrupt).toBe(2 / 10);
    expect(2).toBeLessThan(2 * json.t - json.k);
  });

  it('exits 2 with the reason when no parameters exist, and on bad flags', async () => {
    const none = await runCli('secagg-params', '--clients', '10', '--dropout', '0.1', '--corrupt', '0.1', '--json');
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/^hushfl secagg-params: no SecAgg\+ parameters for n = 10, δ = 0\.1, γ = 0\.1 .*maxColluders <= 8\n$/);
    expect((await runCli('secagg-params', '--clients', '5', '--dropout', '0.1', '--max-colluders', '4')).code).toBe(2);
    const two = await runCli('secagg-params', '--clients', '2', '--dropout', '0.1', '--corrupt', '0.1');
    expect(two.code).toBe(2);
    expect(two.err).toMatch(/--clients must be an integer in \[3, 10\^6\], got '2'/);
    expect((await runCli('secagg-params', '--clients', '100', '--dropout', '1', '--corrupt', '0.1')).err).toMatch(/--dropout must be a number in \[0, 1\)/);
    expect((await runCli('secagg-params', '--clients', '100', '--dropout', '0.1')).err).toMatch(/--corrupt .* or --max-colluders/);
    expect((await runCli('secagg-params', '--clients', '100', '--dropout', '0.6', '--corrupt', '0.5')).code).toBe(2);
  });
});
