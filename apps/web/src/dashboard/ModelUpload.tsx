/**
 * A custom model for the run (issue 14 §4): a Keras model converted to a TensorFlow.js layers model.json
 * (tensorflowjs_converter, or tfjs.converters.save_keras_model), read here and sent as the run config's
 * `task.model = { kind: 'layers', topology }`, in place of the model the config names. Only the topology
 * travels: the weight shards (.bin) are not needed, a run starts from the model's initializers. The coordinator
 * checks the model against the task (layers, input shape, classes) when the run starts.
 */
import { useState } from 'react';
import type { ModelSpec } from '@hushfl/protocol';

export type LayersModelSpec = Extract<ModelSpec, { kind: 'layers' }>;

/** The parsed run config with the uploaded model as task.model; anything but an object (or nothing) is left for the coordinator to refuse. */
export function withUploadedModel(config: unknown, model: LayersModelSpec | null): unknown {
  if (!model) return config;
  if (config === null || config === undefined) return { task: { model } };
  if (typeof config !== 'object' || Array.isArray(config)) return config;
  const c = config as Record<string, unknown>;
  const task = typeof c.task === 'object' && c.task !== null ? c.task : {};
  return { ...c, task: { ...task, model } };
}

export function ModelUpload({ model, onChange }: { model: LayersModelSpec | null; onChange: (model: LayersModelSpec | null) => void }) {
  const [note, setNote] = useState<{ error: boolean; text: string } | null>(null);
  // A new input after "Remove", so picking the same file again is a change.
  const [inputKey, setInputKey] = useState(0);

  const read = async (file: File | undefined) => {
    if (!file) return;
    try {
      // Loaded on first use: @hushfl/tasks brings tfjs-layers, which the rest of the dashboard does without.
      const { parseModelJson, summarizeLayersTopology } = await import('@hushfl/tasks');
      const { topology } = parseModelJson(await file.text());
      const s = summarizeLayersTopology(topology);
      const io = s.inputShape ? ` ${s.inputShape.join('×')} → ${s.outputShape ? s.outputShape.join('×') : '?'},` : '';
      const params = s.params === null ? 'parameters not countable' : `${s.params.toLocaleString('en-US')} parameters`;
      setNote({ error: false, text: `${file.name}: ${s.layers.length} layers (${s.layers.map((l) => l.className).join(', ')}),${io} ${params}` });
      onChange({ kind: 'layers', topology });
    } catch (e) {
      setNote({ error: true, text: `${file.name}: ${e instanceof Error ? e.message : String(e)}` });
      onChange(null);
    }
  };

  return (
    <div data-testid="model-upload">
      <label>
        Model (model.json){' '}
        <input key={inputKey} type="file" accept=".json,application/json" onChange={(e) => void read(e.target.files?.[0])} data-testid="model-file" />
      </label>
      {model && (
        <button
          type="button"
          className="secondary"
          onClick={() => {
            onChange(null);
            setNote(null);
            setInputKey((k) => k + 1);
          }}
          data-testid="model-clear"
        >
          Remove
        </button>
      )}
      {note && (
        <p className={note.error ? 'notice error' : 'muted'} data-testid={note.error ? 'model-error' : 'model-summary'}>
          {note.text}
          {!note.error && ' — replaces task.model of the config'}
        </p>
      )}
    </div>
  );
}
