import { minifyHTMLLiterals } from 'minify-literals';
import { defineConfig, type Plugin, type UserConfig } from 'vite';

/** Where `npm start` runs `partykit dev`; the dev page proxies the room socket to it. */
const partyTarget = `http://127.0.0.1:${process.env.PARTY_PORT ?? '1999'}`;

/** Runtime dependencies: bundled into `dist/call-widget.js`, left as imports in the npm entry. */
const DEPENDENCIES = /^(lit|partysocket|valibot)(\/|$)/;

/**
 * `vite build --mode npm`: the npm entry in `dist/npm/`, one readable ES module
 * per source file, with `lit`, `lit/*`, `partysocket` and `valibot` left as
 * imports for the consumer's bundler to resolve and deduplicate. Declarations
 * come from `tsc -p tsconfig.build.json` into the same folder.
 */
const npmEntry: UserConfig = {
  build: {
    target: 'es2022',
    outDir: 'dist/npm',
    emptyOutDir: true,
    copyPublicDir: false,
    lib: { entry: 'src/call-widget.ts', formats: ['es'] },
    minify: false,
    sourcemap: true,
    rolldownOptions: {
      external: (id) => DEPENDENCIES.test(id),
      output: {
        preserveModules: true,
        preserveModulesRoot: 'src',
        entryFileNames: '[name].js',
      },
    },
  },
};

/**
 * Minifies the markup of Lit's `html` and `css` tagged templates in our own
 * sources (minify-literals: html-minifier-next and Lightning CSS), which the
 * JavaScript minifier leaves as written. Build only: dev keeps them readable.
 */
function minifyTemplates(): Plugin {
  return {
    name: 'call-widget:minify-templates',
    apply: 'build',
    async transform(code, id) {
      if (!/\/src\/[^?]*\.ts$/.test(id) || !/\b(html|css)`/.test(code)) return null;
      return (await minifyHTMLLiterals(code, { fileName: id })) ?? null;
    },
  };
}

/**
 * A last pass of terser (3 compress passes) over each chunk, after Rolldown's
 * own minifier: measured 263 B less gzip on dist/call-widget.js (22,915 vs
 * 23,178 B). It runs in `generateBundle` because Rolldown minifies after
 * `renderChunk` (terser there gave 25.9 KiB). So file names hash Rolldown's
 * output, not these bytes: the pass is deterministic for the terser version
 * the lockfile pins, but a terser upgrade changes a chunk under the same name
 * (a deploy that caches chunks as immutable should clear them on upgrades).
 * The `.map` asset is replaced by terser's map composed with Rolldown's.
 *
 * It also drops partysocket's debug-log calls (`this._debug("connect", …)`,
 * 18 of them with their messages): they log only with its `debug` option,
 * which the widget never sets (src/controllers/signaling-controller.ts), so
 * dropping them changes nothing at run time; measured 161 B less gzip
 * (22,339 vs 22,500 B). Should partysocket rename the method, the name
 * matches nothing and the calls simply stay.
 */
function terserPasses(): Plugin {
  return {
    name: 'call-widget:terser',
    apply: 'build',
    async generateBundle(_options, bundle) {
      const { minify } = await import('terser');
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk') continue;
        const map = bundle[`${chunk.fileName}.map`];
        const result = await minify(chunk.code, {
          ecma: 2020,
          module: true,
          compress: { passes: 3, pure_funcs: ['this._debug'] },
          sourceMap: chunk.map
            ? {
                content: JSON.stringify(chunk.map),
                url: `${chunk.fileName.split('/').pop()}.map`,
                includeSources: true,
              }
            : false,
        });
        chunk.code = result.code!;
        if (map?.type === 'asset' && typeof result.map === 'string') map.source = result.map;
      }
    },
  };
}

/**
 * `vite build` (default): the self-contained `dist/call-widget.js` for
 * `<script type="module">`. Vite's library mode leaves whitespace and
 * `@__PURE__` annotations in ES output (for a consumer's bundler to
 * tree-shake); nothing re-bundles this file, so it is minified fully.
 */
const bundle: UserConfig = {
  plugins: [minifyTemplates(), terserPasses()],
  server: {
    host: true,
    proxy: {
      '/parties': { target: partyTarget, ws: true },
    },
  },
  optimizeDeps: {
    include: ['lit', 'partysocket/ws'],
  },
  build: {
    target: 'es2022',
    outDir: 'dist',
    // Runs first (npm run build, scripts/test.sh): starts dist/ afresh, so no
    // stale chunk survives; the npm build then writes dist/npm/.
    emptyOutDir: true,
    lib: {
      entry: 'src/call-widget.ts',
      formats: ['es'],
      fileName: () => 'call-widget.js',
    },
    minify: true,
    sourcemap: true,
    rolldownOptions: {
      // Lit, used by the lobby chunk too, stays in the entry (which the lobby
      // chunk then imports it from) instead of going to a third, shared chunk
      // every page would load: the entry may export more than its own API.
      preserveEntrySignatures: 'allow-extension',
      // Lazy chunks (the lobby, the catalogs of other languages) load from next to the script.
      output: { minify: true, comments: { annotation: false }, chunkFileNames: 'call-widget-[name]-[hash].js' },
    },
  },
};

export default defineConfig(({ mode }) => (mode === 'npm' ? npmEntry : bundle));
