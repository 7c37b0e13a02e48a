/**
 * The lazy chunks when the script's origin is briefly unavailable: the error
 * view (src/failure.ts), the lobby (src/lobby.ts) or the Arabic catalog
 * (src/i18n/ar.ts, es.ts) answers 503 once. This file must not import any of them
 * itself: the widget's dynamic import would then find it already loaded.
 */
import { expect, fixture, html } from '@open-wc/testing';
import { executeServerCommand } from '@web/test-runner-commands';
import '../../src/call-widget.ts';
import { CHUNK_RETRY_MS, type CallErrorEvent } from '../../src/call-widget.ts';
import { en } from '../../src/i18n/messages.ts';
import { randomId } from '../../src/random-id.ts';
import { InMemoryRooms } from '../support/in-memory-room.ts';
import { sleep, until } from './helpers.ts';

const FAILURE_CHUNK = '/src/failure.ts';
const LOBBY_CHUNK = '/src/lobby.ts';
const ARABIC_CATALOG = '/src/i18n/ar.ts';
const SPANISH_CATALOG = '/src/i18n/es.ts';

afterEach(() => executeServerCommand('set-permission', { names: ['camera', 'microphone'], setting: 'granted' }));

it('a theme set as a property shows while the first render waits for a catalog (no flash of the other scheme)', async () => {
  // The Spanish catalog is not loaded yet, so the first render waits for its
  // fetch (answered 503, so that it stays unloaded for the test below).
  await executeServerCommand('fail-next-fetch', { path: SPANISH_CATALOG });
  const el = document.createElement('call-widget');
  el.createSocket = new InMemoryRooms().socketFactory;
  el.room = `wtr_${randomId(12)}`;
  el.setAttribute('lang', 'es');
  el.theme = 'dark';
  document.body.append(el);
  try {
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(el.hasUpdated, 'still waiting for the catalog').to.equal(false);
    expect(el.getAttribute('theme')).to.equal('dark');
    await until(() => el.hasUpdated, 'the first render');
    expect(el.getAttribute('theme')).to.equal('dark');
  } finally {
    el.remove();
  }
});

it('the error view’s chunk unavailable once: the failure is still reported and retry works, and the view shows once the chunk loads', async () => {
  await executeServerCommand('fail-next-fetch', { path: FAILURE_CHUNK });
  const fetchesBefore = await executeServerCommand<number, { path: string }>('fetch-count', { path: FAILURE_CHUNK });
  const el = document.createElement('call-widget');
  el.skipLobby = true;
  el.createSocket = new InMemoryRooms().socketFactory;
  el.room = `wtr_${randomId(12)}`;
  el.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
  const errors: CallErrorEvent[] = [];
  el.addEventListener('call-error', (e) => errors.push(e));
  await fixture(html`<div>${el}</div>`);
  const alert = (): Element | null => el.shadowRoot!.querySelector('[role="alert"]');
  const joinButton = (): HTMLButtonElement => el.shadowRoot!.querySelector('[part~="join-button"]')!;

  joinButton().click();
  await until(() => el.state === 'failed', 'the call fails');
  // The chunk is asked for on the failure's render, and answered 503; the
  // renders meanwhile (a call's timer renders every second) do not ask again
  // before the wait is over.
  for (let i = 0; i < 5; i++) {
    await sleep(CHUNK_RETRY_MS / 10);
    el.requestUpdate();
  }
  expect(await executeServerCommand('fetch-count', { path: FAILURE_CHUNK })).to.equal(fetchesBefore + 1);
  // Without its view the failure is still whole: the event, the error, the
  // state in the badge, and the retry button, which works.
  expect(errors.map((e) => e.code)).to.deep.equal(['permission-denied']);
  expect(el.error?.code).to.equal('permission-denied');
  expect(el.shadowRoot!.querySelector('[part~="status-badge"]')!.textContent!.trim()).to.equal(en['state-failed']);
  expect(joinButton().textContent!.trim()).to.equal(en.retry);
  expect(alert()?.outerHTML ?? null, 'no view yet: its chunk did not load').to.equal(null);

  // Asked for again after CHUNK_RETRY_MS: now it loads, and the view shows.
  await until(() => !!alert()?.textContent?.trim(), 'the error view after the retry', { timeoutMs: CHUNK_RETRY_MS * 4 });
  expect(alert()!.textContent).to.match(/denied/);
  expect(el.shadowRoot!.querySelector('[part~="dismiss-button"]')).to.not.equal(null);
  expect(await executeServerCommand('fetch-count', { path: FAILURE_CHUNK })).to.equal(fetchesBefore + 2);

  joinButton().click();
  await until(() => errors.length === 2, 'the retry runs and fails again');
  expect(el.state).to.equal('failed');
});

it('a refused permission, and the error chunk unavailable once: allowing it in the browser’s settings still joins by itself', async () => {
  const setPermission = (setting: 'granted' | 'denied') =>
    executeServerCommand('set-permission', { names: ['camera', 'microphone'], setting });
  await setPermission('denied');
  await executeServerCommand('fail-next-fetch', { path: FAILURE_CHUNK });
  const el = document.createElement('call-widget');
  el.skipLobby = true;
  el.createSocket = new InMemoryRooms().socketFactory;
  el.room = `wtr_${randomId(12)}`;
  // The browser's permission rule in front of its getUserMedia (this Chromium
  // runs with --use-fake-ui-for-media-stream, which grants every request).
  el.getUserMedia = async (constraints) => {
    for (const name of ['camera', 'microphone'] as PermissionName[]) {
      if ((await navigator.permissions.query({ name })).state === 'denied') {
        throw new DOMException('Permission denied', 'NotAllowedError');
      }
    }
    return navigator.mediaDevices.getUserMedia(constraints);
  };
  await fixture(html`<div>${el}</div>`);
  el.shadowRoot!.querySelector<HTMLButtonElement>('[part~="join-button"]')!.click();
  await until(() => el.state === 'failed', 'the call fails');
  // The view (and with it the watch) comes with the chunk's second try.
  await until(() => !!el.shadowRoot!.querySelector('[role="alert"]'), 'the error view after the retry', {
    timeoutMs: CHUNK_RETRY_MS * 4,
  });
  await setPermission('granted');
  await until(() => el.state === 'waiting', `joins by itself once allowed (is ${el.state})`);
  el.localStream!.getTracks().forEach((t) => t.stop());
  el.remove();
});

it('the lobby’s chunk unavailable once: the lobby still offers the preview and Join, and its form shows once the chunk loads', async () => {
  await executeServerCommand('fail-next-fetch', { path: LOBBY_CHUNK });
  const fetchesBefore = await executeServerCommand<number, { path: string }>('fetch-count', { path: LOBBY_CHUNK });
  const el = document.createElement('call-widget');
  el.createSocket = new InMemoryRooms().socketFactory;
  el.room = `wtr_${randomId(12)}`;
  await fixture(html`<div>${el}</div>`);
  const part = (name: string): Element | null => el.shadowRoot!.querySelector(`[part~="${name}"]`);

  // The chunk is asked for as the lobby opens, and answered 503; renders
  // during the wait (the next try is CHUNK_RETRY_MS after that) do not ask.
  const opened = performance.now();
  (part('join-button') as HTMLButtonElement).click();
  await until(() => !!el.localStream, 'the preview’s camera and microphone');
  while (performance.now() - opened < CHUNK_RETRY_MS / 2) {
    await sleep(CHUNK_RETRY_MS / 10);
    el.requestUpdate();
  }
  expect(await executeServerCommand('fetch-count', { path: LOBBY_CHUNK })).to.equal(fetchesBefore + 1);
  expect(part('lobby')?.outerHTML ?? null, 'no form yet: its chunk did not load').to.equal(null);
  expect(el.state).to.equal('lobby');
  expect(part('local-video')!.closest('[hidden]')?.outerHTML ?? null, 'the preview shows').to.equal(null);
  expect(part('join-button')!.textContent!.trim()).to.equal(en.joinNow);

  // Asked for again after CHUNK_RETRY_MS: the form and its device lists show.
  await until(() => !!part('camera-select'), 'the lobby’s form after the retry', { timeoutMs: CHUNK_RETRY_MS * 4 });
  expect(part('lobby')).to.not.equal(null);
  expect(await executeServerCommand('fetch-count', { path: LOBBY_CHUNK })).to.equal(fetchesBefore + 2);

  (part('join-button') as HTMLButtonElement).click();
  await until(() => el.state === 'waiting', 'joins from the lobby');
  el.remove();
  expect(el.localStream, 'tracks released with the widget').to.equal(null);
});

/**
 * A widget speaking `lang` whose catalog (`path`) answers 503 once, not yet
 * in the page; `fetches()` counts the page's requests for the catalog.
 */
async function widgetWithCatalogOut(lang: string, path: string) {
  await executeServerCommand('fail-next-fetch', { path });
  const fetches = () => executeServerCommand<number, { path: string }>('fetch-count', { path });
  const fetchesBefore = await fetches();
  const el = document.createElement('call-widget');
  el.createSocket = new InMemoryRooms().socketFactory;
  el.room = `wtr_${randomId(12)}`;
  el.setAttribute('lang', lang);
  const joinText = (): string | undefined => el.shadowRoot!.querySelector('[part~="join-button"]')?.textContent?.trim();
  return { el, fetches, fetchesBefore, joinText };
}

it('a language’s catalog unavailable once: English meanwhile (already right to left), the language after the next try', async () => {
  const { el, fetches, fetchesBefore, joinText } = await widgetWithCatalogOut('ar', ARABIC_CATALOG);
  await fixture(html`<div>${el}</div>`);

  await until(() => joinText() === en.join, 'English while the catalog is out');
  expect(el.shadowRoot!.querySelector('[part~="base"]')!.getAttribute('dir')).to.equal('rtl');
  expect(await fetches()).to.equal(fetchesBefore + 1);

  await until(() => /[\u0600-\u06ff]/.test(joinText() ?? ''), 'Arabic after the retry', { timeoutMs: CHUNK_RETRY_MS * 4 });
  expect(await fetches()).to.equal(fetchesBefore + 2);
  el.remove();
});

it('a language’s catalog unavailable, and the widget taken out of the page meanwhile: put back, it asks again', async () => {
  const { el, fetches, fetchesBefore, joinText } = await widgetWithCatalogOut('es', SPANISH_CATALOG);
  const page = await fixture<HTMLElement>(html`<div></div>`);
  page.append(el);
  await until(() => joinText() === en.join, 'English while the catalog is out');
  el.remove();
  await sleep(CHUNK_RETRY_MS * 1.5);
  expect(await fetches(), 'no tries while out of the page').to.equal(fetchesBefore + 1);

  page.append(el);
  await until(() => joinText() !== en.join, 'Spanish once back in the page');
  expect(await fetches()).to.equal(fetchesBefore + 2);
  el.remove();
});
