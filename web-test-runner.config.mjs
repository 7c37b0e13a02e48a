// @web/test-runner 1 (@web/config-loader 0.1) looks only for .mjs/.cjs/.js
// configs: this shim loads the TypeScript config through tsx, so `npx wtr`
// (`npm run test:browser`) uses web-test-runner.config.ts.
import { tsImport } from 'tsx/esm/api';

const { default: config } = await tsImport('./web-test-runner.config.ts', import.meta.url);
export default config;
