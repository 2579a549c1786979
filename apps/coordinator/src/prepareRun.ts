/**
 * What a new run needs before it exists, each refusal the config's fault and named by its key (a 400, not a
 * run that fails later): its task config checked against the task, the model built (the evaluator's; it
 * gives the initial weights and so d), and the DDG plan within what the client sockets take.
 */
import { DdpParameterError } from '@hushfl/ddp';
import { planDdg, type DdgPlan } from '@hushfl/engine';
import { ConfigError, type RunConfig } from '@hushfl/protocol';
import { taskConfigProblems, type Dataset } from '@hushfl/tasks';
import { ModelEvaluator } from './evaluation.ts';

export async function prepareRun(
  config: RunConfig,
  testOf: (config: RunConfig) => Dataset,
  maxDimPadded: number,
): Promise<{ evaluator: ModelEvaluator; weights: Float32Array; plan: DdgPlan }> {
  const problems = taskConfigProblems(config);
  if (problems.length) throw new ConfigError(problems);
  let test: Dataset;
  try {
    test = testOf(config);
  } catch (e) {
    // What only the data can tell (a natural partition into more shards than the data has authors).
    if (e instanceof RangeError) throw new ConfigError([{ path: 'task', message: e.message }]);
    throw e;
  }
  let evaluator: ModelEvaluator;
  try {
    evaluator = new ModelEvaluator(config.task, test);
  } catch (e) {
    // A model.json that passed the checks but that tfjs cannot build.
    throw new ConfigError([{ path: 'task.model', message: e instanceof Error ? e.message : String(e) }]);
  }
  const weights = await evaluator.weights();
  let plan: DdgPlan;
  try {
    plan = planOrRefuse(config, weights.length);
  } catch (e) {
    evaluator.dispose();
    throw e;
  }
  const tooBig = dimRefusal(plan, weights.length, maxDimPadded);
  if (tooBig) {
    evaluator.dispose();
    throw new ConfigError([{ path: 'task.model', message: tooBig }]);
  }
  return { evaluator, weights, plan };
}

/**
 * The run's DDG plan, or a ConfigError naming the parameter that makes it impossible (an ε no noise reaches,
 * bits that cannot hold the sum, a round too small for adaptive clipping's count): the operator's to fix (400).
 */
export function planOrRefuse(config: RunConfig, dim: number): DdgPlan {
  try {
    return planDdg(config, dim);
  } catch (e) {
    if (e instanceof DdpParameterError)
      throw new ConfigError([{ path: e.param === 'countNoise' ? 'ddg.adaptiveClip.countNoise' : `ddg.${e.param}`, message: e.message }]);
    throw e;
  }
}

/** Why a run's masked vectors would not fit the client sockets (null: they fit); resuming checks it too. */
export function dimRefusal(plan: DdgPlan, dim: number, maxDimPadded: number): string | null {
  if (plan.dimPadded <= maxDimPadded) return null;
  return `${dim} weights pad to ${plan.dimPadded} coordinates; this coordinator takes at most ${maxDimPadded} (start it with --max-model-dim)`;
}
