/** Shared helpers for `pnpm bench`: timing by median of repeats, machine facts, and result files. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');

export interface Figure {
  /** What was measured, e.g. "fwht". */
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly value: number;
  readonly unit: string;
  /** The target, when the issue sets one: `value` must be `<=` (or `>=`) it. */
  readonly target?: { readonly op: '<=' | '>='; readonly value: number };
  readonly met?: boolean;
  readonly note?: string;
}

export function figure(f: Omit<Figure, 'met'>): Figure {
  if (!f.target) return f;
  const met = f.target.op === '<=' ? f.value <= f.target.value : f.value >= f.target.value;
  return { ...f, met };
}

export function machine() {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
  };
}

/** The median of `xs` (the upper one of an even count). */
export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median wall time in ms of `fn` over `repeats` runs after `warmup` runs. */
export async function medianMs(fn: () => unknown, repeats = 7, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

export function writeResults(name: string, figures: Figure[], extra: Record<string, unknown> = {}) {
  const doc = { suite: name, machine: machine(), ...extra, figures };
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify(doc, null, 2)}\n`);
  return doc;
}
