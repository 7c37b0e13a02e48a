/**
 * A widget in a page whose script joins before the page's load event (a
 * receive-only `join()`, from no click): the call must not hold that event
 * back. A media element given a track that never gets data (an empty
 * preview stream; the video of a peer whose camera is off from the start)
 * stays at HAVE_NOTHING and delays its document's load event for good
 * (Chromium). The page is an iframe; Bob's widget is in the test page.
 */
import { expect } from '@open-wc/testing';
import '../../src/call-widget.ts';
import { canvasGetUserMedia } from '../support/canvas-media.ts';
import { InMemoryRooms } from '../support/in-memory-room.ts';
import { until } from './helpers.ts';

/** What the iframe reads from its parent. */
interface Shared {
  rooms: InMemoryRooms;
  room: string;
}

/**
 * Bob joins (`bobJoin`); then a page joins receive-only as Alice from its
 * script while something of its own (a media element with an empty stream)
 * holds its load event back, released once Alice is connected. Does the
 * page's load event come then?
 */
async function pageLoads(bobJoin: { audio?: boolean; video?: boolean }): Promise<boolean> {
  const shared: Shared = { rooms: new InMemoryRooms(), room: `pageload${Math.random().toString(36).slice(2, 10)}` };
  (window as unknown as { shared: Shared }).shared = shared;
  const bob = document.createElement('call-widget');
  Object.assign(bob, { skipLobby: true, room: shared.room, name: 'Bob', createSocket: shared.rooms.socketFactory, getUserMedia: canvasGetUserMedia({ label: 'Bob' }) });
  document.body.append(bob);
  const frame = document.createElement('iframe');
  try {
    await bob.updateComplete;
    await bob.join(bobJoin);
    frame.srcdoc = `<!doctype html><body><video id=blocker muted></video><script type=module>
      import '/src/call-widget.ts';
      const blocker = document.getElementById('blocker');
      blocker.srcObject = new MediaStream();
      const alice = document.createElement('call-widget');
      Object.assign(alice, { skipLobby: true, room: parent.shared.room, name: 'Alice', createSocket: parent.shared.rooms.socketFactory });
      document.body.append(alice);
      await alice.updateComplete;
      alice.join({ audio: false, video: false });
      while (alice.state !== 'connected') await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300));
      blocker.srcObject = null;
      window.released = true;
    </script></body>`;
    let loaded = false;
    frame.addEventListener('load', () => (loaded = true));
    document.body.append(frame);
    await until(() => !!(frame.contentWindow as unknown as { released?: boolean }).released, 'Alice connected, her page\'s own hold released', { timeoutMs: 15_000 });
    await until(() => loaded, 'the page\'s load event', { timeoutMs: 3000 }).catch(() => {});
    return loaded;
  } finally {
    frame.remove();
    bob.remove();
  }
}

describe('<call-widget> in a page still loading', () => {
  it('a call with a peer whose camera is on lets the page load', async () => {
    expect(await pageLoads({})).to.equal(true);
  });

  it('a call with a peer whose camera is off from the start lets the page load (its video track joins the stream with its first frame)', async () => {
    expect(await pageLoads({ video: false })).to.equal(true);
  });
});
