/**
 * `@hushfl/browser/vite`: what a site's Vite build needs to embed the SDK. Plain JavaScript (types in
 * vite.d.mts): a Vite config loads it with Node, which does not run TypeScript from a linked package.
 * - The tfjs WASM binaries are copied next to the bundle (`<outDir>/tfjs-wasm/`, where joinFederation's
 *   default `wasmPath` looks) and served there by the dev server, so they load same-origin under COEP require-corp.
 * - Worker bundles are ES modules, neither mangled nor compressed: tfjs-wasm's threaded build hands its pthread
 *   Workers the Emscripten factory as factory.toString(), and minified it would name variables that exist only
 *   in our bundle.
 * The page must be served cross-origin isolated (`Cross-Origin-Opener-Policy: same-origin`,
 * `Cross-Origin-Embedder-Policy: require-corp`) for the threaded WASM build; without it tfjs runs single-threaded.
 */
import { copyFileSync, createReadStream, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';

/** The folder of @tensorflow/tfjs-backend-wasm's .wasm files, as this package resolves it. */
export function tfjsWasmDir() {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
}

/** @param {{ wasmDir?: string }} [options] */
export function hushflBrowser(options = {}) {
  const wasmDir = (options.wasmDir ?? 'tfjs-wasm').replace(/^\/+|\/+$/g, '');
  let outDir = '';
  return {
    name: 'hushfl-browser',
    config: () => ({ worker: { format: 'es', rollupOptions: { output: { minify: { mangle: false, compress: false } } } } }),
    configResolved(config) {
      // The dev server closes its bundle too: only a build writes the files.
      outDir = config.command === 'build' ? resolve(config.root, config.build.outDir) : '';
    },
    configureServer(server) {
      const from = tfjsWasmDir();
      server.middlewares.use(`/${wasmDir}`, (req, res, next) => {
        // Only a file name of the package's dist that ends in .wasm: never a path the request makes up.
        const name = basename(new URL(req.url ?? '/', 'http://localhost').pathname);
        const file = join(from, name);
        if (!name.endsWith('.wasm') || !existsSync(file)) return next();
        res.setHeader('content-type', 'application/wasm');
        createReadStream(file).pipe(res);
      });
    },
    closeBundle() {
      if (!outDir) return;
      const from = tfjsWasmDir();
      const to = join(outDir, wasmDir);
      mkdirSync(to, { recursive: true });
      for (const f of readdirSync(from)) if (f.endsWith('.wasm')) copyFileSync(join(from, f), join(to, f));
    },
  };
}
