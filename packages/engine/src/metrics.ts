/**
 * server_metrics.json: the privacy hyperparameters, the model dimension and every round attempt of a run.
 * rounds[].epsilon holds for everyone who sees only the models (amplified when sampleRate < 1);
 * rounds[].epsilonVsCoordinator for the coordinator, which knows the sample; with Poisson selection the
 * guarantee's δ is delta + rounds[].deltaSelection (docs/PRIVACY.md).
 */
import type { RunConfig } from '@hushfl/protocol';
import type { DdgPlan } from './ddgPlan.ts';
import { droppedCounts, type RoundRecord, type RunIdentity, type RunState } from './records.ts';
import { expectedClientsPerRound } from './selection.ts';

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
    model: { spec: config.task.model, dim: run.dim, dimPadded: plan.dimPadded },
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
      minClients: config.minClients,
      clientsPerRound: expectedClientsPerRound(config),
      sampleRate: plan.sampleRate,
      rounds: config.rounds,
      dpsgd: config.dpsgd.enabled ? config.dpsgd : null,
      selectionShortfall,
    },
    config,
    rounds: [...rounds]
      .sort((a, b) => a.round - b.round || a.attempt - b.attempt)
      .map((r) => ({
        round: r.round,
        attempt: r.attempt,
        status: r.status,
        accuracy: r.accuracy,
        loss: r.loss,
        epsilon: r.epsilon,
        epsilonVsCoordinator: r.epsilonVsCoordinator,
        deltaSelection: r.deltaSelection,
        contributors: r.contributions,
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
