/**
 * Every story of the built Storybook (`storybook-static/`, which `npm test`
 * builds just before these tests) runs in Chromium with no camera and no room
 * server: the element is defined, the story's `play` function finishes (its
 * own assertions pass: each drives a widget to the state it is named after),
 * and nothing throws.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { ROOT, launchChromium, newContext, startStatic, type StaticServer } from '../support/harness.ts';

const STATIC = join(ROOT, 'storybook-static');

/** How long one story may take to play, ms (a two-widget call set-up takes about 1 s). */
const STORY_TIMEOUT_MS = 30_000;

interface IndexEntry {
  id: string;
  type: 'story' | 'docs';
  name: string;
}

describe('Storybook: every story plays without camera or server', () => {
  let browser: Browser;
  let site: StaticServer;
  let stories: IndexEntry[] = [];

  before(async () => {
    if (!existsSync(join(STATIC, 'index.json'))) {
      throw new Error('storybook-static/ is missing: run `npm run build-storybook` first (npm test does).');
    }
    const index = JSON.parse(readFileSync(join(STATIC, 'index.json'), 'utf8')) as { entries: Record<string, IndexEntry> };
    stories = Object.values(index.entries).filter((entry) => entry.type === 'story');
    site = await startStatic();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await site?.stop();
  });

  test('the index lists a story for every visible state', () => {
    const names = new Set(stories.map((s) => s.id.replace(/^call-widget--/, '')));
    for (const required of [
      'idle',
      'joining',
      'waiting',
      'connecting',
      'connected',
      'reconnecting',
      'ended',
      'knocking',
      'failed-permission-denied',
      'failed-device-not-found',
      'failed-device-in-use',
      'failed-constraints-unsatisfied',
      'failed-permission-policy-blocked',
      'failed-insecure-context',
      'failed-unsupported-browser',
      'failed-room-unavailable',
      'room-full',
      'themed-dark',
      'themed-light',
      'right-to-left-arabic',
      'ringing',
      'incoming',
      'accepted',
      'declined',
      'missed',
      'busy',
      'lobby',
      'devices',
    ]) {
      assert.ok(names.has(required), `no story ${required} (have: ${[...names].join(', ')})`);
    }
  });

  test('each story renders a defined <call-widget> and its play function finishes', { timeout: 600_000 }, async () => {
    const context = await newContext(browser);
    try {
      for (const story of stories) {
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(`${site.origin}/storybook-static/iframe.html?id=${story.id}&viewMode=story`);
        const phase = await page
          .waitForFunction(
            () => {
              const render = (window as { __STORYBOOK_PREVIEW__?: { currentRender?: { phase?: string } } })
                .__STORYBOOK_PREVIEW__?.currentRender;
              const done = ['finished', 'errored', 'aborted'];
              return render?.phase && done.includes(render.phase) ? render.phase : false;
            },
            undefined,
            { timeout: STORY_TIMEOUT_MS },
          )
          .then((handle) => handle.jsonValue());
        const widgets = await page.evaluate(() => ({
          defined: customElements.get('call-widget') !== undefined,
          states: [...document.querySelectorAll('call-widget')].map((w) => w.getAttribute('state')),
        }));
        assert.equal(phase, 'finished', `${story.id}: play ended ${String(phase)}; page errors: ${errors.join(' | ')}`);
        assert.ok(widgets.defined, `${story.id}: <call-widget> is not defined`);
        assert.ok(widgets.states.length > 0 && widgets.states.every(Boolean), `${story.id}: ${JSON.stringify(widgets.states)}`);
        assert.deepEqual(errors, [], `${story.id}: page errors`);
        await page.close();
      }
    } finally {
      await context.close();
    }
  });
});
