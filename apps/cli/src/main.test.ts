import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { accountDdg, accountDpsgd, calibrateDdg } from '@hushfl/ddp';
import { describe, expect, it } from 'vitest';
import { runCli } from './runCli.testing.ts';

const run = runCli;

const ddgArgs = [
  '--clip',
  '1',
  '--gamma',
  '1e-3',
  '--beta',
  '0',
  '--dim',
  '1024',
  '--clients',
  '10',
  '--local-stddev',
  '1',
  '--sample-rate',
  '1',
  '--rounds',
  '10',
  '--delta',
  '1e-5',
];

describe('hushfl account', () => {
  it('ddg prints the accountant’s result as JSON', async () => {
    const { code, out } = await run('account', 'ddg', ...ddgArgs, '--json');
    expect(code).toBe(0);
    const json = JSON.parse(out);
    const want = accountDdg({ clip: 1, gamma: 1e-3, beta: 0, dimPadded: 1024, clients: 10, localStddev: 1, sampleRate: 1, rounds: 10, delta: 1e-5 });
    expect(json.epsilon).toBe(want.epsilon);
    expect(json.order).toBe(want.order);
    expect(json.orders).toHaveLength(128);
    expect(json.rdp).toEqual(want.rdp);
    expect(json.tau).toBe(want.tau);
    expect(json.l2SensitivityGrid).toBe(1032);
  });

  it('ddg prints readable text without --json', async () => {
    const { code, out } = await run('account', 'ddg', ...ddgArgs);
    expect(code).toBe(0);
    expect(out).toMatch(/^ε = 4\.915\d at δ = 0\.00001 \(best RDP order 5\)/);
  });

  it('dpsgd matches accountDpsgd', async () => {
    const { code, out } = await run('account', 'dpsgd', '--sample-rate', '0.01', '--noise-multiplier', '1.1', '--steps', '1000', '--delta', '1e-5', '--json');
    expect(code).toBe(0);
    const want = accountDpsgd({ sampleRate: 0.01, noiseMultiplier: 1.1, steps: 1000, delta: 1e-5 });
    expect(JSON.parse(out)).toEqual({ epsilon: want.epsilon, order: want.order, orders: [...want.orders], rdp: want.rdp });
  });
});

describe('hushfl calibrate ddg', () => {
  it('returns γ and σ that the accountant confirms', async () => {
    const { code, out } = await run(
      'calibrate',
      'ddg',
      '--epsilon',
      '4',
      '--delta',
      '1e-5',
      '--clients',
      '20',
      '--min-clients',
      '15',
      '--population',
      '400',
      '--rounds',
      '20',
      '--dim',
      '5000',
      '--clip',
      '0.5',
      '--bits',
      '18',
      '--json',
    );
    expect(code).toBe(0);
    const json = JSON.parse(out);
    const direct = calibrateDdg({ epsilon: 4, delta: 1e-5, clients: 20, minClients: 15, sampleRate: 20 / 400, rounds: 20, dim: 5000, clip: 0.5, bits: 18 });
    expect(json.gamma).toBe(direct.gamma);
    expect(json.localStddev).toBe(direct.localStddev);
    expect(json.epsilon).toBeLessThanOrEqual(4);
    expect(json.dimPadded).toBe(8192);
    // The utility forecast: 20 parties' noise on the released mean of 5000 weights, against the clip.
    const stddev = Math.sqrt(20 * (direct.localStddev ** 2 + direct.gamma ** 2 / 4)) / 20;
    expect(json.forecast.noiseToClip).toBeCloseTo((stddev * Math.sqrt(5000)) / 0.5, 9);
    expect(json.forecast.message).toMatch(/^with n_min = 15 and ε = 4 over 20 rounds the noise norm is [0-9.]+× the clip/);
  });

  it('with --count-noise, charges the clipped count beside each update and shows the split (Andrew et al. 2021)', async () => {
    const args = ['calibrate', 'ddg', '--epsilon', '4', '--delta', '1e-5', '--clients', '20', '--min-clients', '16', '--population', '400'];
    const rest = ['--rounds', '20', '--dim', '5000', '--clip', '0.5', '--bits', '18'];
    const { code, out } = await run(...args, ...rest, '--count-noise', '1', '--json');
    expect(code).toBe(0);
    const json = JSON.parse(out);
    // σ_b = 1 on the count at n_min = 16 parties: s = 2·1/√16 = 1/2 per party in sign units, sent as ±4 with
    // grid noise 2 (where τ vanishes).
    expect(json.countScale).toBe(4);
    expect(json.countStddev).toBe(2);
    const without = calibrateDdg({ epsilon: 4, delta: 1e-5, clients: 20, minClients: 16, sampleRate: 20 / 400, rounds: 20, dim: 5000, clip: 0.5, bits: 18 });
    expect(json.localStddev).toBeGreaterThan(without.localStddev);
    expect(json.localStddevWithoutCount).toBe(without.localStddev);
    expect(json.epsilon).toBeLessThanOrEqual(4);
    // Without --count-noise: the paper's σ_b = m/20 = 1, whose count alone spends about 0.92 of ε = 4.
    const text = await run(...args, ...rest, '--adaptive-clip');
    expect(text.out).toMatch(
      /adaptive clipping: the count's noise σ_b = 1\.000 contributions \(±4 with grid noise 2\.000 per party\); alone the update spends ε = [0-9.]+, the count ε = 0\.92/,
    );
    // Four clients a round are too few for a useful noisy count: refused, naming the flag.
    const small = await run(
      'calibrate',
      'ddg',
      '--epsilon',
      '20',
      '--delta',
      '1e-5',
      '--clients',
      '4',
      '--sample-rate',
      '1',
      '--rounds',
      '3',
      '--dim',
      '5000',
      '--clip',
      '0.5',
      '--bits',
      '18',
      '--adaptive-clip',
    );
    expect(small.code).toBe(2);
    expect(small.err).toMatch(/--count-noise: adaptive clipping's count at σ_b = m\/20 = 0\.2 .* too few clients per round \(4\)/);
  });

  it('refuses both --sample-rate and --population', async () => {
    const r = await run(
      'calibrate',
      'ddg',
      '--epsilon',
      '4',
      '--delta',
      '1e-5',
      '--clients',
      '20',
      '--population',
      '400',
      '--sample-rate',
      '0.1',
      '--rounds',
      '20',
      '--dim',
      '5000',
      '--clip',
      '0.5',
      '--bits',
      '18',
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/either --sample-rate or --population/);
  });

  it('names --bits when the ring is too small', async () => {
    const r = await run(
      'calibrate',
      'ddg',
      '--epsilon',
      '4',
      '--delta',
      '1e-5',
      '--clients',
      '500',
      '--sample-rate',
      '1',
      '--rounds',
      '1',
      '--dim',
      '100',
      '--clip',
      '1',
      '--bits',
      '5',
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^hushfl calibrate ddg: --bits: bits=5 cannot hold 500 clients .* need bits >= \d+\n$/);
  });
});

describe('hushfl sample dgauss', () => {
  it('returns a histogram of the requested number of samples', async () => {
    const { code, out } = await run('sample', 'dgauss', '--sigma2', '3/2', '--count', '20000', '--json');
    expect(code).toBe(0);
    const json = JSON.parse(out);
    const total = Object.values(json.counts as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(total).toBe(20000);
    expect(json.sigma2).toBe('3/2');
    for (const k of Object.keys(json.counts)) expect(Number.isInteger(Number(k))).toBe(true);
    // Variance of N_Z(0, 3/2) from its pmf; the sample variance within 5 standard errors.
    let z = 0;
    let m2 = 0;
    for (let y = -60; y <= 60; y++) {
      const w = Math.exp((-y * y) / 3);
      z += w;
      m2 += w * y * y;
    }
    expect(Math.abs(json.variance - m2 / z)).toBeLessThan(5 * Math.sqrt((2 * (m2 / z) ** 2) / 20000));
  });
});

describe('bad arguments: one line naming the flag, exit code 2', () => {
  const cases: [string[], RegExp][] = [
    [['account', 'ddg', ...ddgArgs.map((a) => (a === '1024' ? '1000' : a))], /--dim must be the padded dimension, a power of two; got 1000 \(use 1024\)/],
    [['account', 'ddg', ...ddgArgs.map((a, i, all) => (all[i - 1] === '--clip' ? '-1' : a))], /--clip must be a number > 0, got '-1'/],
    [['account', 'ddg', ...ddgArgs.map((a, i, all) => (all[i - 1] === '--delta' ? '2' : a))], /--delta must be a number in \(0, 1\), got '2'/],
    [['account', 'ddg', ...ddgArgs.map((a, i, all) => (all[i - 1] === '--clients' ? '2.5' : a))], /--clients must be an integer >= 1, got '2.5'/],
    [['account', 'ddg', ...ddgArgs.slice(2)], /--clip is required/],
    [['account', 'ddg', ...ddgArgs, '--bogus', '1'], /unknown flag '--bogus'/i],
    [
      ['account', 'dpsgd', '--sample-rate', 'abc', '--noise-multiplier', '1', '--steps', '1', '--delta', '1e-5'],
      /--sample-rate must be a number in \(0, 1\], got 'abc'/,
    ],
    [['sample', 'dgauss', '--sigma2', '1/0', '--count', '5'], /--sigma2 must be a positive rational P\/Q or integer, got '1\/0'/],
    [['sample', 'dgauss', '--sigma2', '2', '--count', '0'], /--count must be an integer in \[1, 100000000\], got '0'/],
    [['sample', 'dgauss', '--sigma2', String(2n ** 82n), '--count', '1'], /--sigma2 must be in \(0, 2\^80\)/],
    [['account', 'ddg', ...ddgArgs.map((a) => (a === '1024' ? String(2 ** 31) : a))], /--dim must be an integer in \[1, 2\^30\], got '2147483648'/],
    [
      [
        'calibrate',
        'ddg',
        '--epsilon',
        '1',
        '--delta',
        '1e-5',
        '--clients',
        '10',
        '--min-clients',
        '8',
        '--sample-rate',
        '1',
        '--rounds',
        '10',
        '--dim',
        '2000000000',
        '--clip',
        '1',
        '--bits',
        '16',
      ],
      /--dim must be an integer in \[1, 2\^30\]/,
    ],
    [['account'], /unknown command 'account'.*'account ddg'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [argv, message] of cases) {
    it(`hushfl ${argv.slice(0, 2).join(' ')} … → ${message.source.slice(0, 40)}`, async () => {
      const r = await run(...argv);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(message);
    });
  }
});

describe('the hushfl binary', () => {
  it('runs from a shell with --help and with a command', () => {
    const bin = fileURLToPath(new URL('../bin/hushfl.mjs', import.meta.url));
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/account ddg/);
    // Every command and every flag is separated from its summary, however long its name.
    expect(help.stdout).toMatch(/ {2}experiment utility {2,}accuracy/);
    const flags = spawnSync(process.execPath, [bin, 'experiment', 'utility', '--help'], { encoding: 'utf8' });
    expect(flags.stdout).toMatch(/--clients-per-round <v> {2,}clients per round/);
    const bad = spawnSync(process.execPath, [bin, 'account', 'dpsgd', '--sample-rate', '0.1', '--noise-multiplier', '1', '--steps', 'x', '--delta', '1e-5'], {
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--steps must be an integer/);
  });
});
