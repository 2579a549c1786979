/** A Trainer whose work happens in the training Worker, reached over a MessagePort. */
import type { Trainer, TrainOutput, TrainRequest, TrainProgress } from '@hushfl/client';
import type { TrainCall, TrainReply } from './messages.ts';

export class RemoteTrainer implements Trainer {
  private nextId = 1;
  private readonly calls = new Map<number, { resolve: (o: TrainOutput) => void; reject: (e: Error) => void; onProgress?: (p: TrainProgress) => void }>();

  constructor(
    private readonly port: MessagePort,
    readonly miniClients: number,
    /** Updated from each reply: the training Worker may have fallen back to another backend. */
    public backend: string,
  ) {
    port.onmessage = (e: MessageEvent<TrainReply>) => {
      const r = e.data;
      const call = this.calls.get(r.id);
      if (!call) return;
      if (r.type === 'progress') call.onProgress?.(r.progress);
      else {
        this.calls.delete(r.id);
        if (r.type === 'done') {
          this.backend = r.backend;
          call.resolve(r.output);
        } else call.reject(new Error(r.message));
      }
    };
  }

  train(req: TrainRequest, onProgress?: (p: TrainProgress) => void): Promise<TrainOutput> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject, ...(onProgress ? { onProgress } : {}) });
      this.port.postMessage({ type: 'train', id, req } satisfies TrainCall);
    });
  }

  dispose(): void {
    this.port.close();
  }
}
