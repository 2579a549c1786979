#!/usr/bin/env node
// `hushfl-node-client --url URL --clients N --mini-clients K`: Node FL clients that join a coordinator.
// Runs the TypeScript sources through tsx so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
