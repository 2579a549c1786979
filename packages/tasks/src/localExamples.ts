/**
 * A person's own examples for a task (issue 14 §2, `data: local`): inputs the page has already decoded —
 * images as pixels, the text of a CSV, the text of text files — checked against the task's description
 * (size, labels, columns), stored as the task stores its data (8-bit pixels, 16-bit token ids, float32
 * columns) and cut into one shard per mini-client in the shard format (data.ts), with a summary the page
 * previews: the count, the label histogram and a few examples. Pure and DOM-free: the page's localData Worker
 * reads and decodes the files. Nothing here is sent anywhere; the shards and the summary stay on the device.
 *
 * Every problem is a LocalDataError whose message names the file (and for a CSV the row and column) and
 * says what the task expects.
 */
import { encodeShard, type ShardValues } from './data.ts';
import { inputSize, type TabularColumn, type TaskInput } from './input.ts';
import type { TaskDescription } from './registry.ts';
import { emailText, tokenize } from './text.ts';

/** A problem with the picked data; `file` is the file it is in (absent for the set as a whole). */
export class LocalDataError extends Error {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'LocalDataError';
  }
}

/** One decoded image: `channels` 1 (gray), 3 (RGB) or 4 (RGBA, as a canvas gives it), row-major, 8 bits each. */
export interface ImageExample {
  readonly file: string;
  /** A class name of the task (the image's folder name, or its row of a labels CSV). */
  readonly label: string;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3 | 4;
  readonly pixels: Uint8Array | Uint8ClampedArray;
}

/** One text file of a token task. */
export interface TextExample {
  readonly file: string;
  readonly label: string;
  readonly text: string;
}

/** An example the page shows before training: the stored pixels of an image, a CSV row's cells, a text's start. */
export type LocalPreview =
  | {
      readonly kind: 'image';
      readonly file: string;
      readonly label: string;
      readonly width: number;
      readonly height: number;
      readonly channels: number;
      readonly values: Uint8Array;
    }
  | { readonly kind: 'row'; readonly file: string; readonly label: string; readonly row: number; readonly cells: readonly string[] }
  | { readonly kind: 'text'; readonly file: string; readonly label: string; readonly text: string };

/** What the page shows of the picked data; it stays on the device with the shards. */
export interface LocalDataSummary {
  readonly task: string;
  readonly count: number;
  readonly classes: readonly string[];
  /** Examples per class, aligned with `classes`. */
  readonly histogram: readonly number[];
  /** Examples per mini-client's shard. */
  readonly perShard: readonly number[];
  /** The column names of a tabular task's preview rows (in the task's order, then the label). */
  readonly columns?: readonly string[];
  readonly preview: readonly LocalPreview[];
}

export interface LocalDataResult {
  /** One shard per mini-client, in the shard format. */
  readonly shards: Uint8Array[];
  readonly summary: LocalDataSummary;
}

/** The column of a CSV that holds the label, unless told otherwise. */
export const LABEL_COLUMN = 'label';
/** Preview examples kept (spread over the classes). */
export const PREVIEW_EXAMPLES = 8;
/** Characters of a text kept for its preview. */
const PREVIEW_TEXT = 160;

const list = (xs: readonly string[], max = 12) =>
  xs.length <= max
    ? xs.map((x) => `'${x}'`).join(', ')
    : `${xs
        .slice(0, max)
        .map((x) => `'${x}'`)
        .join(', ')} and ${xs.length - max} more`;

/** One line for the page: what the task's examples must be. */
export function localDataExpectation(task: TaskDescription): string {
  const input = task.input;
  if (input.kind === 'image') {
    const colour = input.channels === 1 ? 'grayscale (colour images are converted)' : input.channels === 3 ? 'RGB' : `${input.channels} channels`;
    return `Images (PNG, JPEG, …) of exactly ${input.width}×${input.height} pixels, ${colour}: a folder with one subfolder per class, named by the class, or image files and one labels CSV (filename,label).`;
  }
  if (input.kind === 'tokens')
    return `Text files, one example each: a folder with one subfolder per class, named by the class, or text files and one labels CSV (filename,label). The first ${input.length} words of each are used.`;
  const cols = input.columns.map((c) => (c.type === 'number' ? `${c.name} (a number)` : `${c.name} (one of ${c.values.join(', ')})`));
  return `One CSV file with a header row, the columns ${cols.join(', ')} and a '${LABEL_COLUMN}' column.`;
}

/** Throws unless a `width`×`height` image fits the task; called before an image is drawn. */
export function checkImageSize(task: TaskDescription, file: string, width: number, height: number): void {
  const input = task.input;
  if (input.kind !== 'image')
    throw new LocalDataError(`${file}: the ${task.name} task takes ${input.kind === 'tokens' ? 'text' : 'CSV rows'}, not images`, file);
  if (width !== input.width || height !== input.height)
    throw new LocalDataError(
      `${file}: the image is ${width}×${height} pixels; the ${task.name} task needs ${input.width}×${input.height} (width×height): resize it or leave it out`,
      file,
    );
}

/**
 * Calls `onRow(fields, row)` for each record of an RFC 4180 CSV: comma-separated, fields in double quotes may
 * hold commas, newlines and "" for a quote; CRLF or LF line ends; a byte order mark is dropped. `row` counts
 * records from 1 (the header is row 1), as a spreadsheet numbers them. `fields` is reused between calls.
 * Blank lines are skipped.
 */
export function parseCsv(file: string, text: string, onRow: (fields: readonly string[], row: number) => void): void {
  const fields: string[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let row = 0;
  const n = text.length;
  while (i < n) {
    fields.length = 0;
    row++;
    const started = row;
    for (;;) {
      let value: string;
      if (text.charCodeAt(i) === 34 /* " */) {
        // A quoted field: up to the quote not followed by another.
        let out = '';
        let from = ++i;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) throw new LocalDataError(`${file} row ${started}: a quoted field is not closed (a " is missing)`, file);
          if (text.charCodeAt(q + 1) === 34) {
            out += text.slice(from, q + 1);
            i = from = q + 2;
            continue;
          }
          out += text.slice(from, q);
          i = q + 1;
          break;
        }
        const c = text.charCodeAt(i);
        if (i < n && c !== 44 && c !== 10 && c !== 13)
          throw new LocalDataError(`${file} row ${started}: a quoted field must end at a comma or the line's end, found '${text[i]}'`, file);
        value = out;
      } else {
        let j = i;
        while (j < n) {
          const c = text.charCodeAt(j);
          if (c === 44 || c === 10 || c === 13) break;
          j++;
        }
        value = text.slice(i, j);
        i = j;
      }
      fields.push(value);
      if (i < n && text.charCodeAt(i) === 44) {
        i++;
        continue;
      }
      // The line's end (CRLF, LF or CR) or the text's.
      if (text.charCodeAt(i) === 13) i++;
      if (text.charCodeAt(i) === 10) i++;
      break;
    }
    if (fields.length === 1 && fields[0] === '') {
      row--;
      continue;
    }
    onRow(fields, row);
  }
}

/** The file name after the last `/` (labels CSVs name files by their name alone). */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * A labels CSV (`filename,label` per row; a first row `filename,label` is a header) as file name → label.
 * Names are matched by their last path segment.
 */
export function parseLabelsCsv(file: string, text: string): Map<string, string> {
  const labels = new Map<string, string>();
  parseCsv(file, text, (fields, row) => {
    if (row === 1 && /^(file|filename|file_name|image|path)$/i.test(fields[0]!.trim()) && /^(label|class)$/i.test((fields[1] ?? '').trim())) return;
    if (fields.length !== 2) throw new LocalDataError(`${file} row ${row}: ${fields.length} fields, a labels CSV has two per row: filename,label`, file);
    const name = baseName(fields[0]!.trim());
    const label = fields[1]!.trim();
    if (!name) throw new LocalDataError(`${file} row ${row}: the filename is empty`, file);
    const before = labels.get(name);
    if (before !== undefined && before !== label) throw new LocalDataError(`${file} row ${row}: '${name}' is labelled both '${before}' and '${label}'`, file);
    labels.set(name, label);
  });
  if (labels.size === 0) throw new LocalDataError(`${file}: no rows: a labels CSV has a row filename,label per file`, file);
  return labels;
}

type ValuesArray = Uint8Array | Uint16Array | Float32Array;
type ValuesCtor = { new (n: number): ValuesArray };

/**
 * Collects examples for one task, checking each as it comes (so a folder of images is never held decoded all
 * at once), and cuts them into shards at the end.
 */
export class LocalExamples {
  private readonly features: number;
  private readonly classIndex: Map<string, number>;
  private readonly Values: ValuesCtor;
  private labels = new Uint8Array(64);
  private values: ValuesArray;
  private n = 0;
  private readonly histogram: number[];
  private readonly previewed: number[];
  private readonly previews: LocalPreview[] = [];
  private readonly perClass: number;
  /** The token task's scratch row (tokenize writes into it). */
  private readonly tokens: Uint16Array<ArrayBuffer> | null;

  constructor(
    readonly task: TaskDescription,
    private readonly maxPreviews = PREVIEW_EXAMPLES,
  ) {
    if (task.classes.length < 2 || task.classes.length > 256)
      throw new RangeError(`the ${task.name} task has ${task.classes.length} classes: shards hold 2 to 256`);
    this.features = inputSize(task.input);
    this.classIndex = new Map(task.classes.map((c, i) => [c, i]));
    this.Values = task.input.kind === 'image' ? Uint8Array : task.input.kind === 'tokens' ? Uint16Array : Float32Array;
    this.values = new this.Values(64 * this.features);
    this.histogram = task.classes.map(() => 0);
    this.previewed = task.classes.map(() => 0);
    this.perClass = Math.max(1, Math.ceil(maxPreviews / task.classes.length));
    this.tokens = task.input.kind === 'tokens' ? new Uint16Array(task.input.length) : null;
  }

  /** Examples collected so far. */
  get count(): number {
    return this.n;
  }

  private label(label: string, where: string, file: string): number {
    const y = this.classIndex.get(label);
    if (y === undefined) throw new LocalDataError(`${where}: '${label}' is not one of the ${this.task.name} task's classes: ${list(this.task.classes)}`, file);
    return y;
  }

  /** Room for one more example; its values start at the returned offset. */
  private grow(): number {
    if (this.n === this.labels.length) {
      const labels = new Uint8Array(this.labels.length * 2);
      labels.set(this.labels);
      this.labels = labels;
      const values = new this.Values(this.values.length * 2);
      values.set(this.values as never);
      this.values = values;
    }
    return this.n * this.features;
  }

  private commit(y: number): boolean {
    this.labels[this.n++] = y;
    this.histogram[y]!++;
    const keep = this.previews.length < this.maxPreviews && this.previewed[y]! < this.perClass;
    if (keep) this.previewed[y]!++;
    return keep;
  }

  /**
   * One image, converted to the task's channels: to gray by the ITU-R BT.601 luma
   * Y = (299 R + 587 G + 114 B) / 1000 rounded, gray to RGB by repeating it; alpha is dropped (a canvas gives
   * transparent pixels as 0, 0, 0, 0) or, for a 4-channel task from fewer, 255.
   */
  addImage(e: ImageExample): void {
    checkImageSize(this.task, e.file, e.width, e.height);
    const input = this.task.input as Extract<TaskInput, { kind: 'image' }>;
    const to = input.channels;
    const from = e.channels;
    if (to !== 1 && to !== 3 && to !== 4)
      throw new RangeError(`the ${this.task.name} task's images have ${to} channels: only 1, 3 or 4 can be made from pixels`);
    if (from !== 1 && from !== 3 && from !== 4) throw new LocalDataError(`${e.file}: ${from} channels per pixel; expected 1, 3 or 4`, e.file);
    const pixels = e.width * e.height;
    if (e.pixels.length !== pixels * from)
      throw new LocalDataError(
        `${e.file}: ${e.pixels.length} values for ${e.width}×${e.height} pixels of ${from} channels (expected ${pixels * from})`,
        e.file,
      );
    const y = this.label(e.label, e.file, e.file);
    const at = this.grow();
    const out = this.values as Uint8Array;
    const src = e.pixels;
    if (from === to) out.set(src, at);
    else if (to === 1)
      for (let p = 0, s = 0; p < pixels; p++, s += from) out[at + p] = ((299 * src[s]! + 587 * src[s + 1]! + 114 * src[s + 2]! + 500) / 1000) | 0;
    else {
      // Gray repeats its one value; RGB and RGBA give theirs.
      const g = from === 1 ? 0 : 1;
      for (let p = 0, s = 0, d = at; p < pixels; p++, s += from, d += to) {
        out[d] = src[s]!;
        out[d + 1] = src[s + g]!;
        out[d + 2] = src[s + 2 * g]!;
        if (to === 4) out[d + 3] = from === 4 ? src[s + 3]! : 255;
      }
    }
    if (this.commit(y))
      this.previews.push({
        kind: 'image',
        file: e.file,
        label: e.label,
        width: e.width,
        height: e.height,
        channels: to,
        values: out.slice(at, at + this.features),
      });
  }

  /** One text file of a token task: the task's text steps (an email's subject and body), then its words hashed to ids. */
  addText(e: TextExample): void {
    const input = this.task.input;
    if (input.kind !== 'tokens')
      throw new LocalDataError(`${e.file}: the ${this.task.name} task takes ${input.kind === 'image' ? 'images' : 'CSV rows'}, not text`, e.file);
    const y = this.label(e.label, e.file, e.file);
    const text = this.task.preprocessing.some((s) => s.op === 'email-text') ? emailText(e.text) : e.text;
    const ids = tokenize(text, input, this.tokens!);
    if (ids[0] === 0) throw new LocalDataError(`${e.file}: no words to train on (the file is empty or has no letters or digits)`, e.file);
    const at = this.grow();
    this.values.set(ids, at);
    if (this.commit(y)) this.previews.push({ kind: 'text', file: e.file, label: e.label, text: text.trim().slice(0, PREVIEW_TEXT) });
  }

  /**
   * The rows of a CSV for a tabular task: a header naming the task's columns and `labelColumn` (other columns
   * are ignored), then one example a row: numbers as they are, a category column one-hot. Returns the rows added.
   */
  addCsv(file: string, text: string, labelColumn = LABEL_COLUMN): number {
    const input = this.task.input;
    if (input.kind !== 'tabular')
      throw new LocalDataError(`${file}: the ${this.task.name} task takes ${input.kind === 'image' ? 'images' : 'text'}, not CSV rows`, file);
    const columns = input.columns;
    let at: Int32Array | null = null;
    let labelAt = -1;
    let width = 0;
    const before = this.n;
    parseCsv(file, text, (fields, row) => {
      if (!at) {
        const header = fields.map((f) => f.trim());
        const index = (name: string) => {
          const k = header.indexOf(name);
          if (k < 0)
            throw new LocalDataError(
              `${file}: no column '${name}' (its header has ${list(header)}); the ${this.task.name} task needs the columns ${list([...columns.map((c) => c.name), labelColumn])}`,
              file,
            );
          return k;
        };
        at = Int32Array.from(columns, (c) => index(c.name));
        labelAt = index(labelColumn);
        width = header.length;
        return;
      }
      if (fields.length !== width) throw new LocalDataError(`${file} row ${row}: ${fields.length} fields, the header has ${width}`, file);
      const y = this.label(fields[labelAt]!.trim(), `${file} row ${row}, column '${labelColumn}'`, file);
      const offset = this.grow();
      const out = this.values as Float32Array;
      let d = offset;
      for (let c = 0; c < columns.length; c++) d = writeColumn(columns[c]!, fields[at[c]!]!, out, d, file, row);
      if (this.commit(y))
        this.previews.push({
          kind: 'row',
          file,
          label: fields[labelAt]!.trim(),
          row,
          cells: [...columns.map((_, c) => fields[at![c]!]!.trim()), fields[labelAt]!.trim()],
        });
    });
    if (!at) throw new LocalDataError(`${file}: the file is empty; it needs a header row and one row per example`, file);
    return this.n - before;
  }

  /**
   * The examples cut into `parts` shards (one per mini-client), dealt in turn: example i goes to shard i mod
   * parts, so each holds about as many of every class. `source` names the picked data in an error.
   */
  finish(parts = 1, source = 'the picked files'): LocalDataResult {
    if (!Number.isInteger(parts) || parts < 1) throw new RangeError(`parts must be a positive integer, got ${parts}`);
    if (this.n === 0) throw new LocalDataError(`${source}: no examples for the ${this.task.name} task. ${localDataExpectation(this.task)}`);
    if (this.n < parts)
      throw new LocalDataError(
        `${source}: ${this.n} example${this.n === 1 ? '' : 's'} cannot give each of this tab's ${parts} mini-clients one: pick at least ${parts}`,
      );
    const f = this.features;
    const shards: Uint8Array[] = [];
    const perShard: number[] = [];
    for (let p = 0; p < parts; p++) {
      const m = Math.floor((this.n - p + parts - 1) / parts);
      const labels = new Uint8Array(m);
      const values = new this.Values(m * f);
      for (let j = 0, i = p; j < m; j++, i += parts) {
        labels[j] = this.labels[i]!;
        values.set(this.values.subarray(i * f, (i + 1) * f) as never, j * f);
      }
      shards.push(encodeShard(labels, values as ShardValues, f, this.task.classes.length));
      perShard.push(m);
    }
    const input = this.task.input;
    return {
      shards,
      summary: {
        task: this.task.name,
        count: this.n,
        classes: [...this.task.classes],
        histogram: [...this.histogram],
        perShard,
        ...(input.kind === 'tabular' ? { columns: [...input.columns.map((c) => c.name), LABEL_COLUMN] } : {}),
        preview: [...this.previews],
      },
    };
  }
}

/** Writes one cell of a tabular example at `d` (a number, or a category one-hot); returns the next offset. */
function writeColumn(column: TabularColumn, raw: string, out: Float32Array, d: number, file: string, row: number): number {
  const cell = raw.trim();
  if (column.type === 'number') {
    const v = cell === '' ? Number.NaN : Number(cell);
    if (!Number.isFinite(v)) throw new LocalDataError(`${file} row ${row}, column '${column.name}': '${cell}' is not a number`, file);
    out[d] = v;
    return d + 1;
  }
  const k = column.values.indexOf(cell);
  if (k < 0) throw new LocalDataError(`${file} row ${row}, column '${column.name}': '${cell}' is not one of ${list(column.values)}`, file);
  out.fill(0, d, d + column.values.length);
  out[d + k] = 1;
  return d + column.values.length;
}
