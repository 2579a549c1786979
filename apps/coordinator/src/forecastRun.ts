/**
 * POST /api/forecast (issue 16 §3): a config's utility forecast without starting it — the same checks as a
 * new run (task problems, the DDG calibration, the model's size), then engine forecast.ts on its plan.
 */
import { forecastUtility } from '@hushfl/engine';
import { ConfigError, type Forecast, type RunConfig } from '@hushfl/protocol';
import { findTask, modelDimension, taskConfigProblems, taskShape } from '@hushfl/tasks';
import { initNodeTf } from '@hushfl/node';
import { dimRefusal, planOrRefuse } from './prepareRun.ts';

export async function forecastRun(config: RunConfig, maxDimPadded: number): Promise<Forecast> {
  const problems = taskConfigProblems(config);
  if (problems.length) throw new ConfigError(problems);
  // Counting a model's weights builds it (a layers model may be any topology): TensorFlow.js must be up.
  await initNodeTf();
  let dim: number;
  try {
    dim = modelDimension(config.task.model, taskShape(findTask(config.task.name)));
  } catch (e) {
    throw new ConfigError([{ path: 'task.model', message: e instanceof Error ? e.message : String(e) }]);
  }
  const plan = planOrRefuse(config, dim);
  const tooBig = dimRefusal(plan, dim, maxDimPadded);
  if (tooBig) throw new ConfigError([{ path: 'task.model', message: tooBig }]);
  return { ...forecastUtility(config, plan, dim), dim, ddg: plan };
}
