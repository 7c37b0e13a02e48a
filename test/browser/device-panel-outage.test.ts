/**
 * The call's device panel when its chunk (src/lobby.ts) is briefly
 * unavailable. A file of its own: once a page has loaded the chunk, no later
 * test in it can see the chunk fail (test/browser/chunk-outage.test.ts takes
 * the pre-join lobby's first load). It must not import src/lobby.ts itself.
 */
import { expect, fixture, html } from '@open-wc/testing';
import { executeServerCommand } from '@web/test-runner-commands';
import '../../src/call-widget.ts';
import { randomId } from '../../src/random-id.ts';
import { InMemoryRooms } from '../support/in-memory-room.ts';
import { until } from './helpers.ts';

const LOBBY_CHUNK = '/src/lobby.ts';

it('the device panel’s chunk unavailable once: the panel closes again (its button says so), and pressing Devices again loads it at once', async () => {
  const el = document.createElement('call-widget');
  el.skipLobby = true;
  el.createSocket = new InMemoryRooms().socketFactory;
  el.room = `wtr_${randomId(12)}`;
  await fixture(html`<div>${el}</div>`);
  const part = (name: string): HTMLElement | null => el.shadowRoot!.querySelector(`[part~="${name}"]`);
  const fetches = () => executeServerCommand<number, { path: string }>('fetch-count', { path: LOBBY_CHUNK });
  part('join-button')!.click();
  await until(() => el.state === 'waiting', 'in the call');

  await executeServerCommand('fail-next-fetch', { path: LOBBY_CHUNK });
  const before = await fetches();
  const toggle = part('devices-button')!;
  toggle.focus();
  toggle.click();
  await el.updateComplete;
  expect(toggle.getAttribute('aria-expanded'), 'open while its chunk is on its way').to.equal('true');
  await until(() => toggle.getAttribute('aria-expanded') === 'false', 'the panel closes when its chunk does not load');
  expect(await fetches()).to.equal(before + 1);
  expect(part('devices')?.outerHTML ?? null).to.equal(null);
  expect(toggle.hasAttribute('aria-controls')).to.equal(false);
  expect(el.shadowRoot!.activeElement, 'focus stays on the button').to.equal(toggle);

  // Pressed again at once, within the wait before an automatic retry
  // (CHUNK_RETRY_MS): the press itself asks for the chunk (a panel waiting
  // for the retry would close again at once, and stay closed).
  toggle.click();
  await until(() => !!part('camera-select'), 'the panel and its selectors after the second press');
  expect(await fetches()).to.equal(before + 2);
  expect(toggle.getAttribute('aria-expanded')).to.equal('true');
  expect(toggle.getAttribute('aria-controls')).to.equal(part('devices')!.id);
  expect(el.shadowRoot!.activeElement, 'focus moves into the panel').to.equal(part('devices'));

  el.hangup();
  el.remove();
});
