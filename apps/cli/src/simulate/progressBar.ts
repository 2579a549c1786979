/** The per-round progress bar `hushfl simulate` draws on a TTY: one cell group per SecAgg stage. */
const STAGES = ['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking'] as const;
const CELLS_PER_STAGE = 4;

/** `[████████░░░░░░░░░░░░]` with the stages before `stage` filled; `stage` null: the whole round is done. */
export function stageBar(stage: string | null): string {
  const done = stage === null ? STAGES.length : Math.max(0, STAGES.indexOf(stage as (typeof STAGES)[number]));
  return `[${'█'.repeat(done * CELLS_PER_STAGE)}${'░'.repeat((STAGES.length - done) * CELLS_PER_STAGE)}]`;
}

export function roundProgressLine(round: number, rounds: number, attempt: number, stage: string | null, tail: string): string {
  return `round ${round + 1}/${rounds} ${stageBar(stage)} ${attempt > 1 ? `(attempt ${attempt}) ` : ''}${tail}`;
}
