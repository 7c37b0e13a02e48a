/**
 * The npm entry (`npm run build` → `dist/npm/`), as a consumer gets it: the
 * package's `exports` resolve, and importing the entry in plain Node (no DOM,
 * no loader; what server-side rendering does) does not throw. Runs after the
 * build, with the end-to-end tests.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../support/harness.ts';

const run = promisify(execFile);

interface PackageJson {
  name: string;
  types: string;
  sideEffects: string[];
  files: string[];
  customElements: string;
  dependencies: Record<string, string>;
  exports: Record<string, string | { types?: string; node?: string; default: string }>;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

before(() => {
  if (!existsSync(join(ROOT, 'dist/npm/call-widget.js'))) {
    throw new Error('dist/npm/ is missing: run `npm run build` first (npm test does).');
  }
});

/** Run `code` as an ES module in a plain `node` (without tsx) from the repository root. */
async function plainNode(code: string): Promise<string> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const { stdout } = await run(process.execPath, ['--input-type=module', '--eval', code], { cwd: ROOT, env });
  return stdout;
}

test('every file the exports map names was built', () => {
  const entry = pkg.exports['.'];
  assert.ok(typeof entry === 'object', 'exports["."] has conditions');
  const targets = [pkg.types, ...Object.values(pkg.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)))];
  for (const target of targets) {
    assert.ok(existsSync(join(ROOT, target)), `${target} is missing: run \`npm run build\``);
  }
  assert.equal(pkg.types, entry.types);
  assert.equal(pkg.customElements, 'custom-elements.json');
  // The npm entry leaves the runtime dependencies to the consumer's bundler.
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), ['lit', 'partysocket', 'valibot']);
  assert.match(readFileSync(join(ROOT, entry.default), 'utf8'), /^import .* from "lit";$/m);
  assert.match(
    readFileSync(join(ROOT, 'dist/npm/controllers/signaling-controller.js'), 'utf8'),
    /^import .* from "partysocket\/ws";$/m,
  );
  assert.match(readFileSync(join(ROOT, 'dist/npm/protocol.js'), 'utf8'), /^import .* from "valibot";$/m);
  // The script's lazy chunks (other languages, the lobby, the knock list,
  // the error view) sit next to it and ship in the package.
  const script = readFileSync(join(ROOT, 'dist/call-widget.js'), 'utf8');
  const chunks = [...new Set([...script.matchAll(/import\((["'`])\.\/([^"'`]+)\1\)/g)].map((m) => `dist/${m[2]}`))];
  for (const name of ['ar', 'es', 'lobby', 'knocks', 'failure']) {
    assert.ok(
      chunks.some((chunk) => chunk.startsWith(`dist/call-widget-${name}-`)),
      `expected the ${name} chunk among ${chunks.join(', ')}`,
    );
  }
  for (const chunk of chunks) {
    assert.ok(existsSync(join(ROOT, chunk)), `${chunk} is missing`);
    // No chunk imports anything (src/chunk.ts): an import of the entry by its
    // bare URL would load it twice for a page that versions the script URL.
    assert.doesNotMatch(readFileSync(join(ROOT, chunk), 'utf8'), /\bimport\s*[{("'`*]|\bfrom\s*["'`]/, `${chunk} imports`);
    assert.ok(
      pkg.files.some((pattern: string) => new RegExp(`^${pattern.replaceAll('.', '\\.').replaceAll('*', '[^/]*')}$`).test(chunk)),
      `${chunk} is not in package.json "files"`,
    );
  }
  // Only the modules that define the element have side effects.
  // (and the source entry, which Storybook's build of the stories imports for its side effect).
  assert.deepEqual(pkg.sideEffects.sort(), ['./dist/call-widget.js', entry.default, './src/call-widget.ts'].sort());
});

test('importing the npm entry in plain Node does not throw and exports CallWidget', { timeout: 20_000 }, async () => {
  const out = await plainNode(`
    const entry = await import(${JSON.stringify(pkg.name)});
    // A second instance of the module (a new URL) must not try to define the element again.
    const again = await import(${JSON.stringify(`${pathToFileURL(join(ROOT, 'dist/npm/call-widget.js')).href}?again`)});
    const manifest = await import(${JSON.stringify(`${pkg.name}/custom-elements.json`)}, { with: { type: 'json' } });
    // The script's export, under Node (server-side rendering): the npm entry, not the browser bundle.
    const script = await import(${JSON.stringify(`${pkg.name}/call-widget.js`)});
    console.log(JSON.stringify({
      callWidget: typeof entry.CallWidget,
      exports: Object.keys(entry).sort(),
      defined: customElements.get('call-widget') === entry.CallWidget,
      secondCopy: again.CallWidget !== entry.CallWidget && customElements.get('call-widget') === entry.CallWidget,
      script: script.CallWidget === entry.CallWidget,
      window: typeof window,
      document: typeof document,
      manifestTag: manifest.default.modules.flatMap((m) => m.declarations ?? []).find((d) => d.customElement)?.tagName,
    }));
  `);
  const result = JSON.parse(out) as Record<string, unknown>;
  assert.equal(result.callWidget, 'function');
  assert.ok((result.exports as string[]).includes('CallWidget'));
  assert.ok((result.exports as string[]).includes('CallStateChangeEvent'));
  assert.equal(result.defined, true, 'the element is registered (in Lit’s server-side registry)');
  assert.equal(result.secondCopy, true, 'loading the module twice is harmless');
  assert.equal(result.script, true, '"call-widget/call-widget.js" under Node is the npm entry (the bundle extends HTMLElement at load)');
  // Importing touched neither `window` nor `document` (it would have thrown); nor did it create them.
  assert.equal(result.window, 'undefined');
  assert.equal(result.document, 'undefined');
  assert.equal(result.manifestTag, 'call-widget');
});
