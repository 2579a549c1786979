/** The per-round progress bar `hushfl simulate` draws on a TTY: one cell group per SecAgg stage. */
import { SECAGG_STAGES, type SecAggStage } from '@hushfl/secagg';

const CELLS_PER_STAGE = 4;

/** `[████████░░░░░░░░░░░░]` with the stages before `stage` filled; `stage` null: the whole round is done. */
export function stageBar(stage: string | null): string {
  const done = stage === null ? SECAGG_STAGES.length : Math.max(0, SECAGG_STAGES.indexOf(stage as SecAggStage));
  return `[${'█'.repeat(done * CELLS_PER_STAGE)}${'░'.repeat((SECAGG_STAGES.length - done) * CELLS_PER_STAGE)}]`;
}

export function roundProgressLine(round: number, rounds: number, attempt: number, stage: string | null, tail: string): string {
  return `round ${round + 1}/${rounds} ${stageBar(stage)} ${attempt > 1 ? `(attempt ${attempt}) ` : ''}${tail}`;
}
