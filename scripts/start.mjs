#!/usr/bin/env node
// `npm start`: build the web app if needed, then start the coordinator with the example MNIST + DDG run.
// Extra arguments go to `hushfl start` (e.g. npm start -- --port 9000).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'apps', 'cli', 'bin', 'hushfl.mjs');
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  // Before the build and the server: the flags are those of `hushfl start`.
  process.stdout.write(
    'Usage: npm start [-- flags]\nBuilds the web app if needed, then runs hushfl start with these flags (--demo-devices defaults to 200 simulated devices\nand --config to examples/mnist-demo.yaml, or examples/mnist-ddg.yaml with --demo-devices 0):\n\n',
  );
  process.exit(spawnSync(process.execPath, [cli, 'start', '--help'], { stdio: 'inherit', cwd: root }).status ?? 1);
}
const build = spawnSync(process.execPath, [join(root, 'scripts', 'build-web.mjs')], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const args = process.argv.slice(2);
const hasConfig = args.includes('--config');
// A population of simulated devices beside the coordinator (issue 16 §2), unless the flag says otherwise; the
// example run is sized for them (examples/mnist-demo.yaml), or for ten clients of your own without them.
const devicesAt = args.findIndex((a) => a === '--demo-devices' || a.startsWith('--demo-devices='));
const devices = devicesAt < 0 ? 200 : Number(args[devicesAt].includes('=') ? args[devicesAt].split('=')[1] : args[devicesAt + 1]);
const example = devices > 0 ? 'mnist-demo.yaml' : 'mnist-ddg.yaml';
const defaults = [...(hasConfig ? [] : ['--config', join(root, 'examples', example)]), ...(devicesAt < 0 ? ['--demo-devices', '200'] : [])];
const r = spawnSync(process.execPath, [cli, 'start', ...defaults, ...args], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(r.status ?? 1);
