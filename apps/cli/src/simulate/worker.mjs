// Worker-thread entry for `hushfl simulate`: registers tsx, then runs the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./clientWorker.ts');
