import type { StorybookConfig } from '@storybook/web-components-vite';

/**
 * Storybook for `<call-widget>`. The builder reuses the project's
 * vite.config.ts (its `build` section is ignored by Storybook). The machines
 * this runs on reach no outside host, so nothing here phones home.
 */
const config: StorybookConfig = {
  framework: '@storybook/web-components-vite',
  stories: ['../stories/**/*.stories.ts'],
  addons: ['@storybook/addon-a11y', '@storybook/addon-docs'],
  // The story iframe names no icon, so browsers ask for /favicon.ico and log a 404.
  previewHead: (head) => `${head}<link rel="icon" type="image/svg+xml" href="./favicon.svg" />`,
  core: {
    disableTelemetry: true,
    disableWhatsNewNotifications: true,
  },
};

export default config;
