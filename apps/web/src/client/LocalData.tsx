/**
 * "Use my own data" (issue 14 §2, `data: local`): what the task expects, a folder or files to pick, the
 * problem with a refused pick (naming the file), and a preview of the stored examples — a few thumbnails, rows
 * or text snippets, the label histogram and how many will train. The files are read by the localData Worker
 * and stay in this browser.
 */
import { useEffect, useRef } from 'react';
import type { LocalPreview } from '@hushfl/tasks';
import type { LocalDataUi } from '@hushfl/browser';

type ImagePreview = Extract<LocalPreview, { kind: 'image' }>;

/** An image as stored for training (gray, RGB or RGBA), drawn pixel for pixel and scaled up by CSS. */
function Thumbnail({ item }: { item: ImagePreview }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const context = ref.current?.getContext('2d');
    if (!context) return;
    const image = context.createImageData(item.width, item.height);
    const { values, channels } = item;
    const g = channels < 3 ? 0 : 1;
    const out = image.data;
    for (let p = 0, s = 0, d = 0; p < item.width * item.height; p++, s += channels, d += 4) {
      out[d] = values[s]!;
      out[d + 1] = values[s + g]!;
      out[d + 2] = values[s + 2 * g]!;
      out[d + 3] = channels === 4 ? values[s + 3]! : 255;
    }
    context.putImageData(image, 0, 0);
  }, [item]);
  return (
    <figure className="thumb" title={item.file}>
      <canvas ref={ref} width={item.width} height={item.height} />
      <figcaption>{item.label}</figcaption>
    </figure>
  );
}

function Preview({ local, miniClients }: { local: LocalDataUi; miniClients: number }) {
  const summary = local.summary!;
  const max = Math.max(1, ...summary.histogram);
  const images = summary.preview.filter((p): p is ImagePreview => p.kind === 'image');
  const rows = summary.preview.filter((p) => p.kind === 'row');
  const texts = summary.preview.filter((p) => p.kind === 'text');
  return (
    <div className="local-preview" data-testid="local-data-preview">
      {images.length > 0 && (
        <div className="thumbs">
          {images.map((p) => (
            <Thumbnail key={p.file} item={p} />
          ))}
        </div>
      )}
      {rows.length > 0 && (
        <table className="rows">
          <thead>
            <tr>
              {(summary.columns ?? []).map((c) => (
                <th key={c}>{c}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((p) => (
              <tr key={`${p.file}:${p.row}`} title={`${p.file} row ${p.row}`}>
                {p.cells.map((c, i) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: a row's cells are its columns, in order
                  <td key={i}>{c}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {texts.length > 0 && (
        <ul className="texts">
          {texts.map((p) => (
            <li key={p.file} title={p.file}>
              <strong>{p.label}</strong> {p.text}
            </li>
          ))}
        </ul>
      )}
      <ul className="histogram" data-testid="local-data-histogram" aria-label="examples per class">
        {summary.classes.map((c, i) => (
          <li key={c} data-testid="local-data-class" data-class={c}>
            <span className="class-name">{c}</span>
            <span className="class-bar">
              <span style={{ width: `${(100 * summary.histogram[i]!) / max}%` }} />
            </span>
            <span className="class-count">{summary.histogram[i]}</span>
          </li>
        ))}
      </ul>
      <p className="local-count" data-testid="local-data-count">
        {summary.count} example{summary.count === 1 ? '' : 's'} will train
        {miniClients > 1 ? `, split over ${miniClients} mini-clients (${summary.perShard.join(' + ')})` : ''}.
      </p>
      {local.skipped && local.skipped.count > 0 && (
        <p className="skipped" data-testid="local-data-skipped">
          Skipped {local.skipped.count} file{local.skipped.count === 1 ? '' : 's'} that {local.skipped.count === 1 ? 'is' : 'are'} not an example
          {local.skipped.names.length ? `: ${local.skipped.names.join(', ')}${local.skipped.count > local.skipped.names.length ? ', …' : ''}` : ''}.
        </p>
      )}
    </div>
  );
}

/** The first path segment of a folder's files: the folder the person picked. */
const folderOf = (files: readonly File[]) => files[0]?.webkitRelativePath.split('/')[0] ?? '';

export function LocalData({ local, miniClients, onPick }: { local: LocalDataUi; miniClients: number; onPick: (files: File[], source: string) => void }) {
  const busy = local.status === 'opening' || local.status === 'reading';
  const task = local.task;
  const accept = task?.input.kind === 'image' ? 'image/*,.csv' : task?.input.kind === 'tabular' ? '.csv,text/csv' : undefined;
  const picked = (input: HTMLInputElement, folder: boolean) => {
    const files = [...(input.files ?? [])];
    // Cleared, so picking the same files again (after fixing one) reads them again.
    input.value = '';
    const name = folder ? folderOf(files) : '';
    onPick(files, folder ? `the folder '${name}'` : `the ${files.length} file${files.length === 1 ? '' : 's'} picked`);
  };
  return (
    <section className="card local-data" data-testid="local-data">
      <h2>Use my own data</h2>
      <p className="privacy" data-testid="local-data-privacy">
        This run trains on examples you pick. They are read in this tab and kept in this browser (IndexedDB); they never leave this device. The coordinator
        receives only this tab's model update, masked by secure aggregation: it sees the sum over many clients.
      </p>
      {task && (
        <dl>
          <dt>Task</dt>
          <dd data-testid="local-data-task">{task.title}</dd>
          <dt>Examples</dt>
          <dd data-testid="local-data-expectation">{local.expectation}</dd>
          <dt>Classes</dt>
          <dd data-testid="local-data-classes">{task.classes.join(', ')}</dd>
        </dl>
      )}
      <div className="pickers">
        <label>
          <span>{local.summary ? 'Another folder' : 'A folder'}</span>
          <input
            type="file"
            multiple
            disabled={busy || !task}
            data-testid="local-data-folder"
            ref={(el) => {
              if (el) el.webkitdirectory = true;
            }}
            onChange={(e) => picked(e.currentTarget, true)}
          />
        </label>
        <label>
          <span>{local.summary ? 'Other files' : 'Or files'}</span>
          <input
            type="file"
            multiple
            disabled={busy || !task}
            data-testid="local-data-files"
            {...(accept ? { accept } : {})}
            onChange={(e) => picked(e.currentTarget, false)}
          />
        </label>
      </div>
      <p className="local-status" data-testid="local-data-status">
        {local.status === 'opening' && 'Looking for examples stored in this browser…'}
        {local.status === 'needed' && 'Waiting for your examples: this tab takes part in rounds once it has them.'}
        {local.status === 'reading' && `Reading your files${local.progress ? `: ${local.progress.done} of ${local.progress.total}` : '…'}`}
        {local.status === 'ready' && 'Your examples are stored in this browser; this tab trains on them.'}
      </p>
      {local.error && (
        <div className="notice error" data-testid="local-data-error">
          {local.error}
          {local.summary ? ' The examples stored before stay in use.' : ''}
        </div>
      )}
      {local.summary && <Preview local={local} miniClients={miniClients} />}
    </section>
  );
}
