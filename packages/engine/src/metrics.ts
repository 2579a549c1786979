/**
 * server_metrics.json: the privacy hyperparameters, the model dimension and every round attempt of a run.
 * rounds[].epsilon holds for everyone who sees only the models (amplified when sampleRate < 1);
 * rounds[].epsilonVsCoordinator for the coordinator, which knows the sample; with Poisson selection the
 * guarantee's δ is delta + rounds[].deltaSelection (docs/PRIVACY.md). n_min (privacy.minParties) and
 * rounds[].parties, the accountant's n, count parties — connections with their own keys — never the
 * mini-clients a party declares; rounds[].contributors counts contributions. rounds[].epsilon is set on every
 * charged attempt: a released one, and one aborted after its unmask requests went out.
 */
import { type RunConfig, type RunSecAgg, type RunStrategy, serverOptimizerOf } from '@hushfl/protocol';
import { secaggGuaranteeOf } from '@hushfl/secagg';
import { type DdgPlan, initialAdaptiveClip } from './ddgPlan.ts';
import { configuredEvaluation } from './federatedEvaluation.ts';
import { droppedCounts, type RoundRecord, type RunIdentity, type RunState } from './records.ts';
import { RoundEngine } from './roundEngine.ts';
import { expectedClientsPerRound, minParties } from './selection.ts';

/** The run's strategy (issue 15): the server optimizer's effective parameters, FedProx's μ, adaptive clipping. */
export function runStrategySummary(config: RunConfig, plan: DdgPlan, modelDim: number): RunStrategy {
  const a = config.ddg.adaptiveClip;
  return {
    server: serverOptimizerOf(config.server),
    proximalMu: config.training.proximalMu,
    adaptiveClip:
      a && plan.clipCount ? { targetQuantile: a.targetQuantile, learningRate: a.learningRate, initialClip: initialAdaptiveClip(config, plan, modelDim) } : null,
  };
}

/**
 * The run's SecAgg guarantee at the expected clients per round: rate γ at 2^-40, or at most C colluders
 * (never an unstated γ = 0), with k, t and the round's abort bound; `error` when no parameters exist.
 */
export function runSecAggSummary(config: RunConfig): RunSecAgg {
  const s = config.secagg;
  const n = expectedClientsPerRound(config);
  const guarantee = secaggGuaranteeOf(s);
  try {
    const p = RoundEngine.secaggParams(n, s);
    return {
      n,
      guarantee: p.guarantee,
      dropout: p.dropout,
      k: p.neighbours,
      t: p.threshold,
      complete: p.complete,
      abortProbability: p.abortProbability,
      live: p.live,
    };
  } catch (e) {
    return { n, guarantee, dropout: s.dropoutRate, error: (e as Error).message };
  }
}

export function metricsDocument(
  run: RunIdentity,
  state: RunState,
  config: RunConfig,
  plan: DdgPlan,
  selectionShortfall: number,
  rounds: readonly RoundRecord[],
) {
  return {
    run: { id: run.id, name: config.name, createdAt: new Date(run.createdAt).toISOString(), state },
    // dim: the model's d; dimPadded: the DDG input's, with federated evaluation of d + FEDERATED_METRICS.
    model: { spec: config.task.model, dim: run.dim, ddgDim: plan.params.dim, dimPadded: plan.dimPadded },
    /** Federated evaluation's bounds (null without it, or for a run planned before it existed). */
    evaluation: plan.params.dim > run.dim ? configuredEvaluation(config) : null,
    privacy: {
      mechanism: plan.params.localStddev > 0 ? 'ddg' : 'none',
      bits: plan.params.bits,
      clip: plan.params.clip,
      gamma: plan.params.gamma,
      localStddev: plan.params.localStddev,
      beta: plan.params.beta,
      kStddevs: config.ddg.kStddevs,
      delta: plan.delta,
      epsilonBudget: plan.epsilonBudget,
      /** The config's n_min, in parties. */
      minClients: config.minClients,
      /** n_min as enforced: parties, at least three (SecAgg). */
      minParties: minParties(config),
      nMinUnit: 'parties',
      clientsPerRound: expectedClientsPerRound(config),
      sampleRate: plan.sampleRate,
      rounds: config.rounds,
      dpsgd: config.dpsgd.enabled ? config.dpsgd : null,
      /**
       * Adaptive clipping (issue 15 §3; null with a fixed clip): its settings, the count's noise (s per party on
       * the grid, σ_b on the count at n_min) and the budget's split — ε of the update release and of the count
       * alone, and the σ the update would have had without the count.
       */
      adaptiveClip: config.ddg.adaptiveClip && plan.clipCount ? { ...config.ddg.adaptiveClip, ...plan.clipCount } : null,
      selectionShortfall,
    },
    secagg: runSecAggSummary(config),
    strategy: runStrategySummary(config, plan, run.dim),
    config,
    rounds: [...rounds]
      .sort((a, b) => a.round - b.round || a.attempt - b.attempt)
      .map((r) => ({
        round: r.round,
        attempt: r.attempt,
        status: r.status,
        accuracy: r.accuracy,
        loss: r.loss,
        /** Federated evaluation over the round's parties, from the noisy sum (issue 14 §5); null without it. */
        federated: r.federated ?? null,
        /** Adaptive clipping: the clip C_t the round's updates were clipped to, and b̄_t (null with a fixed clip). */
        clip: r.clip ?? null,
        clipFraction: r.clipFraction ?? null,
        epsilon: r.epsilon,
        epsilonVsCoordinator: r.epsilonVsCoordinator,
        deltaSelection: r.deltaSelection,
        contributors: r.contributions,
        parties: r.parties ?? null,
        selected: r.selected,
        dropped: droppedCounts(r.droppedClients),
        durationsMs: r.durationsMs,
        bytesUp: r.bytesUp,
        bytesDown: r.bytesDown,
        error: r.error,
      })),
  };
}

export type MetricsDocument = ReturnType<typeof metricsDocument>;
