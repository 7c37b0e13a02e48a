#!/usr/bin/env node
// Size budget of the embeddable bundle: prints the minified and gzip -9 size
// of dist/call-widget.js (it builds nothing: run `npm run build` first) and
// exits 1 when the gzip size is over the budget.
//
//   node scripts/size.mjs            # budget 16 KiB
//   node scripts/size.mjs 20480      # budget in bytes
//   node scripts/size.mjs 20KiB
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const FILE = 'dist/call-widget.js';
/** Gzip budget of dist/call-widget.js, bytes. */
const DEFAULT_BUDGET = 16 * 1024;

function parseBytes(text) {
  const match = /^(\d+(?:\.\d+)?)\s*(B|KiB|kB|KB)?$/i.exec(text.trim());
  if (!match) throw new Error(`budget must be bytes or KiB (16384, 16KiB), not ${JSON.stringify(text)}`);
  const unit = (match[2] ?? 'B').toLowerCase();
  return Math.round(Number(match[1]) * (unit === 'b' ? 1 : unit === 'kib' ? 1024 : 1000));
}

/** Gzip at level 9 with the system's `gzip -9 -n` (what the budget means); zlib's level 9 if it is missing. */
function gzipSize(buffer) {
  try {
    return {
      bytes: execFileSync('gzip', ['-9', '-n', '-c'], { input: buffer, maxBuffer: 1 << 28 }).length,
      tool: 'gzip -9',
    };
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    return { bytes: gzipSync(buffer, { level: 9 }).length, tool: 'zlib level 9' };
  }
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

let budget;
try {
  budget = process.argv[2] ? parseBytes(process.argv[2]) : DEFAULT_BUDGET;
} catch (error) {
  console.error(`size: ${error.message}`);
  process.exit(2);
}
if (!existsSync(FILE)) {
  console.error(`size: ${FILE} is missing: run \`npm run build\` first.`);
  process.exit(2);
}

const code = readFileSync(FILE);
const gzip = gzipSize(code);
console.log(`${FILE}: ${code.length} B minified, ${gzip.bytes} B (${kib(gzip.bytes)}) ${gzip.tool}`);
if (gzip.bytes > budget) {
  console.error(
    `size: ${FILE} is ${gzip.bytes} B gzipped, over its budget of ${budget} B (${kib(budget)}) by ${gzip.bytes - budget} B.`,
  );
  process.exit(1);
}
console.log(`within the budget of ${budget} B (${kib(budget)}), ${budget - gzip.bytes} B to spare`);
