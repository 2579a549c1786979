import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../runCli.testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'secagg-sim-'));
let badCount = 0;
function file(name: string, value: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value));
  return p;
}

const run = runCli;

/** 12 clients, 40 values each in [0, 2^12), drawn from a small deterministic generator. */
function vectors(n: number, d: number, bits: number) {
  let s = 12345;
  const next = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s >>> 8) % 2 ** bits;
  };
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i + 1), Array.from({ length: d }, next)]));
}

describe('hushfl secagg-sim', () => {
  const v = vectors(12, 40, 12);
  const inputs = file('in.json', { bits: 12, vectors: v });

  it('sums exactly the included clients despite a dropout at every stage', async () => {
    const drop = file('drop.json', { '7': 'after-advertise', '3': 'after-share', '5': 'after-masked-input', '9': 'during-unmask' });
    const { code, out } = await run('secagg-sim', '--inputs', inputs, '--drop', drop, '--json');
    expect(code).toBe(0);
    const json = JSON.parse(out);
    expect(json.included).toEqual([1, 2, 4, 5, 6, 8, 9, 10, 11, 12]);
    const plain = new Array(40).fill(0);
    for (const id of json.included) for (let j = 0; j < 40; j++) plain[j] = (plain[j] + v[String(id)]![j]!) % 4096;
    expect(json.sum).toEqual(plain);
    expect(json.dropped).toEqual({ '7': 'after-advertise', '3': 'after-share', '5': 'after-masked-input', '9': 'during-unmask' });
    for (const stage of ['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking']) expect(json.timingsMs[stage]).toBeDefined();
  });

  it('exits 3 with {"error"} when recovery is impossible', async () => {
    const drop = file('drop-many.json', Object.fromEntries(Array.from({ length: 8 }, (_, i) => [String(i + 1), 'during-unmask'])));
    const { code, out } = await run('secagg-sim', '--inputs', inputs, '--drop', drop, '--json');
    expect(code).toBe(3);
    expect(JSON.parse(out).error).toMatch(/cannot unmask client \d+/);
  });

  it('takes k, t and the seed from flags, and refuses t <= k/2', async () => {
    const ok = await run('secagg-sim', '--inputs', inputs, '--neighbors', '6', '--threshold', '4', '--seed', 'ab'.repeat(32), '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).params).toMatchObject({ neighbours: 6, threshold: 4 });
    const bad = await run('secagg-sim', '--inputs', inputs, '--neighbors', '6', '--threshold', '3');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/threshold t=3 must exceed k\/2=3/);
  });

  const badInputs: [unknown, RegExp][] = [
    [{ bits: 40, vectors: v }, /"bits" must be an integer in \[1, 32\]/],
    [{ bits: 12, vectors: { '1': [1, 2], '2': [1], '3': [1, 2] } }, /client 2's vector has 1 values, the first had 2/],
    [{ bits: 12, vectors: { '1': [1, 4096], '2': [1, 2], '3': [1, 2] } }, /client 1's value 4096 at index 1 is outside \[0, 2\^12\)/],
    [{ bits: 12, vectors: { x: [1], '2': [1], '3': [1] } }, /client id "x" must be a positive integer/],
    [{ bits: 12, vectors: { '1': [1], '2': [2] } }, /at least 3 parties/],
    ['{not json', /is not valid JSON/],
  ];
  for (const [doc, message] of badInputs) {
    it(`refuses bad inputs: ${message.source.slice(0, 50)}`, async () => {
      const r = await run('secagg-sim', '--inputs', file(`bad-${badCount++}.json`, doc));
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
    });
  }

  it('refuses unknown drop points and clients', async () => {
    const r1 = await run('secagg-sim', '--inputs', inputs, '--drop', file('d1.json', { '1': 'sometime' }));
    expect(r1.err).toMatch(/drop point must be one of/);
    const r2 = await run('secagg-sim', '--inputs', inputs, '--drop', file('d2.json', { '99': 'after-share' }));
    expect(r2.err).toMatch(/client 99 is not in the inputs/);
    const r3 = await run('secagg-sim', '--inputs', join(dir, 'missing.json'));
    expect(r3.err).toMatch(/cannot read .*ENOENT/);
  });
});
