// Worker-thread entry of the ddp bench's isolated measurements: registers tsx, then runs the TypeScript one.
import { register } from 'tsx/esm/api';

register();
await import('./isolatedRun.ts');
