import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSimdInt32Sum } from './simdInt32Sum.ts';

describe('createSimdInt32Sum', () => {
  const sum = createSimdInt32Sum()!;

  /** acc ± src over `bytes` at the given byte offsets, against the same sums one lane at a time. */
  function check(op: 'add' | 'sub', accAt: number, srcAt: number, bytes: number): void {
    const heap = new Uint8Array(sum.memory.buffer);
    heap.set(randomBytes(accAt + srcAt + 2 * bytes + 64), 0);
    const view = new DataView(sum.memory.buffer);
    const before = Array.from({ length: bytes / 4 + 4 }, (_, i) => view.getInt32(accAt + 4 * i, true));
    const src = Array.from({ length: bytes / 4 }, (_, i) => view.getInt32(srcAt + 4 * i, true));
    sum[op](accAt, srcAt, bytes);
    for (let i = 0; i < bytes / 4; i++) {
      const want = op === 'add' ? (before[i]! + src[i]!) | 0 : (before[i]! - src[i]!) | 0;
      expect(view.getInt32(accAt + 4 * i, true), `${op} lane ${i}`).toBe(want);
    }
    // Nothing past `bytes` changes.
    for (let i = bytes / 4; i < bytes / 4 + 4; i++) expect(view.getInt32(accAt + 4 * i, true)).toBe(before[i]);
  }

  it('adds and subtracts wrapping int32 lanes, at 16-byte-aligned and unaligned offsets', () => {
    for (const op of ['add', 'sub'] as const) {
      check(op, 4096, 0, 160);
      check(op, 4100, 7, 48); // neither operand on a 16-byte boundary
      check(op, 8196, 3, 16);
    }
  });

  it('wraps mod 2^32 and does nothing for a zero length', () => {
    const view = new DataView(sum.memory.buffer);
    view.setInt32(0, 0x7fffffff, true);
    view.setInt32(16, 1, true);
    sum.add(0, 16, 16);
    expect(view.getInt32(0, true)).toBe(-0x80000000);
    sum.sub(0, 16, 0);
    expect(view.getInt32(0, true)).toBe(-0x80000000);
  });
});
