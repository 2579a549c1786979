/**
 * Writes the demo's digits.json into the built site (dist/, next to index.html): `--count` real MNIST training
 * digits (default 100, as many of each class), from `--from` on, in Scribble's own format
 * ({ digit, pixels: 784 gray values }). A real Scribble would have its users' own.
 * Usage: node --import tsx examples/embed-site/make-digits.ts [--count 100] [--from 0]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadTaskData } from '@hushfl/node';

const { values } = parseArgs({ options: { count: { type: 'string', default: '100' }, from: { type: 'string', default: '0' } } });
const count = Number(values.count);
const from = Number(values.from);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(from) || from < 0) throw new RangeError('--count and --from take whole numbers');

const PIXELS = 28 * 28;
const train = loadTaskData('mnist').train;
const pixels = train.values as Uint8Array;
const perClass = Math.ceil(count / 10);
const taken = new Array<number>(10).fill(0);
const digits: { digit: number; pixels: number[] }[] = [];
for (let i = from; i < train.n && digits.length < count; i++) {
  const digit = train.labels[i]!;
  if (taken[digit]! >= perClass) continue;
  taken[digit]!++;
  digits.push({ digit, pixels: Array.from(pixels.subarray(i * PIXELS, (i + 1) * PIXELS)) });
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'dist', 'digits.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(digits));
process.stdout.write(`wrote ${digits.length} digits to ${out}\n`);
