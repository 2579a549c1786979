/// <reference lib="webworker" />
/**
 * The person's own data (issue 14 §2, `data: local`), off the page's thread: the files they picked are read
 * here — images decoded with createImageBitmap and drawn on an OffscreenCanvas, CSV and text files read as
 * text — checked against the task and cut into one shard per mini-client (@hushfl/tasks localExamples.ts),
 * then stored in this browser's IndexedDB (store.ts). The page gets a summary to preview. Nothing read here
 * is sent anywhere: the training Worker reads the shards from the page, on the same device.
 *
 * A site that embeds the SDK hands its own examples instead (`examples`, examples.ts): checked and cut the
 * same way, and handed back as shards without being stored (the site holds them already).
 *
 * Labels: an example's folder (the path segment right above the file), or, when the files include exactly one
 * CSV (and the task is not tabular), that labels CSV's row for the file's name (filename,label).
 */
import {
  baseName,
  checkImageSize,
  findTask,
  type ImageExample,
  LocalDataError,
  localDataExpectation,
  LocalExamples,
  parseLabelsCsv,
  type TaskDescription,
} from '@hushfl/tasks';
import { shardsFromExamples } from '../examples.ts';
import { store } from '../store.ts';
import type { FromLocalDataWorker, ToLocalDataWorker } from './messages.ts';

declare const self: DedicatedWorkerGlobalScope;

const post = (m: FromLocalDataWorker) => self.postMessage(m);

const IMAGE = /\.(png|jpe?g|gif|bmp|webp|avif)$/i;
const CSV = /\.csv$/i;
/** Files a folder holds that are nobody's example: hidden files and what file managers leave behind. */
const LITTER = /^(thumbs\.db|desktop\.ini)$/i;
/** A progress message every this many files. */
const PROGRESS_EVERY = 32;
/** Names of skipped files the page lists. */
const SKIPPED_NAMES = 5;

/** A picked file and its name as the person sees it: its path inside the picked folder, or its name. */
interface Picked {
  readonly file: File;
  readonly path: string;
}

function isLitter(path: string): boolean {
  return path.split('/').some((segment) => segment.startsWith('.')) || LITTER.test(baseName(path));
}

/** One canvas, reused while images keep their size. */
let canvas: OffscreenCanvas | null = null;
let context: OffscreenCanvasRenderingContext2D | null = null;

async function decodeImage(task: TaskDescription, file: File, path: string, label: string): Promise<ImageExample> {
  let bitmap: ImageBitmap;
  try {
    // The file's own values: no colour-space conversion, no premultiplied alpha.
    bitmap = await createImageBitmap(file, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch (e) {
    throw new LocalDataError(`${path}: this browser cannot decode it as an image (${(e as Error).message || 'unknown format'})`, path);
  }
  try {
    const { width, height } = bitmap;
    checkImageSize(task, path, width, height);
    if (!canvas || !context || canvas.width !== width || canvas.height !== height) {
      canvas = new OffscreenCanvas(width, height);
      context = canvas.getContext('2d', { willReadFrequently: true });
      if (!context) throw new Error('this browser gives Workers no 2D canvas to read images with');
    }
    context.clearRect(0, 0, width, height);
    context.drawImage(bitmap, 0, 0);
    return { file: path, label, width, height, channels: 4, pixels: context.getImageData(0, 0, width, height).data };
  } finally {
    bitmap.close();
  }
}

/** The label of an example file: its labels-CSV row, or the folder it is in. */
function labelOf({ path }: Picked, labels: { csv: string; map: Map<string, string> } | null): string {
  if (labels) {
    const name = baseName(path);
    const label = labels.map.get(name);
    if (label === undefined) throw new LocalDataError(`${path}: ${labels.csv} has no row for '${name}' (filename,label)`, path);
    return label;
  }
  const segments = path.split('/');
  if (segments.length < 2)
    throw new LocalDataError(
      `${path}: no label: pick a folder with one subfolder per class (named by the class), or pick the files with one labels CSV (filename,label)`,
      path,
    );
  return segments[segments.length - 2]!;
}

async function parse(m: Extract<ToLocalDataWorker, { type: 'parse' }>): Promise<Extract<FromLocalDataWorker, { type: 'parsed' }>> {
  const task = findTask(m.task);
  const kind = task.input.kind;
  const examples = new LocalExamples(task);
  if (m.paths.length !== m.files.length) throw new Error(`${m.files.length} files but ${m.paths.length} paths`);
  const files = m.files.map((file, i) => ({ file, path: m.paths[i] || file.name })).filter((f) => !isLitter(f.path));
  /** Files that are not examples of this task (shown by name). */
  const skipped: string[] = [];
  const csvs = files.filter((f) => CSV.test(f.path));
  let done = 0;
  const progress = (total: number) => {
    done++;
    if (done % PROGRESS_EVERY === 0 || done === total) post({ type: 'progress', id: m.id, done, total });
  };

  if (kind === 'tabular') {
    if (!csvs.length) throw new LocalDataError(`${m.source}: no CSV file. ${localDataExpectation(task)}`);
    for (const f of files) if (!CSV.test(f.path)) skipped.push(f.path);
    for (const f of csvs) {
      examples.addCsv(f.path, await f.file.text());
      progress(csvs.length);
    }
  } else {
    if (csvs.length > 1)
      throw new LocalDataError(
        `${m.source}: ${csvs.length} CSV files (${csvs
          .slice(0, 3)
          .map((f) => f.path)
          .join(', ')}${csvs.length > 3 ? ', …' : ''}): pick at most one, the labels CSV (filename,label)`,
      );
    const csv = csvs[0];
    const labels = csv ? { csv: csv.path, map: parseLabelsCsv(csv.path, await csv.file.text()) } : null;
    const wanted: Picked[] = [];
    for (const f of files) {
      if (CSV.test(f.path)) continue;
      const image = IMAGE.test(f.path) || f.file.type.startsWith('image/');
      if (image === (kind === 'image')) wanted.push(f);
      else skipped.push(f.path);
    }
    for (const f of wanted) {
      const label = labelOf(f, labels);
      if (kind === 'image') examples.addImage(await decodeImage(task, f.file, f.path, label));
      else examples.addText({ file: f.path, label, text: await f.file.text() });
      progress(wanted.length);
    }
  }
  const { shards, summary } = examples.finish(m.parts, m.source);
  await store.setLocalData({ task: task.name, shards, summary, storedAt: Date.now() });
  return { type: 'parsed', id: m.id, summary, skipped: { count: skipped.length, names: skipped.slice(0, SKIPPED_NAMES) } };
}

async function handle(m: ToLocalDataWorker): Promise<void> {
  try {
    if (m.type === 'open') {
      const task = findTask(m.task);
      const stored = await store.localData(task.name);
      // Examples cut for another number of mini-clients are picked again.
      post({
        type: 'opened',
        id: m.id,
        task,
        expectation: localDataExpectation(task),
        stored: stored && stored.shards.length === m.parts ? stored.summary : null,
      });
    } else if (m.type === 'parse') {
      post(await parse(m));
    } else if (m.type === 'examples') {
      const task = findTask(m.task);
      const { shards, summary } = shardsFromExamples(task, m.examples, m.parts);
      const built: FromLocalDataWorker = { type: 'built', id: m.id, task, expectation: localDataExpectation(task), shards, summary };
      self.postMessage(
        built,
        shards.map((s) => s.buffer as ArrayBuffer),
      );
    }
  } catch (err) {
    const e = err as Error;
    post({ type: 'error', id: m.id, message: e.message, ...(err instanceof LocalDataError && err.file ? { file: err.file } : {}) });
  }
}

// One request at a time: a second pick waits for the first to be stored.
let queue: Promise<void> = Promise.resolve();
self.onmessage = (e: MessageEvent<ToLocalDataWorker>) => {
  queue = queue.then(() => handle(e.data));
};
