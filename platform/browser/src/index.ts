/**
 * @hushfl/browser — the browser platform (the counterpart of @hushfl/node) and the embeddable SDK: a web page
 * takes part in a federated run with `joinFederation`, or drives the client itself with ClientController
 * (the client page in apps/web does). The Vite plugin a site builds with is `@hushfl/browser/vite`.
 */
export { FederationError, type FederationClient, joinFederation, type JoinFederationOptions, MAX_MINI_CLIENTS } from './joinFederation.ts';
export type { FederationProgress } from './progress.ts';
export type { ExampleImage, ExampleLabel, ExampleRow, ExampleText, FederationExamples } from './examples.ts';
export {
  ClientController,
  type Connection,
  DEFAULT_WASM_PATH,
  type LocalDataUi,
  type RoundOutcome,
  type RoundPhase,
  SECAGG_MESSAGES,
  type StartOptions,
  TF_MEMORY_SAMPLES,
  type UiState,
} from './controller.ts';
export type { IdentityInfo, TfMemory } from './workers/messages.ts';
