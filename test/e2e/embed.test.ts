/**
 * End to end: embedding the built `dist/call-widget.js` the way a third-party
 * site does. The site is a server on another origin than the room server (a
 * different port), serving its pages with a strict Content-Security-Policy:
 *
 * - one `<script type="module">` and the element complete a call between two
 *   browser contexts with zero CSP violations;
 * - two widgets on one page, in two rooms, each talk only to their own peer,
 *   and removing one releases its camera, socket and peer connection while the
 *   other stays connected;
 * - loading the script twice is harmless.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page, WebSocket } from 'playwright-core';
import { en } from '../../src/i18n/messages.ts';
import { randomId } from '../../src/random-id.ts';
import { ROOT, launchChromium, newContext, requireBuild, startParty, type PartyServer } from '../support/harness.ts';
import { clickJoin, remoteFrames, waitForState } from '../support/widget-page.ts';

/**
 * The policy of the issue, with `connect-src` naming the room server's
 * WebSocket origin. Nothing is loosened: no 'unsafe-inline', no 'unsafe-eval',
 * and Trusted Types allow only Lit's own `lit-html` policy. `allowDuplicates`
 * adds `'allow-duplicates'` to `trusted-types`, which a page needs when it
 * may run two copies of Lit (each creates a `lit-html` policy at load).
 */
function strictCsp(roomServerWsOrigin: string, { allowDuplicates = false } = {}): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `connect-src 'self' ${roomServerWsOrigin}`,
    "media-src 'self' blob:",
    "img-src 'self' data: blob:",
    "require-trusted-types-for 'script'",
    `trusted-types lit-html${allowDuplicates ? " 'allow-duplicates'" : ''}`,
  ].join('; ');
}

interface EmbeddingSite {
  origin: string;
  csp: string;
  stop(): Promise<void>;
}

const PAGES = join(ROOT, 'test/e2e/pages');
const escapeAttribute = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/**
 * The third-party site: `/call-widget.js` is the built bundle and
 * `/call-widget-*.js` its lazy chunks (served beside it, as a deployment of
 * `dist/` does); `/<page>.html` and `/<page>.js` come from
 * `test/e2e/pages/`. HTML pages get the strict CSP, and `%HOST%` / `%NAME%`
 * in them are filled in from the room server and the `name` query
 * parameter, as a server-rendered embed would be. `?csp=` picks
 * the policy: `strict` (the default), `allow-duplicates`, or `none`.
 */
async function startEmbeddingSite(party: PartyServer): Promise<EmbeddingSite> {
  const csp = strictCsp(`ws://${party.host}`);
  const cspAllowingDuplicates = strictCsp(`ws://${party.host}`, { allowDuplicates: true });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://site');
    const file = /^\/call-widget(-[\w-]+)?\.js$/.test(url.pathname)
      ? join(ROOT, 'dist', url.pathname)
      : /^\/[a-z-]+\.(html|js)$/.test(url.pathname)
        ? join(PAGES, url.pathname)
        : null;
    let body: string;
    try {
      if (req.method !== 'GET' || !file) throw new Error('not found');
      body = readFileSync(file, 'utf8');
    } catch {
      res.writeHead(404).end();
      return;
    }
    if (file.endsWith('.html')) {
      body = body
        .replaceAll('%HOST%', escapeAttribute(party.host))
        .replaceAll('%NAME%', escapeAttribute(url.searchParams.get('name') ?? ''));
      const policy = { strict: csp, 'allow-duplicates': cspAllowingDuplicates, none: undefined }[
        url.searchParams.get('csp') ?? 'strict'
      ];
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        ...(policy ? { 'content-security-policy': policy } : {}),
      });
    } else {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
    }
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    origin: `http://127.0.0.1:${port}`,
    csp,
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A CSP violation as the page's `securitypolicyviolation` listener saw it. */
interface Violation {
  effectiveDirective: string;
  blockedURI: string;
  sourceFile: string;
  lineNumber: number;
  sample: string;
}

/**
 * Everything that tells of a CSP violation on `page`: `securitypolicyviolation`
 * events (listener installed before any page script), Chromium's own console
 * reports ("Refused to …", Trusted Types), and uncaught page errors.
 */
interface CspWatch {
  violations(): Promise<Violation[]>;
  console: string[];
  pageErrors: string[];
}

const RECORD_VIOLATIONS = `
  globalThis.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    globalThis.__cspViolations.push({
      effectiveDirective: e.effectiveDirective,
      blockedURI: e.blockedURI,
      sourceFile: e.sourceFile,
      lineNumber: e.lineNumber,
      sample: e.sample,
    });
  }, true);
`;

const CSP_MESSAGE = /Content.Security.Policy|Trusted ?(Types?|HTML|Script|ScriptURL)\b|Refused to/i;

interface OpenedPage {
  page: Page;
  csp: CspWatch;
  /** The page's Content-Security-Policy response header. */
  header: string | undefined;
  /** Every WebSocket the page opened, from the first request on. */
  sockets: WebSocket[];
}

async function openPage(browser: Browser, url: string): Promise<OpenedPage> {
  const context = await newContext(browser);
  await context.addInitScript(RECORD_VIOLATIONS);
  const page = await context.newPage();
  const sockets: WebSocket[] = [];
  page.on('websocket', (socket) => sockets.push(socket));
  const watch: CspWatch = {
    violations: () => page.evaluate(() => (globalThis as unknown as { __cspViolations: Violation[] }).__cspViolations),
    console: [],
    pageErrors: [],
  };
  page.on('console', (message) => {
    if (CSP_MESSAGE.test(message.text())) watch.console.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => watch.pageErrors.push(String(error)));
  const response = await page.goto(url);
  assert.equal(response?.status(), 200, url);
  return { page, csp: watch, header: response?.headers()['content-security-policy'], sockets };
}

/** Every `/call-widget*.js` the page fetched (path and query), sorted: the entry and its chunks. */
const widgetScripts = (page: Page): Promise<string[]> =>
  page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .map((e) => new URL(e.name).pathname + new URL(e.name).search)
      .filter((path) => path.startsWith('/call-widget'))
      .sort(),
  );

async function assertNoViolations(name: string, watch: CspWatch): Promise<void> {
  assert.deepEqual(await watch.violations(), [], `${name}: securitypolicyviolation events`);
  assert.deepEqual(watch.console, [], `${name}: CSP console reports`);
  assert.deepEqual(watch.pageErrors, [], `${name}: page errors`);
}

let party: PartyServer;
let site: EmbeddingSite;
let browser: Browser;

before(async () => {
  requireBuild();
  [party, browser] = await Promise.all([startParty(), launchChromium()]);
  site = await startEmbeddingSite(party);
  assert.notEqual(new URL(site.origin).port, String(party.port), 'the site and the room server are different origins');
});

after(async () => {
  await browser?.close();
  await Promise.all([party?.stop(), site?.stop()]);
});

describe('embedding under a strict CSP', () => {
  test('one script tag, two contexts, a full call, zero CSP violations', { timeout: 60_000 }, async () => {
    const room = randomId(16);
    const [alice, bob] = await Promise.all(
      ['Alice', 'Bob'].map((name) =>
        openPage(browser, `${site.origin}/embed-csp.html?${new URLSearchParams({ room, name })}`),
      ),
    );
    assert.equal(alice.header, site.csp, 'the page is served with the strict CSP');
    assert.equal(await alice.page.locator('script').count(), 1, 'one script tag embeds the widget');

    await Promise.all([waitForState(alice.page, 'idle'), waitForState(bob.page, 'idle')]);
    // Alice through the lobby, its chunk and its stylesheet loaded (an adopted sheet, not an inline style).
    await alice.page.locator('call-widget [part~="join-button"]').click();
    await alice.page.locator('call-widget [part~="lobby"]').waitFor();
    await alice.page.locator('call-widget [part~="join-button"]').click();
    await waitForState(alice.page, 'waiting');
    await clickJoin(bob.page);
    await Promise.all([waitForState(alice.page, 'connected'), waitForState(bob.page, 'connected')]);
    const [a, b] = await Promise.all([remoteFrames(alice.page), remoteFrames(bob.page)]);
    assert.ok(a.frames >= 5 && a.width > 0, `alice decoded ${JSON.stringify(a)}`);
    assert.ok(b.frames >= 5 && b.width > 0, `bob decoded ${JSON.stringify(b)}`);
    // Each page opened one socket, to the room server's origin (not the page's).
    for (const { sockets } of [alice, bob]) {
      assert.deepEqual(
        sockets.map((s) => new URL(s.url()).host),
        [party.host],
      );
    }
    // The names came through the server-rendered attributes and the room.
    assert.match((await alice.page.locator('call-widget [part~="remote-tile"]').textContent()) ?? '', /Bob/);

    // Mute, the device panel, camera off and on, hang up: the rest of the widget's paths run too.
    await alice.page.locator('call-widget [part~="mic-button"]').click();
    // Bob's tile of Alice says so, its words apart in the built widget (the
    // template minifier trims a text's spaces next to a tag: "Alice· Microphone off").
    const aliceOnBob = bob.page.locator('call-widget [part~="remote-tile"] .label');
    await bob.page.waitForFunction((text) => document.querySelector('call-widget')!.shadowRoot!.querySelector('.label')?.textContent === text, `Alice${en.separator}${en.micIsOff}`);
    assert.equal(await aliceOnBob.textContent(), `Alice${en.separator}${en.micIsOff}`);
    await alice.page.locator('call-widget [part~="devices-button"]').click();
    await alice.page.locator('call-widget [part~="devices"]').waitFor();
    assert.equal(
      await alice.page.locator('call-widget [part~="devices"]').evaluate((panel) => getComputedStyle(panel).position),
      'absolute',
      "the panel's stylesheet applies under the policy",
    );
    await alice.page.keyboard.press('Escape');
    await alice.page.locator('call-widget [part~="camera-button"]').click();
    await alice.page.locator('call-widget [part~="camera-button"]').click();

    // A third person opening the link finds the call full: the error view is
    // a lazy chunk, and it loads and shows under the policy too.
    const carol = await openPage(browser, `${site.origin}/embed-csp.html?${new URLSearchParams({ room, name: 'Carol' })}`);
    await waitForState(carol.page, 'failed');
    assert.match((await carol.page.locator('call-widget [role="alert"]').textContent()) ?? '', /full/i);
    await assertNoViolations('carol', carol.csp);
    const chunkNames = async (page: Page): Promise<string[]> =>
      (await widgetScripts(page)).map((path) => path.replace(/-[\w-]{8}\.js$/, '.js'));
    assert.deepEqual(await chunkNames(carol.page), ['/call-widget-failure.js', '/call-widget.js']);
    await carol.page.context().close();

    await alice.page.locator('call-widget [part~="hangup-button"]').click();
    await Promise.all([waitForState(alice.page, 'ended'), waitForState(bob.page, 'ended')]);

    await assertNoViolations('alice', alice.csp);
    await assertNoViolations('bob', bob.csp);
    // A call that went well (through the lobby) fetched the entry and the
    // lobby chunk, nothing else: the error view, the knock list and the
    // other languages stay on the server.
    assert.deepEqual(await chunkNames(bob.page), ['/call-widget-lobby.js', '/call-widget.js']);

    // The recorders work and the policy is enforced: an inline style attribute
    // and a string assigned to innerHTML (a Trusted Types sink) are refused.
    const refused = await alice.page.evaluate(() => {
      document.body.setAttribute('style', 'outline: 1px solid red');
      try {
        document.createElement('div').innerHTML = '<b>x</b>';
        return 'innerHTML accepted a string';
      } catch (error) {
        return (error as Error).name;
      }
    });
    assert.equal(refused, 'TypeError');
    await alice.page.waitForFunction(
      () => (globalThis as unknown as { __cspViolations: unknown[] }).__cspViolations.length >= 2,
    );
    const directives = (await alice.csp.violations()).map((v) => v.effectiveDirective).sort();
    assert.deepEqual(directives, ['require-trusted-types-for', 'style-src-attr']);
    assert.ok(alice.csp.console.length >= 2, `console reports: ${JSON.stringify(alice.csp.console)}`);

    await Promise.all([alice.page.context().close(), bob.page.context().close()]);
  });

  test('a versioned script URL (call-widget.js?v=3): the lobby chunk loads without a second copy of the entry', { timeout: 30_000 }, async () => {
    const room = randomId(16);
    const { page, csp: watch } = await openPage(browser, `${site.origin}/embed-versioned.html?${new URLSearchParams({ room, name: 'Ada' })}`);
    await waitForState(page, 'idle');
    await page.locator('call-widget [part~="join-button"]').click();
    await page.locator('call-widget [part~="lobby"]').waitFor();
    const scripts = await widgetScripts(page);
    assert.equal(scripts.length, 2, `the entry and the lobby chunk, once each: ${scripts.join(', ')}`);
    assert.deepEqual(
      scripts.filter((path) => path.startsWith('/call-widget.js')),
      ['/call-widget.js?v=3'],
      'the entry once, by the URL the page gave',
    );
    assert.ok(scripts.some((path) => /^\/call-widget-lobby-[\w-]+\.js$/.test(path)), scripts.join(', '));
    assert.equal(
      await page.locator('call-widget [part~="lobby"]').evaluate((form) => getComputedStyle(form).display),
      'grid',
      "the lobby's stylesheet applies",
    );
    await page.locator('call-widget [part~="cancel-button"]').click();
    await waitForState(page, 'idle');
    await assertNoViolations('versioned', watch);
    await page.context().close();
  });

  // Two copies of Lit under `trusted-types lit-html` cannot both create their
  // `lit-html` policy: the second copy throws at load (the first, and so the
  // element, keeps working). A page that may load the bundle twice, or the
  // bundle next to its own Lit, adds 'allow-duplicates'.
  for (const csp of ['none', 'allow-duplicates'] as const) {
    test(`loading call-widget.js twice is harmless (CSP: ${csp})`, { timeout: 20_000 }, async () => {
      const { page, csp: watch } = await openPage(browser, `${site.origin}/twice.html?csp=${csp}`);
      await page.waitForLoadState('load');
      // Both module instances ran (two URLs, two evaluations)…
      const scripts = await widgetScripts(page);
      assert.deepEqual(scripts, ['/call-widget.js', '/call-widget.js?twice']);
      // …the element is defined once, and it works.
      const upgraded = await page.evaluate((host) => {
        const element = document.createElement('call-widget');
        element.host = host;
        element.room = 'loaded-twice-room';
        document.body.append(element);
        return element.updateComplete.then(() => {
          const ok =
            element instanceof customElements.get('call-widget')! &&
            !!element.shadowRoot?.querySelector('[part~="join-button"]');
          element.remove();
          return ok;
        });
      }, party.host);
      assert.equal(upgraded, true);
      await assertNoViolations(`twice (${csp})`, watch);
      await page.context().close();
    });
  }
});

/** Per-widget helpers for `two-rooms.html`, whose widgets are `#x` and `#y`. */
type WidgetId = 'x' | 'y';

interface WidgetEvent {
  type: string;
  state?: string;
  code?: string;
  reason?: string;
  peer?: string;
}

function waitForWidgetState(page: Page, id: WidgetId, state: string, timeoutMs = 10_000): Promise<unknown> {
  return page.waitForFunction(
    ([i, s]) => document.getElementById(i)?.getAttribute('state') === s,
    [id, state] as const,
    {
      timeout: timeoutMs,
    },
  );
}

const widgetEvents = (page: Page, id: WidgetId) =>
  page.evaluate((i) => (window as unknown as { callEvents: Record<string, WidgetEvent[]> }).callEvents[i]!, id);

/** Like `remoteFrames` in widget-page.ts, for the widget `#id`. */
function remoteFramesOf(page: Page, id: WidgetId, count = 5, timeoutMs = 8000): Promise<number> {
  return page.evaluate(
    ([i, n, limit]) =>
      new Promise<number>((resolve, reject) => {
        const video = document
          .getElementById(i)
          ?.shadowRoot?.querySelector<HTMLVideoElement>('video[part~="remote-video"]');
        if (!video) return reject(new Error(`#${i}: no remote video element`));
        let frames = 0;
        let lastMediaTime = -1;
        const timer = setTimeout(() => reject(new Error(`#${i}: only ${frames} frames decoded`)), limit);
        const onFrame: VideoFrameRequestCallback = (_now, meta) => {
          if (meta.mediaTime > lastMediaTime) frames++;
          lastMediaTime = meta.mediaTime;
          if (frames >= n) {
            clearTimeout(timer);
            resolve(frames);
          } else video.requestVideoFrameCallback(onFrame);
        };
        video.requestVideoFrameCallback(onFrame);
      }),
    [id, count, timeoutMs] as const,
  );
}

/** The text of every remote tile of widget `#id` (the remote peers' names). */
const remoteTiles = (page: Page, id: WidgetId) =>
  page.locator(`#${id} [part~="remote-tile"] .label`).evaluateAll((labels) => labels.map((l) => l.textContent?.trim()));

describe('two widgets on one page', () => {
  test(
    'two rooms side by side, no cross-talk; removing one leaves the other connected',
    { timeout: 60_000 },
    async () => {
      const rooms = { x: randomId(16), y: randomId(16) };
      const open = (tag: string) =>
        openPage(browser, `${site.origin}/two-rooms.html?${new URLSearchParams({ host: party.host, ...rooms, tag })}`);
      const a = await open('A');
      const b = await open('B');
      await Promise.all(
        [a, b].flatMap(({ page }) => [waitForWidgetState(page, 'x', 'idle'), waitForWidgetState(page, 'y', 'idle')]),
      );

      // A joins both rooms, then B: four calls, two per room.
      await clickJoin(a.page, '#x');
      await clickJoin(a.page, '#y');
      await Promise.all([waitForWidgetState(a.page, 'x', 'waiting'), waitForWidgetState(a.page, 'y', 'waiting')]);
      await clickJoin(b.page, '#y');
      await clickJoin(b.page, '#x');
      await Promise.all(
        [a, b].flatMap(({ page }) => [
          waitForWidgetState(page, 'x', 'connected'),
          waitForWidgetState(page, 'y', 'connected'),
        ]),
      );
      for (const [name, { page }] of [
        ['A', a],
        ['B', b],
      ] as const) {
        for (const id of ['x', 'y'] as const) {
          assert.ok((await remoteFramesOf(page, id)) >= 5, `${name}#${id} decodes its peer`);
        }
      }
      // Each widget sees exactly its own peer, in its own room.
      assert.deepEqual(await remoteTiles(a.page, 'x'), ['B-x']);
      assert.deepEqual(await remoteTiles(a.page, 'y'), ['B-y']);
      assert.deepEqual(await remoteTiles(b.page, 'x'), ['A-x']);
      assert.deepEqual(await remoteTiles(b.page, 'y'), ['A-y']);
      // A's widgets were first in their rooms: each heard of exactly one arrival (B's
      // widget in the same room; names are only known once a peer joins the call).
      for (const id of ['x', 'y'] as const) {
        const joined = (await widgetEvents(a.page, id)).filter((e) => e.type === 'call-peer-joined');
        assert.equal(joined.length, 1, `A#${id}: ${JSON.stringify(joined)}`);
      }
      // One room socket per widget, each to its own room.
      const socketOf = (sockets: WebSocket[], room: string) =>
        sockets.filter((s) => new URL(s.url()).pathname.endsWith(`/${room}`));
      for (const { sockets } of [a, b]) {
        assert.equal(sockets.length, 2, sockets.map((s) => s.url()).join(', '));
        assert.equal(socketOf(sockets, rooms.x).length, 1);
        assert.equal(socketOf(sockets, rooms.y).length, 1);
      }
      const xSocketOnA = socketOf(a.sockets, rooms.x)[0]!;
      const ySocketOnA = socketOf(a.sockets, rooms.y)[0]!;

      // Remove A's widget x from the page.
      const xClosed = xSocketOnA.isClosed() ? Promise.resolve() : xSocketOnA.waitForEvent('close', { timeout: 5000 });
      await a.page.evaluate(() => document.getElementById('x')!.remove());
      await xClosed;

      // Its camera and microphone are released and its peer connection closed…
      await a.page.waitForFunction(
        () => {
          const w = window as unknown as {
            capturedTracks: Record<string, MediaStreamTrack[]>;
            peerConnections: Record<string, RTCPeerConnection[]>;
          };
          return (
            w.capturedTracks.x!.length >= 2 &&
            w.capturedTracks.x!.every((t) => t.readyState === 'ended') &&
            w.peerConnections.x!.length >= 1 &&
            w.peerConnections.x!.every((c) => c.connectionState === 'closed')
          );
        },
        undefined,
        { timeout: 2000 },
      );
      // …and its peer on the other page sees it leave (the socket closed; no hang-up was sent).
      await b.page.waitForFunction(
        () =>
          (window as unknown as { callEvents: Record<string, WidgetEvent[]> }).callEvents.x!.some(
            (e) => e.type === 'call-peer-left',
          ),
        undefined,
        { timeout: 5000 },
      );
      const left = (await widgetEvents(b.page, 'x')).find((e) => e.type === 'call-peer-left');
      assert.deepEqual({ peer: left?.peer, reason: left?.reason }, { peer: 'A-x', reason: 'left' });
      await b.page.waitForFunction(
        () => document.getElementById('x')?.getAttribute('state') !== 'connected',
        undefined,
        {
          timeout: 5000,
        },
      );
      assert.deepEqual(await remoteTiles(b.page, 'x'), []);

      // Widget y on both pages is untouched: still connected, its socket open,
      // its camera live, and fresh frames keep being decoded both ways.
      assert.equal(ySocketOnA.isClosed(), false, "A's room-y socket stays open");
      assert.equal(await a.page.locator('#y').getAttribute('state'), 'connected');
      assert.equal(await b.page.locator('#y').getAttribute('state'), 'connected');
      const yTracks = await a.page.evaluate(() =>
        (window as unknown as { capturedTracks: Record<string, MediaStreamTrack[]> }).capturedTracks.y!.map(
          (t) => t.readyState,
        ),
      );
      assert.ok(yTracks.length >= 2 && yTracks.every((s) => s === 'live'), `A#y tracks: ${yTracks}`);
      assert.ok((await remoteFramesOf(a.page, 'y')) >= 5, 'A#y still decodes');
      assert.ok((await remoteFramesOf(b.page, 'y')) >= 5, 'B#y still decodes');
      const yErrors = (await widgetEvents(a.page, 'y')).filter(
        (e) => e.type === 'call-error' || e.type === 'call-peer-left',
      );
      assert.deepEqual(yErrors, []);

      await assertNoViolations('A', a.csp);
      await assertNoViolations('B', b.csp);
      await Promise.all([a.page.context().close(), b.page.context().close()]);
    },
  );
});
