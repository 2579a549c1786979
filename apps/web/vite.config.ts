/**
 * Builds the client page (index.html) and the operator dashboard (dashboard.html). The tfjs WASM binaries are
 * copied next to the bundle so they load same-origin under Cross-Origin-Embedder-Policy: require-corp.
 */
import react from '@vitejs/plugin-react';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));

function copyTfjsWasm(): Plugin {
  let outDir = join(here, 'dist');
  return {
    name: 'hushfl-copy-tfjs-wasm',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(here, config.build.outDir);
    },
    closeBundle() {
      const require = createRequire(join(here, 'package.json'));
      const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
      const out = join(outDir, 'tfjs-wasm');
      mkdirSync(out, { recursive: true });
      for (const f of readdirSync(dist)) if (f.endsWith('.wasm')) copyFileSync(join(dist, f), join(out, f));
    },
  };
}

export default defineConfig({
  root: here,
  base: '/',
  plugins: [react(), copyTfjsWasm()],
  // tfjs-wasm's threaded build hands its pthread Workers the Emscripten factory as factory.toString(): mangled or
  // compressed, the factory names variables that exist only in our bundle. The Worker bundles stay readable.
  worker: { format: 'es', rollupOptions: { output: { minify: { mangle: false, compress: false } } } },
  build: {
    outDir: join(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    rollupOptions: { input: { index: resolve(here, 'index.html'), dashboard: resolve(here, 'dashboard.html') } },
  },
});
