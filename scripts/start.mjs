#!/usr/bin/env node
// `npm start`: the room server (partykit dev) and the demo page (Vite), which
// proxies /parties to the room server so one URL serves both.
import { spawn } from 'node:child_process';

const partyPort = process.env.PARTY_PORT ?? '1999';
const pagePort = process.env.PORT ?? '5173';
const env = { ...process.env, PARTY_PORT: partyPort };
const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;

const children = [
  spawn(bin('partykit'), ['dev', '--port', partyPort, '--disable-request-cf-fetch', '--no-hotkeys'], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  }),
  spawn(bin('vite'), ['--port', pagePort, '--strictPort'], { env, stdio: ['ignore', 'inherit', 'inherit'] }),
];

console.log(`\n  Open http://localhost:${pagePort}/ in two tabs and press "Join call" in both.\n`);

const stop = (code = 0) => {
  for (const child of children) child.kill('SIGTERM');
  process.exit(code);
};
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
for (const child of children) child.on('exit', (code) => stop(code ?? 1));
