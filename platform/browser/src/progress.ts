/**
 * What joinFederation's `onProgress` gets: a small, stable view of the controller's UI state. Everything in
 * it is computed on this device and stays here (the local loss, accuracy and ε are never sent: the
 * coordinator sees only the masked SecAgg input); a site may show it to its user.
 */
import type { Connection, RoundPhase, UiState } from './controller.ts';

export interface FederationProgress {
  /** `refused`: the coordinator turned this client away (see `error`); `unreachable`: it retries by itself. */
  readonly connection: Connection;
  /** This client's id at the coordinator, once joined. */
  readonly clientId: string | null;
  /** What the run trains on: the site's own examples (`local`), or the coordinator's demo shards (`demo`); null until joined. */
  readonly data: 'local' | 'demo' | null;
  /** The run's task (a registry name, `mnist`), once joined. */
  readonly task: string | null;
  /** Examples this client trains on (over its mini-clients), once loaded. */
  readonly examples: number;
  /** The TensorFlow.js backend training runs on (`webgpu`, `webgl`, `wasm`, `cpu`). */
  readonly backend: string | null;
  /** The round (1-based) this client was last selected for. */
  readonly round: number | null;
  /** Whether it is in the current round: null before the coordinator said. */
  readonly selected: boolean | null;
  /** Where it is in that round; `waiting` until selected. */
  readonly stage: 'waiting' | RoundPhase;
  /** 0..1 progress of the round's training, DDG encoding and SecAgg uploads. */
  readonly progress: { readonly training: number; readonly encoding: number; readonly upload: number };
  /** Rounds completed with this client's update in the sum, since it joined. */
  readonly roundsContributed: number;
  /** The latest round's end: `round` 1-based; `globalAccuracy` the coordinator's evaluation of the new model. */
  readonly lastRound: { readonly round: number; readonly completed: boolean; readonly included: boolean; readonly globalAccuracy: number | null } | null;
  /** The latest local training on this device (mean over mini-clients). */
  readonly local: { readonly loss: number; readonly accuracy: number; readonly examples: number } | null;
  /** DP-SGD's ε (and δ) spent so far by this client's training, when the run uses DP-SGD. */
  readonly epsilon: number | null;
  readonly delta: number | null;
  /** The latest notice, in a sentence. */
  readonly message: string | null;
  /** The latest notice when it is an error (a refusal, examples that do not fit, a failed round). */
  readonly error: string | null;
}

export function progressOf(s: UiState): FederationProgress {
  return {
    connection: s.connection,
    clientId: s.clientId,
    data: s.dataSource?.data ?? null,
    task: s.dataSource?.task ?? null,
    examples: s.examples.reduce((a, b) => a + b, 0),
    backend: s.backend,
    round: s.round ? s.round.round + 1 : null,
    selected: s.selected,
    stage: s.phase ?? 'waiting',
    progress: { ...s.progress },
    roundsContributed: s.roundsIncluded,
    lastRound: s.lastRound
      ? { round: s.lastRound.round + 1, completed: s.lastRound.completed, included: s.lastRound.included, globalAccuracy: s.lastRound.accuracy }
      : null,
    local: s.lastTrain ? { loss: s.lastTrain.loss, accuracy: s.lastTrain.accuracy, examples: s.lastTrain.examples } : null,
    epsilon: s.metrics?.dpsgdEpsilon ?? null,
    delta: s.metrics?.dpsgdDelta ?? null,
    message: s.notice?.text ?? null,
    error: s.notice?.kind === 'error' ? s.notice.text : null,
  };
}
