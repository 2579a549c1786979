/**
 * The examples a site already holds (joinFederation's `examples`), made into the client's shards for a
 * `data: local` run by @hushfl/tasks' LocalExamples: the same checks and the same error messages as a folder
 * picked on the client page (sizes, labels, columns), each naming the example (`images[3]`) it is about.
 * Runs in the localData Worker; nothing here is sent anywhere.
 */
import { checkImageSize, LABEL_COLUMN, LocalDataError, type LocalDataResult, LocalExamples, type TaskDescription } from '@hushfl/tasks';

/** A label: one of the task's class names; a number is taken as its decimal name (the digit 7 is class '7'). */
export type ExampleLabel = string | number;

/** One image: `pixels` row-major, 8 bits a value, 1 (gray), 3 (RGB) or 4 (RGBA, as ImageData gives) values a pixel. */
export interface ExampleImage {
  readonly label: ExampleLabel;
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array | Uint8ClampedArray | readonly number[];
  /** Values per pixel; by default pixels.length / (width × height). */
  readonly channels?: 1 | 3 | 4;
  /** What errors call it; by default `images[i]`. */
  readonly name?: string;
}

/** One text of a token task (an email, a message). */
export interface ExampleText {
  readonly label: ExampleLabel;
  readonly text: string;
  /** What errors call it; by default `texts[i]`. */
  readonly name?: string;
}

/** One row of a tabular task: a value for each of the task's columns, and the label (under `labelColumn`). */
export type ExampleRow = Readonly<Record<string, string | number>>;

/**
 * The site's own data for the run's task, in one of four shapes. `task`, when given, is the registry task the
 * examples are for (`mnist`): a run of another task is refused rather than trained on them, and they are
 * checked before the client connects.
 */
export type FederationExamples =
  | { readonly task?: string; readonly images: readonly ExampleImage[] }
  | { readonly task?: string; readonly texts: readonly ExampleText[] }
  | { readonly task?: string; readonly rows: readonly ExampleRow[]; readonly labelColumn?: string }
  | { readonly task?: string; readonly csv: string; readonly labelColumn?: string };

/** What errors call the examples as a whole. */
export const EXAMPLES_SOURCE = "this site's examples";

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;

function labelOf(label: unknown, name: string): string {
  if (typeof label === 'string') return label;
  if (typeof label === 'number' && Number.isFinite(label)) return String(label);
  throw new LocalDataError(`${name}: no label (give \`label\`: one of the task's class names)`, name);
}

/** The pixels as bytes: a number array must hold integers 0..255 (a typed array of bytes is taken as it is). */
function bytesOf(pixels: unknown, name: string): Uint8Array | Uint8ClampedArray {
  if (pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray) return pixels;
  if (!Array.isArray(pixels)) throw new LocalDataError(`${name}: \`pixels\` must be a Uint8Array, Uint8ClampedArray or an array of numbers 0..255`, name);
  const out = new Uint8ClampedArray(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i] as unknown;
    // Not clamped: a value out of range is a mistake in the data (floats 0..1, say), not something to round away.
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255)
      throw new LocalDataError(`${name}: pixel value ${String(v)} at index ${i} is not an integer from 0 to 255`, name);
    out[i] = v;
  }
  return out;
}

function addImages(into: LocalExamples, task: TaskDescription, images: readonly unknown[]): void {
  images.forEach((raw, i) => {
    if (!isObject(raw)) throw new LocalDataError(`images[${i}]: not an object { label, width, height, pixels }`, `images[${i}]`);
    const name = typeof raw.name === 'string' && raw.name ? raw.name : `images[${i}]`;
    const width = Number(raw.width);
    const height = Number(raw.height);
    // The size first: a 32×32 digit is reported as that, not as a count of values.
    checkImageSize(task, name, width, height);
    const pixels = bytesOf(raw.pixels, name);
    const channels = raw.channels ?? pixels.length / (width * height);
    if (channels !== 1 && channels !== 3 && channels !== 4)
      throw new LocalDataError(
        `${name}: ${pixels.length} values for ${width}×${height} pixels: give 1 (gray), 3 (RGB) or 4 (RGBA) values a pixel, or say how many in \`channels\``,
        name,
      );
    into.addImage({ file: name, label: labelOf(raw.label, name), width, height, channels, pixels });
  });
}

function addTexts(into: LocalExamples, texts: readonly unknown[]): void {
  texts.forEach((raw, i) => {
    const fallback = `texts[${i}]`;
    if (!isObject(raw) || typeof raw.text !== 'string') throw new LocalDataError(`${fallback}: not an object { label, text }`, fallback);
    const name = typeof raw.name === 'string' && raw.name ? raw.name : fallback;
    into.addText({ file: name, label: labelOf(raw.label, name), text: raw.text });
  });
}

/** A CSV field, quoted when it must be (RFC 4180, as LocalExamples parses it). */
const csvField = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

/** Each row as a one-row CSV of the task's columns and the label, so LocalExamples checks it as it checks a file; errors name `rows[i]`. */
function addRows(into: LocalExamples, task: TaskDescription, rows: readonly unknown[], labelColumn: string): void {
  const input = task.input;
  if (input.kind !== 'tabular')
    throw new LocalDataError(`${EXAMPLES_SOURCE}: the ${task.name} task takes ${input.kind === 'image' ? 'images' : 'text'}, not rows`);
  const columns = [...input.columns.map((c) => c.name), labelColumn];
  const header = columns.map(csvField).join(',');
  rows.forEach((raw, i) => {
    const name = `rows[${i}]`;
    if (!isObject(raw)) throw new LocalDataError(`${name}: not an object of column → value`, name);
    const cells = columns.map((column) => {
      const v = raw[column];
      if (typeof v === 'number' || typeof v === 'string') return csvField(String(v));
      throw new LocalDataError(`${name}: no value for the column '${column}' (the ${task.name} task needs ${columns.map((c) => `'${c}'`).join(', ')})`, name);
    });
    into.addCsv(name, `${header}\n${cells.join(',')}\n`, labelColumn);
  });
}

/**
 * The site's examples checked against `task` and cut into `parts` shards (one per mini-client). Throws a
 * LocalDataError naming the example that does not fit, or saying what the examples as a whole lack.
 */
export function shardsFromExamples(task: TaskDescription, examples: FederationExamples, parts: number): LocalDataResult {
  if (!isObject(examples)) throw new LocalDataError(`${EXAMPLES_SOURCE}: \`examples\` must be an object with images, texts, rows or csv`);
  if (examples.task !== undefined && examples.task !== task.name)
    throw new LocalDataError(`${EXAMPLES_SOURCE} are for the ${String(examples.task)} task, but this run trains the ${task.name} task`);
  const into = new LocalExamples(task);
  const labelColumn = 'labelColumn' in examples && typeof examples.labelColumn === 'string' ? examples.labelColumn : LABEL_COLUMN;
  if ('images' in examples && Array.isArray(examples.images)) addImages(into, task, examples.images);
  else if ('texts' in examples && Array.isArray(examples.texts)) addTexts(into, examples.texts);
  else if ('rows' in examples && Array.isArray(examples.rows)) addRows(into, task, examples.rows, labelColumn);
  else if ('csv' in examples && typeof examples.csv === 'string') into.addCsv('csv', examples.csv, labelColumn);
  else throw new LocalDataError(`${EXAMPLES_SOURCE}: give one of images, texts, rows (arrays) or csv (a string)`);
  return into.finish(parts, EXAMPLES_SOURCE);
}
