/** Test helper: one row of a utility grid's results, the fields a test does not care about filled in. */
import type { UtilityResult } from './utility.ts';

export function utilityRow(
  mechanism: UtilityResult['mechanism'],
  bits: number | null,
  epsilon: number | null,
  accuracy: number,
  extra: Partial<UtilityResult> = {},
): UtilityResult {
  return {
    task: 'mnist',
    partition: 'iid',
    mechanism,
    bits,
    epsilon,
    delta: 1e-5,
    accuracy,
    std: 0.01,
    accuracyStd: 0.01,
    seeds: 3,
    epsilonVsCoordinator: epsilon === null ? null : epsilon * 5,
    wrapsPerRound: mechanism === 'ddg' ? 0.5 : null,
    noise: null,
    ...extra,
  };
}
