#!/usr/bin/env node
// Fails when the committed custom-elements.json differs from what the
// analyzer generates from the element's JSDoc now (the API reference is
// written once, in src/call-widget.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

// The analyzer resolves --outdir against the working directory.
const out = relative(process.cwd(), mkdtempSync('.cem-check-'));
try {
  execFileSync('npx', ['cem', 'analyze', '--outdir', out, '--quiet'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const fresh = readFileSync(join(out, 'custom-elements.json'), 'utf8');
  let committed = '';
  try {
    committed = readFileSync('custom-elements.json', 'utf8');
  } catch {
    // missing: stale by definition
  }
  if (fresh !== committed) {
    console.error('custom-elements.json is stale: run `npm run analyze` and commit it.');
    process.exit(1);
  }
  console.log('custom-elements.json is up to date');
  // The README's reference is rendered from it.
  execFileSync('node', ['scripts/api-reference.mjs', '--check'], { stdio: 'inherit' });
} finally {
  rmSync(out, { recursive: true, force: true });
}
