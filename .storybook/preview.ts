/// <reference types="vite/client" />
import { setCustomElementsManifest, type Preview } from '@storybook/web-components-vite';
// The element's API as `npm run analyze` (cem analyze) reads it from the JSDoc;
// `?raw` because the project's tsconfig does not resolve JSON modules.
import manifest from '../custom-elements.json?raw';

setCustomElementsManifest(JSON.parse(manifest));

const preview: Preview = {
  parameters: {
    controls: { expanded: true },
    // Stories reach their states in `play`; run it on the docs page too.
    docs: { story: { autoplay: true } },
  },
};

export default preview;
