import { describe, expect, it } from 'vitest';
import { WrapCounter } from './wrapCounter.ts';

describe('WrapCounter (modular wraps of an aggregate)', () => {
  it('counts the coordinates whose centred sum leaves [−2^(B−1), 2^(B−1)), per round', () => {
    const bits = 4; // values mod 16, centred range [−8, 8)
    const w = new WrapCounter(bits);
    const enc = (xs: number[]) => Uint32Array.from(xs, (x) => ((x % 16) + 16) % 16);
    // Round a: sums 7 (no wrap), 8 (wraps), −8 (no wrap), −9 (wraps).
    w.add('a', enc([4, 4, -4, -5]));
    w.add('a', enc([3, 4, -4, -4]));
    // Round b: nothing near the edge.
    w.add('b', enc([1, -1, 0, 2]));
    w.add('b', enc([1, -1, 0, 2]));
    expect(w.perRound()).toEqual([2, 0]);
  });
});
