/** Evaluation of a released global model on the task's held-out split (TensorFlow.js, WASM in Node). */
import type { RunEvent } from '@hushfl/engine';
import type { RunConfig } from '@hushfl/protocol';
import { buildModel, type Dataset, evaluate, findTask, getFlatWeights, setFlatWeights, taskShape } from '@hushfl/tasks';

export class ModelEvaluator {
  private model: ReturnType<typeof buildModel> | null;

  constructor(
    task: RunConfig['task'],
    private readonly test: Dataset,
  ) {
    this.model = buildModel(task.model, taskShape(findTask(task.name)));
  }

  /** The weights of the model as built: a new run's initial global model. */
  weights(): Promise<Float32Array> {
    if (!this.model) throw new Error('the evaluator was disposed');
    return getFlatWeights(this.model);
  }

  async evaluate(weights: Float32Array): Promise<{ loss: number; accuracy: number }> {
    if (!this.model) throw new Error('the evaluator was disposed');
    setFlatWeights(this.model, weights);
    return evaluate(this.model, this.test);
  }

  /** The engine's `evaluated` event for a released round: its accuracy and loss, or the error. */
  evaluated(round: number, weights: Float32Array): Promise<Extract<RunEvent, { type: 'evaluated' }>> {
    return this.evaluate(weights).then(
      (r) => ({ type: 'evaluated', round, accuracy: r.accuracy, loss: r.loss }),
      (e: Error) => ({ type: 'evaluated', round, accuracy: null, loss: null, error: e.message }),
    );
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}
