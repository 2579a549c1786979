#!/usr/bin/env node
// The `hushfl` command. Runs the TypeScript sources through tsx so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
