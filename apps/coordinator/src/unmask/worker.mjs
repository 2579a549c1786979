// Worker-thread entry of the unmasking pool: registers tsx, then runs the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./maskWorker.ts');
