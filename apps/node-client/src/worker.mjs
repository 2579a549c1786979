// Worker-thread entry of the client pool: registers tsx, then runs the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./clientWorker.ts');
