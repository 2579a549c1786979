/**
 * The SDK's entry point: any web page takes part in a federated run with data it already holds.
 *
 *   const client = await joinFederation({ url: 'https://fl.example.org', examples: { task: 'mnist', images }, onProgress });
 *
 * It is the client page's controller without the page: the training Worker (WebGPU → WebGL → WASM → CPU),
 * the client Worker (DDG encoding and SecAgg), the identity, round state and DP-SGD ledgers in this origin's
 * IndexedDB. On a `data: local` run the site's examples are checked and cut into shards in a Worker and
 * trained on here; only the masked SecAgg input leaves the device.
 */
import { BACKENDS, type BackendName } from '@hushfl/protocol';
import { ClientController, type UiState } from './controller.ts';
import type { FederationExamples } from './examples.ts';
import { type FederationProgress, progressOf } from './progress.ts';

export interface JoinFederationOptions {
  /** The coordinator (`https://fl.example.org`); its `--allowed-origin` must name this site's origin. */
  readonly url: string;
  /** The site's own examples, for a `data: local` run (see FederationExamples). */
  readonly examples?: FederationExamples;
  /** Called with the client's progress whenever it changes (see FederationProgress). */
  readonly onProgress?: (progress: FederationProgress) => void;
  /** Mini-clients this device trains as (1..16, default 1); a device that joined before keeps its earlier count. */
  readonly miniClients?: number;
  /** Forces a TensorFlow.js backend; by default the first that works of webgpu, webgl, wasm, cpu. */
  readonly backend?: BackendName | null;
  /** A single-use join code, for a coordinator with enrollment. */
  readonly joinCode?: string;
  /** Where this site serves the tfjs .wasm files (`@hushfl/browser/vite` copies them), default `/tfjs-wasm/`. */
  readonly wasmPath?: string;
  /** Gives up joining (while the coordinator is unreachable, say: the client retries by itself until then). */
  readonly signal?: AbortSignal;
}

export interface FederationClient {
  /** This client's id at the coordinator. */
  readonly clientId: string;
  /** The latest progress (what onProgress was last called with). */
  readonly state: FederationProgress;
  /** Leaves the run: the Workers end, the connection closes; what is stored stays (a later join resumes). */
  stop(): void;
  /** Leaves and deletes everything the client stored in this browser (identity, round state, ledgers). */
  forget(): Promise<void>;
}

/**
 * Why joinFederation rejected: `refused` by the coordinator (its reason), this page `cannot-join` (no
 * WebCrypto, no backend, examples that do not fit), or `aborted` by the site's signal.
 */
export class FederationError extends Error {
  constructor(
    message: string,
    readonly kind: 'refused' | 'cannot-join' | 'aborted',
  ) {
    super(message);
    this.name = 'FederationError';
  }
}

/** The largest mini-client count a browser tab runs (as the client page allows). */
export const MAX_MINI_CLIENTS = 16;

/** Connects to the coordinator and joins; resolves once the hello is accepted, rejects with the coordinator's refusal. */
export async function joinFederation(options: JoinFederationOptions): Promise<FederationClient> {
  const base = globalThis.location?.href;
  let url: string;
  try {
    url = new URL(options.url, base).toString();
  } catch {
    throw new TypeError(`joinFederation: url '${String(options.url)}' is not a URL`);
  }
  const miniClients = options.miniClients ?? 1;
  if (!Number.isInteger(miniClients) || miniClients < 1 || miniClients > MAX_MINI_CLIENTS)
    throw new RangeError(`joinFederation: miniClients must be an integer from 1 to ${MAX_MINI_CLIENTS}, got ${miniClients}`);
  const backend = options.backend ?? null;
  if (backend !== null && !BACKENDS.includes(backend)) throw new RangeError(`joinFederation: backend '${backend}' is not one of ${BACKENDS.join(', ')}`);

  if (options.signal?.aborted) throw new FederationError('joining was aborted', 'aborted');

  const controller = new ClientController(url);
  let state = progressOf(controller.state);
  let shown = '';
  let settle: { resolve: () => void; reject: (e: Error) => void } | null = null;
  const joined = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Awaited once start() is done; a refusal that comes first is not an unhandled rejection meanwhile.
  joined.catch(() => undefined);
  const onState = (s: UiState) => {
    state = progressOf(s);
    // The controller's state changes for things the site does not see (memory samples): report changes only.
    const key = JSON.stringify(state);
    if (key !== shown) {
      shown = key;
      try {
        options.onProgress?.(state);
      } catch (e) {
        // A throwing callback must not break the client.
        console.error(e);
      }
    }
    if (!settle) return;
    if (s.connection === 'connected' && s.clientId) {
      settle.resolve();
      settle = null;
    } else if (s.connection === 'refused') {
      settle.reject(new FederationError(s.notice?.text ?? `The coordinator refused this client: ${s.refused}`, 'refused'));
      settle = null;
    }
  };
  const unsubscribe = controller.subscribe(onState);
  const abort = () => {
    settle?.reject(new FederationError('joining was aborted', 'aborted'));
    settle = null;
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    const started = await controller.start({
      miniClients,
      backend,
      ...(options.joinCode ? { joinCode: options.joinCode } : {}),
      ...(options.examples ? { examples: options.examples } : {}),
      ...(options.wasmPath ? { wasmPath: options.wasmPath } : {}),
    });
    if (!started) throw new FederationError(controller.state.notice?.text ?? 'this page cannot take part', 'cannot-join');
    await joined;
  } catch (e) {
    // The site hears of the stop (its last progress), then nothing more.
    controller.stop();
    unsubscribe();
    throw e;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
  const clientId = controller.state.clientId!;
  return {
    clientId,
    get state() {
      return state;
    },
    stop: () => controller.stop(),
    forget: () => controller.forget(),
  };
}
