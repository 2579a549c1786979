/** Builds the example site into dist/, with what embedding @hushfl/browser needs (its Vite plugin: the tfjs .wasm files, Worker bundles). */
import { hushflBrowser } from '@hushfl/browser/vite';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
// Cross-origin isolated, as the coordinator serves its pages: SharedArrayBuffer, so tfjs-wasm runs threaded.
const isolated = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: here,
  // Relative URLs: the site works wherever it is served.
  base: './',
  plugins: [hushflBrowser()],
  server: { headers: isolated },
  preview: { headers: isolated },
  build: { outDir: join(here, 'dist'), emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4096 },
});
