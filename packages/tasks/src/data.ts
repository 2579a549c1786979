/**
 * Local training data. A Dataset is plain typed arrays (features in [0, 1], integer labels), the same in a
 * browser Worker and in Node. Shards travel from the coordinator in a compact binary form:
 * "HFL1" ‖ n ‖ features ‖ classes (u32 LE each) ‖ n label bytes ‖ n·features pixel bytes (value·255).
 */
export interface Dataset {
  readonly n: number;
  readonly features: number;
  readonly classes: number;
  /** n × features, row-major, in [0, 1]. */
  readonly x: Float32Array;
  readonly labels: Uint8Array;
}

const MAGIC = 0x314c4648; // "HFL1" little-endian
const HEADER = 16;

export function encodeShard(labels: Uint8Array, pixels: Uint8Array, features: number, classes: number): Uint8Array {
  const n = labels.length;
  if (pixels.length !== n * features) throw new RangeError(`expected ${n * features} pixel bytes, got ${pixels.length}`);
  const out = new Uint8Array(HEADER + n + pixels.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, n, true);
  view.setUint32(8, features, true);
  view.setUint32(12, classes, true);
  out.set(labels, HEADER);
  out.set(pixels, HEADER + n);
  return out;
}

export function decodeShard(bytes: Uint8Array): Dataset {
  if (bytes.length < HEADER) throw new RangeError('shard too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new RangeError('not a hushfl shard (bad magic)');
  const n = view.getUint32(4, true);
  const features = view.getUint32(8, true);
  const classes = view.getUint32(12, true);
  if (features < 1 || features > 1 << 20 || classes < 2 || classes > 256) throw new RangeError('shard header out of range');
  if (bytes.length !== HEADER + n + n * features)
    throw new RangeError(`shard of ${n} examples must be ${HEADER + n + n * features} bytes, got ${bytes.length}`);
  const labels = bytes.slice(HEADER, HEADER + n);
  for (const l of labels) if (l >= classes) throw new RangeError(`label ${l} outside [0, ${classes})`);
  const x = new Float32Array(n * features);
  const pixels = bytes.subarray(HEADER + n);
  for (let i = 0; i < x.length; i++) x[i] = pixels[i]! / 255;
  return { n, features, classes, x, labels };
}

/** The examples at `indices` of a dataset. */
export function subset(data: Dataset, indices: ArrayLike<number>): Dataset {
  const f = data.features;
  const x = new Float32Array(indices.length * f);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    x.set(data.x.subarray(j * f, (j + 1) * f), i * f);
    labels[i] = data.labels[j]!;
  }
  return { n: indices.length, features: f, classes: data.classes, x, labels };
}
