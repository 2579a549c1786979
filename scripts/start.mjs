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
    'Usage: npm start [-- flags]\nBuilds the web app if needed, then runs hushfl start with these flags (--config defaults to examples/mnist-ddg.yaml):\n\n',
  );
  process.exit(spawnSync(process.execPath, [cli, 'start', '--help'], { stdio: 'inherit', cwd: root }).status ?? 1);
}
const build = spawnSync(process.execPath, [join(root, 'scripts', 'build-web.mjs')], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const args = process.argv.slice(2);
const hasConfig = args.includes('--config');
const r = spawnSync(process.execPath, [cli, 'start', ...(hasConfig ? [] : ['--config', join(root, 'examples', 'mnist-ddg.yaml')]), ...args], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(r.status ?? 1);
