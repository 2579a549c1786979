/**
 * The IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/): a magic number 0x0000 ‖ type ‖ ndims,
 * ndims big-endian u32 sizes, then the values row-major. Only unsigned bytes (type 0x08), all MNIST uses:
 * 0x00000803 for images (n × rows × cols), 0x00000801 for labels (n). Pure, so a browser can read the same files.
 */
export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

const UBYTE = 0x08;

/** The array in an IDX file; `what` names the file in errors. `data` is a view on `bytes`, not a copy. */
export function parseIdx(bytes: Uint8Array, what = 'IDX file'): IdxArray {
  if (bytes.length < 4) throw new RangeError(`${what}: ${bytes.length} bytes is too short for an IDX file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const ndims = bytes[3]!;
  if (bytes[0] !== 0 || bytes[1] !== 0 || ndims < 1)
    throw new RangeError(`${what}: not an IDX file (magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x00000801 or 0x00000803)`);
  if (bytes[2] !== UBYTE) throw new RangeError(`${what}: IDX value type 0x${bytes[2]!.toString(16)} is not supported, only unsigned bytes (0x08)`);
  const header = 4 + 4 * ndims;
  if (bytes.length < header) throw new RangeError(`${what}: ${bytes.length} bytes cannot hold the ${ndims} sizes of its header`);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== header + count)
    throw new RangeError(`${what}: sizes ${dims.join('×')} need ${header + count} bytes, the file has ${bytes.length} (truncated or not IDX)`);
  return { dims, data: bytes.subarray(header) };
}

/** Images and their labels from two IDX files: n × rows × cols pixels and n labels below `classes`. */
export function checkIdxPair(images: IdxArray, labels: IdxArray, classes: number, what: string): { n: number; rows: number; cols: number } {
  if (images.dims.length !== 3) throw new RangeError(`${what}: the images file has ${images.dims.length} dimensions, expected 3 (magic 0x00000803)`);
  if (labels.dims.length !== 1) throw new RangeError(`${what}: the labels file has ${labels.dims.length} dimensions, expected 1 (magic 0x00000801)`);
  const [n, rows, cols] = images.dims as [number, number, number];
  if (labels.dims[0] !== n) throw new RangeError(`${what}: ${n} images but ${labels.dims[0]} labels`);
  const bad = labels.data.findIndex((l) => l >= classes);
  if (bad >= 0) throw new RangeError(`${what}: label ${labels.data[bad]} at ${bad} is outside [0, ${classes})`);
  return { n, rows, cols };
}
