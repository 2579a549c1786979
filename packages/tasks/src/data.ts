/**
 * Local training data. A Dataset is plain typed arrays (a flat row of features per example, integer labels),
 * the same in a browser Worker and in Node. Shards travel from the coordinator, or from the page's own-data
 * Worker to the runtime, in a compact binary form, u32 LE fields:
 * - "HFL1" ‖ n ‖ features ‖ classes ‖ n label bytes ‖ n·features pixel bytes (value·255): 8-bit images;
 * - "HFL2" ‖ n ‖ features ‖ classes ‖ value type ‖ n label bytes ‖ n·features values of that type:
 *   1 = u8 (÷255), 2 = u16 LE token ids (as is), 3 = f32 LE (as is, tabular).
 */
import { inputSize, type ModelShape } from './input.ts';

export interface Dataset {
  readonly n: number;
  readonly features: number;
  readonly classes: number;
  /** n × features, row-major: pixels in [0, 1], token ids, or tabular values. */
  readonly x: Float32Array;
  readonly labels: Uint8Array;
}

/** What a shard stores per feature: 8-bit pixels, 16-bit token ids, or float32 values. */
export type ShardValues = Uint8Array | Uint16Array | Float32Array;

const MAGIC_U8 = 0x314c4648; // "HFL1" little-endian
const MAGIC_TYPED = 0x324c4648; // "HFL2"
const HEADER_U8 = 16;
const HEADER_TYPED = 20;
const VALUE_TYPES = { 1: Uint8Array, 2: Uint16Array, 3: Float32Array } as const;

function valueType(values: ShardValues): 1 | 2 | 3 {
  return values instanceof Uint8Array ? 1 : values instanceof Uint16Array ? 2 : 3;
}

export function encodeShard(labels: Uint8Array, values: ShardValues, features: number, classes: number): Uint8Array {
  const n = labels.length;
  if (values.length !== n * features) throw new RangeError(`expected ${n * features} values, got ${values.length}`);
  const type = valueType(values);
  // 8-bit images keep the first format: shards cached by earlier pages stay readable.
  const header = type === 1 ? HEADER_U8 : HEADER_TYPED;
  // Values start at a multiple of their width, so the decoder can view them in place.
  const pad = (values.BYTES_PER_ELEMENT - ((header + n) % values.BYTES_PER_ELEMENT)) % values.BYTES_PER_ELEMENT;
  const out = new Uint8Array(header + n + pad + values.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, type === 1 ? MAGIC_U8 : MAGIC_TYPED, true);
  view.setUint32(4, n, true);
  view.setUint32(8, features, true);
  view.setUint32(12, classes, true);
  if (type !== 1) view.setUint32(16, type, true);
  out.set(labels, header);
  // Typed arrays are little-endian on every platform hushfl runs on (x86, ARM); checked at decode.
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), header + n + pad);
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

export function decodeShard(bytes: Uint8Array): Dataset {
  if (bytes.length < HEADER_U8) throw new RangeError('shard too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== MAGIC_U8 && magic !== MAGIC_TYPED) throw new RangeError('not a hushfl shard (bad magic)');
  if (magic === MAGIC_TYPED && bytes.length < HEADER_TYPED) throw new RangeError('shard too short');
  const n = view.getUint32(4, true);
  const features = view.getUint32(8, true);
  const classes = view.getUint32(12, true);
  const type = magic === MAGIC_U8 ? 1 : view.getUint32(16, true);
  if (features < 1 || features > 1 << 20 || classes < 2 || classes > 256) throw new RangeError('shard header out of range');
  if (type !== 1 && type !== 2 && type !== 3) throw new RangeError(`shard value type ${type} unknown`);
  const Values = VALUE_TYPES[type];
  const header = magic === MAGIC_U8 ? HEADER_U8 : HEADER_TYPED;
  const width = Values.BYTES_PER_ELEMENT;
  const pad = (width - ((header + n) % width)) % width;
  const expected = header + n + pad + n * features * width;
  if (bytes.length !== expected) throw new RangeError(`shard of ${n} examples must be ${expected} bytes, got ${bytes.length}`);
  if (width > 1 && !LITTLE_ENDIAN) throw new RangeError('shards of 16- and 32-bit values need a little-endian platform');
  const labels = bytes.slice(header, header + n);
  for (const l of labels) if (l >= classes) throw new RangeError(`label ${l} outside [0, ${classes})`);
  // A copy of the values (aligned): the shard's buffer may be a view at any offset.
  const raw = bytes.slice(header + n + pad);
  const values = new Values(raw.buffer, 0, n * features);
  const x = new Float32Array(n * features);
  if (type === 1) for (let i = 0; i < x.length; i++) x[i] = values[i]! / 255;
  else if (type === 3) {
    x.set(values);
    for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) throw new RangeError(`value ${i} of the shard is not finite`);
  } else x.set(values);
  return { n, features, classes, x, labels };
}

/**
 * Throws when a dataset is not what a model of `shape` reads: another row size or number of classes, or (token
 * input) an id outside [0, vocabulary) — tf.gather would fail on some backends and silently read zeros on
 * others. A shard decodes into any shape; this ties it to the task before training.
 */
export function checkDataset(shape: ModelShape, data: Dataset): void {
  const features = inputSize(shape.input);
  if (data.features !== features) throw new RangeError(`the data has ${data.features} values per example, the task's input takes ${features}`);
  if (data.classes !== shape.classes) throw new RangeError(`the data has ${data.classes} classes, the task has ${shape.classes}`);
  if (shape.input.kind !== 'tokens') return;
  const v = shape.input.vocabulary;
  const x = data.x;
  for (let i = 0; i < x.length; i++) {
    const id = x[i]!;
    if (!(id >= 0 && id < v && Number.isInteger(id))) throw new RangeError(`token ${id} of example ${Math.floor(i / features)} is outside [0, ${v})`);
  }
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
