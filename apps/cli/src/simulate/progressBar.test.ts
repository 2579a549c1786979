import { describe, expect, it } from 'vitest';
import { roundProgressLine, stageBar } from './progressBar.ts';

describe('the simulate progress bar', () => {
  it('fills one group of cells per SecAgg stage passed', () => {
    expect(stageBar('advertise-keys')).toBe(`[${'░'.repeat(20)}]`);
    expect(stageBar('masked-input')).toBe(`[${'█'.repeat(8)}${'░'.repeat(12)}]`);
    expect(stageBar('unmasking')).toBe(`[${'█'.repeat(16)}${'░'.repeat(4)}]`);
    expect(stageBar(null)).toBe(`[${'█'.repeat(20)}]`);
  });

  it('names the round, a retry and the stage', () => {
    expect(roundProgressLine(1, 5, 1, 'share-keys', 'share-keys')).toBe(`round 2/5 [████${'░'.repeat(16)}] share-keys`);
    expect(roundProgressLine(0, 3, 2, null, 'completed')).toBe(`round 1/3 [${'█'.repeat(20)}] (attempt 2) completed`);
  });
});
