import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, FrameError } from './frame.ts';

describe('node-to-node frames', () => {
  it('carry JSON with typed arrays as binary attachments, back as the same kinds', () => {
    const value = {
      method: 'secagg',
      args: ['client-1', { bin: new Uint8Array([1, 2, 255]), nested: [new Float32Array([0.5, -1]), new Float64Array([Math.PI])] }],
      words: new Uint32Array([0xffffffff, 7]).subarray(1),
      buf: Buffer.from([9, 8]),
      n: null,
    };
    const back = decodeFrame(encodeFrame(value)) as typeof value;
    expect(back.args[0]).toBe('client-1');
    const inner = back.args[1] as { bin: Uint8Array; nested: [Float32Array, Float64Array] };
    expect(inner.bin).toBeInstanceOf(Uint8Array);
    expect([...inner.bin]).toEqual([1, 2, 255]);
    expect(inner.nested[0]).toBeInstanceOf(Float32Array);
    expect([...inner.nested[0]]).toEqual([0.5, -1]);
    expect([...inner.nested[1]]).toEqual([Math.PI]);
    expect([...back.words]).toEqual([7]);
    expect([...back.buf]).toEqual([9, 8]);
    expect(back.n).toBeNull();
  });

  it('refuses a truncated frame', () => {
    const f = encodeFrame({ x: new Uint8Array(100) });
    expect(() => decodeFrame(f.subarray(0, f.length - 1))).toThrow(FrameError);
    expect(() => decodeFrame(new Uint8Array(2))).toThrow(FrameError);
  });
});
