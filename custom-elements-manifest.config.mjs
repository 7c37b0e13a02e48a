// Configuration for `cem analyze`: the element's JSDoc is the API reference.
// ES private members (`#x`) are implementation, not API: leave them out; and
// keep only the events documented with @fires (the analyzer also guesses
// events from `dispatchEvent(new X(...))` calls, with the wrong names).
export default {
  globs: ['src/call-widget.ts'],
  litelement: true,
  // package.json's "customElements" is maintained by hand: without this the
  // analyzer rewrites it to whatever --outdir the staleness check uses.
  packagejson: false,
  plugins: [
    {
      name: 'drop-private-members',
      packageLinkPhase({ customElementsManifest }) {
        for (const mod of customElementsManifest.modules) {
          for (const declaration of mod.declarations ?? []) {
            if (declaration.members) {
              declaration.members = declaration.members.filter((m) => !m.name.startsWith('#'));
            }
            if (declaration.events) {
              declaration.events = declaration.events.filter((e) => e.name?.startsWith('call-'));
            }
          }
        }
      },
    },
  ],
};
