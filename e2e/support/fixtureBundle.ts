/**
 * Browser fixtures for the suites and the browser bench: an e2e/fixtures entry bundled by esbuild for the
 * browser (one ES module), and tfjs-backend-wasm's .wasm files at /tfjs-wasm/ for pages that train on WASM.
 */
import { build } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** e2e/fixtures/<name> as one browser ES module. */
export async function bundleFixture(name: string): Promise<string> {
  const out = await build({
    entryPoints: [fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return out.outputFiles[0]!.text;
}

/** tfjs-backend-wasm's binaries by the paths a fixture's setWasmPaths('/tfjs-wasm/') loads them from. */
export function tfjsWasmFiles(): Record<string, Buffer> {
  const dir = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  const files: Record<string, Buffer> = {};
  for (const f of readdirSync(dir)) if (f.endsWith('.wasm')) files[`/tfjs-wasm/${f}`] = readFileSync(join(dir, f));
  return files;
}
