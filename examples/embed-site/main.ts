/**
 * A third-party site embedding @hushfl/browser: Scribble keeps the digits its users wrote (here, for the
 * demo, a digits.json it serves itself) and lets them train a shared model without handing them over.
 * `?coordinator=` names the coordinator (which must allow this site's origin); `?backend=` forces a
 * TensorFlow.js backend.
 */
import { type ExampleImage, type FederationProgress, joinFederation } from '@hushfl/browser';

/** How Scribble stores a digit: the class it was written as, and 28×28 gray pixels, row by row. */
interface ScribbleDigit {
  readonly digit: number;
  readonly pixels: number[];
}

const SIDE = 28;
const query = new URLSearchParams(location.search);
const $ = (id: string) => document.querySelector<HTMLElement>(`[data-testid="${id}"]`)!;

function drawDigits(digits: readonly ScribbleDigit[]): void {
  const box = document.getElementById('digits')!;
  // A sample of 40 over all of them; a digit of another size is not drawn here (the SDK says what is wrong with it).
  const step = Math.max(1, Math.ceil(digits.length / 40));
  for (const d of digits.filter((x, i) => i % step === 0 && x.pixels.length === SIDE * SIDE)) {
    const canvas = document.createElement('canvas');
    canvas.width = SIDE;
    canvas.height = SIDE;
    canvas.title = String(d.digit);
    const context = canvas.getContext('2d')!;
    const image = context.createImageData(SIDE, SIDE);
    for (const [i, v] of d.pixels.entries()) image.data.set([v, v, v, 255], i * 4);
    context.putImageData(image, 0, 0);
    box.append(canvas);
  }
  $('digit-count').textContent = `(${digits.length}, on this device)`;
}

function show(p: FederationProgress): void {
  $('connection').textContent = p.connection;
  $('data').textContent =
    p.data === null ? '—' : p.data === 'local' ? `your digits (${p.examples} examples), on this device` : `a demo: the coordinator's ${p.task} shards`;
  $('round').textContent = p.round === null ? '—' : String(p.round);
  $('stage').textContent = p.stage;
  $('rounds').textContent = String(p.roundsContributed);
  $('local').textContent = p.local ? `loss ${p.local.loss.toFixed(3)}, accuracy ${(p.local.accuracy * 100).toFixed(1)} % on ${p.local.examples}` : '—';
  $('global').textContent = p.lastRound?.globalAccuracy == null ? '—' : `${(p.lastRound.globalAccuracy * 100).toFixed(1)} % after round ${p.lastRound.round}`;
  $('message').textContent = p.message ?? '';
  const error = $('error');
  error.hidden = p.error === null;
  error.textContent = p.error ?? '';
}

async function main(): Promise<void> {
  const url = query.get('coordinator');
  if (!url) throw new Error('open this page with ?coordinator=<the coordinator URL>');
  const res = await fetch('./digits.json');
  if (!res.ok) throw new Error(`digits.json: HTTP ${res.status}`);
  const digits = (await res.json()) as ScribbleDigit[];
  drawDigits(digits);
  // Scribble's own format, mapped to the SDK's: this is all the site does with its data.
  const images: ExampleImage[] = digits.map((d) => ({ label: d.digit, width: SIDE, height: SIDE, pixels: d.pixels }));
  const client = await joinFederation({
    url,
    examples: { task: 'mnist', images },
    onProgress: show,
    backend: (query.get('backend') as 'webgpu' | 'webgl' | 'wasm' | 'cpu' | null) ?? null,
    // The build copies the tfjs .wasm files next to this page (base './'), wherever it is served.
    wasmPath: 'tfjs-wasm/',
  });
  document.getElementById('forget')!.onclick = () => void client.forget();
}

main().catch((e: Error) => {
  const error = $('error');
  error.hidden = false;
  error.textContent = e.message;
});
