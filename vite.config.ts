import { defineConfig } from 'vite';

/** Where `npm start` runs `partykit dev`; the dev page proxies the room socket to it. */
const partyTarget = `http://127.0.0.1:${process.env.PARTY_PORT ?? '1999'}`;

export default defineConfig({
  server: {
    host: true,
    proxy: {
      '/parties': { target: partyTarget, ws: true },
    },
  },
  optimizeDeps: {
    include: ['lit', 'lit/directives/repeat.js', 'partysocket', 'valibot'],
  },
  build: {
    target: 'es2022',
    outDir: 'dist',
    lib: {
      entry: 'src/call-widget.ts',
      formats: ['es'],
      fileName: () => 'call-widget.js',
    },
    minify: true,
    sourcemap: true,
  },
});
