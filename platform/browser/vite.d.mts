/** Types of vite.mjs (`@hushfl/browser/vite`). */
import type { Plugin } from 'vite';

export interface HushflVitePluginOptions {
  /** The folder under the site's build the .wasm files go to (default `tfjs-wasm`; joinFederation's `wasmPath` must name it). */
  readonly wasmDir?: string;
}

/** The folder of @tensorflow/tfjs-backend-wasm's .wasm files, as @hushfl/browser resolves it. */
export function tfjsWasmDir(): string;

/** The Vite plugin a site that embeds @hushfl/browser builds with. */
export function hushflBrowser(options?: HushflVitePluginOptions): Plugin;
