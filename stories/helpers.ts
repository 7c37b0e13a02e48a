/**
 * Building blocks for the `<call-widget>` stories: widgets that need no camera
 * (canvas media) and no server (in-memory signaling with the real room rules),
 * and the few steps a `play` function drives them through.
 */
import { expect, fireEvent, waitFor } from 'storybook/test';
import '../src/call-widget.ts';
import type { CallState, CallWidget } from '../src/call-widget.ts';
import type { GetUserMedia } from '../src/controllers/media-controller.ts';
import type { SocketFactory } from '../src/controllers/signaling-controller.ts';
import { canvasGetUserMedia } from '../test/support/canvas-media.ts';
import { InMemoryRooms } from '../test/support/in-memory-room.ts';

/** The element's attributes that the stories expose as args. */
export type WidgetArgs = Partial<Pick<CallWidget, 'host' | 'party' | 'room' | 'name' | 'theme' | 'lang' | 'video' | 'videoQuality' | 'skipLobby' | 'mode' | 'ringTimeout'>>;

/** Per-story data from {@link loadRooms}. */
export interface Loaded {
  /** This story's own in-memory room server, so stories never share a room. */
  rooms: InMemoryRooms;
}

/** A Storybook loader: a fresh in-memory room server for each story render. */
export function loadRooms(): Loaded {
  return { rooms: new InMemoryRooms() };
}

/** A loader like {@link loadRooms} whose rooms hold `capacity` peers (the server's `ROOM_CAPACITY`). */
export const loadRoomsOf = (capacity: number) => (): Loaded => ({ rooms: new InMemoryRooms({ capacity }) });

export interface WidgetOptions extends WidgetArgs {
  rooms: InMemoryRooms;
  /** Defaults to the story's in-memory room server. */
  createSocket?: SocketFactory;
  /** Defaults to canvas media labelled with the widget's name. */
  getUserMedia?: GetUserMedia;
  /** Hue of the canvas "camera", so side-by-side widgets are told apart. */
  hue?: number;
}

/** Width of every widget in the stories (with no height, the element is 4:3 of it). */
const WIDGET_WIDTH = '480px';

/** Room id shared by the widgets of one story (base64url, 8–64 characters). */
const STORY_ROOM = 'storybook-room';

/** A `<call-widget>` wired to `rooms` and canvas media, not yet in the document. */
export function createWidget({ rooms, getUserMedia, hue, createSocket, ...attributes }: WidgetOptions): CallWidget {
  const widget = document.createElement('call-widget');
  const defined = Object.entries(attributes).filter(([, value]) => value !== undefined);
  // Join presses join at once, except in the stories of the lobby itself.
  Object.assign(widget, { room: STORY_ROOM, skipLobby: true, ...Object.fromEntries(defined) });
  widget.createSocket = createSocket ?? rooms.socketFactory;
  widget.getUserMedia = getUserMedia ?? canvasGetUserMedia({ label: widget.name, hue });
  widget.style.width = WIDGET_WIDTH;
  return widget;
}

/** Widgets side by side, as in two browser windows. */
export function sideBySide(...widgets: CallWidget[]): HTMLElement {
  const row = document.createElement('div');
  row.style.cssText = 'display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start;';
  row.append(...widgets);
  return row;
}

let soundPolicy = false;

/**
 * Make `widget` meet a browser that will not start sound before a click (its
 * autoplay policy, as Chromium's for a page that captures nothing and had no
 * click: Storybook's own canvas media is no capture, so a browser may do so
 * by itself; the test browsers are told not to). Inside it, `play()` with
 * sound rejects with `NotAllowedError` unless a click is under way
 * (`navigator.userActivation.isActive`); muted, it plays.
 */
export function withSoundBlocked(widget: CallWidget): CallWidget {
  widget.toggleAttribute('data-sound-blocked', true);
  if (!soundPolicy) {
    soundPolicy = true;
    const play = HTMLMediaElement.prototype.play;
    HTMLMediaElement.prototype.play = function (this: HTMLMediaElement) {
      const host = (this.getRootNode() as Partial<ShadowRoot>).host;
      return !this.muted && host?.hasAttribute('data-sound-blocked') && !navigator.userActivation?.isActive
        ? Promise.reject(new DOMException('play() with sound needs a click first (story)', 'NotAllowedError'))
        : play.call(this);
    };
  }
  return widget;
}

/** A getUserMedia whose permission prompt is never answered. */
export const pendingGetUserMedia: GetUserMedia = () => new Promise<MediaStream>(() => {});

/** A getUserMedia that fails like the browser's, with a `DOMException` named `name`. */
export function failingGetUserMedia(name: string): GetUserMedia {
  return canvasGetUserMedia({ error: new DOMException(`getUserMedia failed (story): ${name}`, name) });
}

/**
 * A room socket that the room server closes at once with `code` (as PartyKit
 * would after refusing the connection), to show the widget's answer to it.
 */
export function closingSocketFactory(code: number): SocketFactory {
  return () => {
    const target = new EventTarget();
    setTimeout(() => target.dispatchEvent(new CloseEvent('close', { code, wasClean: true })), 50);
    return {
      send: () => {},
      close: () => {},
      addEventListener: (type, listener) => target.addEventListener(type, listener),
      removeEventListener: (type, listener) => target.removeEventListener(type, listener),
    };
  };
}

/** A room server that never answers: its socket never opens. */
export const silentSocketFactory: SocketFactory = () => ({
  send: () => {},
  close: () => {},
  addEventListener: () => {},
  removeEventListener: () => {},
});

/** The widgets a story rendered, in document order. */
export function widgetsIn(canvasElement: HTMLElement): CallWidget[] {
  return [...canvasElement.querySelectorAll('call-widget')];
}

/** The (first) widget a story rendered. */
export function widgetIn(canvasElement: HTMLElement): CallWidget {
  const widget = canvasElement.querySelector('call-widget');
  if (!widget) throw new Error('the story rendered no <call-widget>');
  return widget;
}

/**
 * Click one of the widget's control buttons. A plain click event, not
 * `userEvent`: that would focus the button, and the docs page, which plays
 * every story, would scroll to whichever button was pressed last.
 */
export async function press(
  widget: CallWidget,
  part:
    | 'join-button'
    | 'hangup-button'
    | 'lock-button'
    | 'admit-button'
    | 'reject-button'
    | 'mic-button'
    | 'accept-button'
    | 'devices-button'
    | 'more-button'
    | 'decline-button',
): Promise<void> {
  await waitFor(() => expect(widget.shadowRoot?.querySelector(`[part~="${part}"]`)).toBeTruthy());
  await widget.updateComplete;
  const button = widget.shadowRoot?.querySelector<HTMLButtonElement>(`[part~="${part}"]`);
  if (!button) throw new Error(`<call-widget> shows no ${part}`);
  fireEvent.click(button);
}

/** Wait until the widget's `state` attribute reads `state`. */
export async function expectState(widget: CallWidget, state: CallState): Promise<void> {
  await waitFor(() => expect(widget).toHaveAttribute('state', state), { timeout: 10_000 });
}
