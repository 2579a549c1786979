// Worker-thread entry of the sampler bench: registers tsx, then runs the TypeScript measurement.
import { register } from 'tsx/esm/api';

register();
await import('./samplerRun.ts');
