import { describe, expect, it } from 'vitest';
import { checkIdxPair, parseIdx } from './idx.ts';

/** An IDX file of unsigned bytes, written by hand from the format's definition. */
function idx(dims: number[], values: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + values.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 + dims.length, false);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  out.set(values, 4 + 4 * dims.length);
  return out;
}

describe('IDX files', () => {
  it('read the big-endian sizes and the values of images (0x00000803) and labels (0x00000801)', () => {
    const images = idx([2, 2, 3], [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
    expect(Array.from(images.subarray(0, 4))).toEqual([0, 0, 8, 3]);
    const a = parseIdx(images);
    expect(a.dims).toEqual([2, 2, 3]);
    expect(Array.from(a.data)).toEqual([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
    const l = parseIdx(idx([2], [7, 2]));
    expect(checkIdxPair(a, l, 10, 'pair')).toEqual({ n: 2, rows: 2, cols: 3 });
    // 256 examples: a size that needs the second byte of its u32.
    expect(parseIdx(idx([256], new Array(256).fill(1))).dims).toEqual([256]);
  });

  it('refuses foreign, unsupported, truncated or mismatched files with the reason', () => {
    expect(() => parseIdx(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), 'x.png')).toThrow(
      'x.png: not an IDX file (magic 0x89504e47, expected 0x00000801 or 0x00000803)',
    );
    const floats = idx([1], [0]);
    floats[2] = 0x0d;
    expect(() => parseIdx(floats)).toThrow(/type 0xd is not supported/);
    expect(() => parseIdx(idx([2, 2, 2], [1, 2, 3]), 'cut')).toThrow('cut: sizes 2×2×2 need 24 bytes, the file has 19 (truncated or not IDX)');
    expect(() => parseIdx(Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 1]))).toThrow(/cannot hold the 3 sizes/);
    const images = parseIdx(idx([2, 1, 1], [0, 0]));
    expect(() => checkIdxPair(images, parseIdx(idx([3], [0, 0, 0])), 10, 'p')).toThrow('p: 2 images but 3 labels');
    expect(() => checkIdxPair(images, parseIdx(idx([2], [3, 10])), 10, 'p')).toThrow('p: label 10 at 1 is outside [0, 10)');
    expect(() => checkIdxPair(parseIdx(idx([2], [0, 0])), images, 10, 'p')).toThrow(/images file has 1 dimensions/);
  });
});
