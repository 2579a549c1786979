/** server_metrics.json is replaced atomically: a reader or a crash never sees half a document (issue 13 §3). */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MetricsDocument } from '@hushfl/engine';
import { metricsPath, persistRunOp, storedRunConfig } from './runPersistence.ts';
import { SqliteStore } from './sqliteStore.ts';
import { asyncStore } from './store.ts';

describe('server_metrics.json', () => {
  it('is written to a temporary file and renamed over the old one; a failed write leaves the old document whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hushfl-metrics-'));
    const sqlite = new SqliteStore(':memory:');
    const store = asyncStore(sqlite);
    const doc = (round: number) => ({ rounds: [{ round }] }) as unknown as MetricsDocument;
    await persistRunOp(store, dir, 'run-a', { op: 'metrics', document: doc(0) });
    await persistRunOp(store, dir, 'run-a', { op: 'metrics', document: doc(1) });
    const path = metricsPath(dir, 'run-a');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(doc(1));
    expect(readdirSync(dirname(path))).toEqual(['server_metrics.json']);
    // The temporary file cannot be written (a directory is in its way): the write fails, the document stays.
    mkdirSync(`${path}.${process.pid}.tmp`);
    await expect(persistRunOp(store, dir, 'run-a', { op: 'metrics', document: doc(2) })).rejects.toThrow();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(doc(1));
    sqlite.close();
  });
});

describe('storedRunConfig', () => {
  it('gives a config stored before a key existed that key’s default (a run from before `data` trains on demo data)', () => {
    const before = { name: 'old', rounds: 3, minClients: 3, selection: { clientsPerRound: 3 }, ddg: { noise: false }, secagg: { maxColluders: 0 } };
    const config = storedRunConfig(JSON.stringify(before));
    expect(config.data).toBe('demo');
    expect(config.evaluation.fraction).toBe(0.1);
    expect(config.task.name).toBe('mnist');
    // One the current schema refuses keeps its stored values over the defaults.
    const refused = storedRunConfig(JSON.stringify({ ...before, rounds: 0 }));
    expect([refused.rounds, refused.data]).toEqual([0, 'demo']);
  });
});
