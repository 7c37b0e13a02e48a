/**
 * `<call-widget>` in each of its states, reached by driving real widgets:
 * canvas media instead of a camera, and an in-memory room server (the real
 * room rules) instead of PartyKit. Two widgets in one room connect through
 * real RTCPeerConnections over loopback.
 */
import type { Meta, StoryContext, StoryObj } from '@storybook/web-components-vite';
import { expect, waitFor } from 'storybook/test';
import { CallError, type CallErrorCode, type CallWidget } from '../src/call-widget.ts';
import { CloseCode } from '../src/protocol.ts';
import {
  closingSocketFactory,
  createWidget,
  expectState,
  failingGetUserMedia,
  loadRooms,
  loadRoomsOf,
  pendingGetUserMedia,
  press,
  sideBySide,
  silentSocketFactory,
  widgetIn,
  widgetsIn,
  withSoundBlocked,
  type Loaded,
  type WidgetArgs,
  type WidgetOptions,
} from './helpers.ts';

type Story = StoryObj<WidgetArgs>;

/** The story's own in-memory room server (see {@link loadRooms}). */
function roomsOf(context: StoryContext<WidgetArgs>): Loaded['rooms'] {
  return (context.loaded as Loaded).rooms;
}

/** Render one widget from the story's args, with `options` on top. */
function renderOne(options: Omit<WidgetOptions, 'rooms'> = {}): Story['render'] {
  return (args, context) => createWidget({ ...args, ...options, rooms: roomsOf(context) });
}

/** Render two visitors of the same room side by side. */
const renderPair: Story['render'] = (args, context) => {
  const rooms = roomsOf(context);
  return sideBySide(createWidget({ ...args, rooms, hue: 210 }), createWidget({ ...args, name: 'Grace', rooms, hue: 330 }));
};

const meta = {
  title: 'call-widget',
  component: 'call-widget',
  tags: ['autodocs'],
  args: { name: 'Ada' },
  loaders: [loadRooms],
  render: renderOne(),
} satisfies Meta<WidgetArgs>;

export default meta;

/** Before joining: the room socket is open, camera and microphone are untouched. */
export const Idle: Story = {
  play: async ({ canvasElement }) => {
    await expectState(widgetIn(canvasElement), 'idle');
  },
};

/**
 * The pre-join lobby (the default; `skip-lobby` bypasses it): camera preview,
 * the device lists, the microphone level, the display name, mic and camera
 * toggles that carry into the call.
 */
export const Lobby: Story = {
  args: { skipLobby: false },
  play: async ({ canvasElement }) => {
    const widget = widgetIn(canvasElement);
    await press(widget, 'join-button');
    await expectState(widget, 'lobby');
    await waitFor(() => expect(widget.shadowRoot?.querySelector('[part~="name-input"]')).toBeTruthy());
    await waitFor(() => expect(widget.localStream).toBeTruthy());
  },
};

/** Join pressed; the camera/microphone prompt is never answered. */
export const Joining: Story = {
  render: renderOne({ getUserMedia: pendingGetUserMedia }),
  play: async ({ canvasElement }) => {
    const widget = widgetIn(canvasElement);
    await press(widget, 'join-button');
    await expectState(widget, 'joining');
  },
};

/** In the call, nobody else in the room yet. */
export const Waiting: Story = {
  play: async ({ canvasElement }) => {
    const widget = widgetIn(canvasElement);
    await press(widget, 'join-button');
    await expectState(widget, 'waiting');
  },
};

/**
 * In a call, the device panel open: the lobby's camera, microphone and
 * speaker selectors (the browser's devices; labels once camera permission is
 * granted) and the microphone level. A choice applies at once; Escape closes it.
 */
export const Devices: Story = {
  play: async ({ canvasElement }) => {
    const widget = widgetIn(canvasElement);
    await press(widget, 'join-button');
    await expectState(widget, 'waiting');
    await press(widget, 'devices-button');
    await waitFor(() => expect(widget.shadowRoot?.querySelector('[part~="level-meter"]')).toBeTruthy());
  },
};

/** Two visitors of one room both join: their peer connections connect over loopback. */
export const Connected: Story = {
  render: renderPair,
  play: async ({ canvasElement }) => {
    const widgets = widgetsIn(canvasElement);
    for (const widget of widgets) await press(widget, 'join-button');
    for (const widget of widgets) await expectState(widget, 'connected');
  },
};

/**
 * A call where the browser will not start the others' sound before a click
 * (its autoplay policy: a page that captures nothing and had no click yet,
 * made so here for Ada): their video plays muted, and Turn on sound asks
 * for the click. Pressing it (a real click) turns the sound on.
 */
export const SoundBlocked: Story = {
  render: (args, context) => {
    const rooms = roomsOf(context);
    return sideBySide(withSoundBlocked(createWidget({ ...args, rooms, hue: 210 })), createWidget({ ...args, name: 'Grace', rooms, hue: 330 }));
  },
  play: async ({ canvasElement }) => {
    const widgets = widgetsIn(canvasElement);
    for (const widget of widgets) await press(widget, 'join-button');
    for (const widget of widgets) await expectState(widget, 'connected');
    await waitFor(() => expect(widgets[0]!.shadowRoot?.querySelector('[part~="sound-button"]')).toBeTruthy());
  },
};

/**
 * A call on a phone (320 px): the control bar keeps to microphone, camera,
 * More and hang-up, so the video keeps most of the height; More (pressed
 * here on the first widget) shows devices, lock and invite.
 */
export const PhoneWidth: Story = {
  render: (args, context) => {
    const pair = renderPair(args, context) as HTMLElement;
    for (const widget of widgetsIn(pair)) widget.style.width = '320px';
    return pair;
  },
  play: async ({ canvasElement }) => {
    const widgets = widgetsIn(canvasElement);
    for (const widget of widgets) await press(widget, 'join-button');
    for (const widget of widgets) await expectState(widget, 'connected');
    await press(widgets[0]!, 'more-button');
  },
};

/**
 * A group call of four (a room server with `ROOM_CAPACITY=4`): each widget
 * shows the other three and its own preview, named "You", in a 2×2 grid.
 */
export const GroupOfFour: Story = {
  loaders: [loadRoomsOf(4)],
  render: (args, context) => {
    const rooms = roomsOf(context);
    const people: [string, number][] = [['Ada', 210], ['Grace', 330], ['Linus', 120], ['Margaret', 40]];
    return sideBySide(...people.map(([name, hue]) => createWidget({ ...args, name, rooms, hue })));
  },
  play: async ({ canvasElement }) => {
    const widgets = widgetsIn(canvasElement);
    for (const [i, widget] of widgets.entries()) {
      await press(widget, 'join-button');
      await expectState(widget, i ? 'connected' : 'waiting');
    }
    for (const widget of widgets) {
      await waitFor(() => expect(widget.shadowRoot!.querySelectorAll('[part~="remote-tile"]')).toHaveLength(3));
      await expectState(widget, 'connected');
    }
  },
};

/**
 * In a call, a device action fails (another camera, busy in another app):
 * its message shows over the video with Dismiss, and the call goes on.
 */
export const DeviceErrorInCall: Story = {
  render: renderPair,
  play: async (context) => {
    await Connected.play!(context);
    const [ada] = widgetsIn(context.canvasElement);
    ada!.getUserMedia = failingGetUserMedia('NotReadableError');
    await ada!.useDevice('video', 'another-camera');
    await waitFor(() => expect(ada!.shadowRoot?.querySelector('[part~="notice"] [role="alert"]')).toBeTruthy());
    await expect(ada!.error?.code).toBe('device-in-use');
    await expectState(ada!, 'connected');
  },
};

/**
 * Both joined; the offer and answer went through, but no ICE candidate pair
 * can work (Grace allows relayed candidates only, and there is no TURN server).
 */
export const Connecting: Story = {
  render: (args, context) => {
    const rooms = roomsOf(context);
    const grace = createWidget({ ...args, name: 'Grace', rooms, hue: 330 });
    grace.createPeerConnection = (configuration) => new RTCPeerConnection({ ...configuration, iceTransportPolicy: 'relay' });
    return sideBySide(createWidget({ ...args, rooms, hue: 210 }), grace);
  },
  play: async ({ canvasElement }) => {
    const widgets = widgetsIn(canvasElement);
    for (const widget of widgets) await press(widget, 'join-button');
    for (const widget of widgets) await expectState(widget, 'connecting');
  },
};

/** `video="off"`: an audio-only call; tiles show initials, there is no camera button. */
export const AudioOnly: Story = {
  args: { video: 'off', name: 'Ada Lovelace' },
  render: renderPair,
  play: Connected.play,
};

/** Joined, then hung up. */
export const Ended: Story = {
  play: async (context) => {
    await Waiting.play!(context);
    const widget = widgetIn(context.canvasElement);
    await press(widget, 'hangup-button');
    await expectState(widget, 'ended');
  },
};

/** In a call, then the other side hung up: the ended view says who did. */
export const EndedByPeer: Story = {
  render: renderPair,
  play: async (context) => {
    await Connected.play!(context);
    const [ada, grace] = widgetsIn(context.canvasElement);
    await press(grace!, 'hangup-button');
    await expectState(ada!, 'ended');
    await waitFor(() => expect(ada!.shadowRoot?.querySelector('[part~="end-note"]')).toBeTruthy());
  },
};

/** A story in which getUserMedia fails with the `DOMException` `name`, shown as `code`. */
function failedWith(name: string, code: CallErrorCode): Story {
  return {
    render: renderOne({ getUserMedia: failingGetUserMedia(name) }),
    play: async ({ canvasElement }) => {
      const widget = widgetIn(canvasElement);
      await press(widget, 'join-button');
      await expectState(widget, 'failed');
      await expect(widget.error?.code).toBe(code);
    },
  };
}

/** The camera/microphone permission was refused (`NotAllowedError`). */
export const FailedPermissionDenied = failedWith('NotAllowedError', 'permission-denied');
/** There is no camera or microphone (`NotFoundError`). */
export const FailedDeviceNotFound = failedWith('NotFoundError', 'device-not-found');
/** Another program holds the camera (`NotReadableError`). */
export const FailedDeviceInUse = failedWith('NotReadableError', 'device-in-use');
/** No device satisfies the constraints (`OverconstrainedError`). */
export const FailedConstraintsUnsatisfied = failedWith('OverconstrainedError', 'constraints-unsatisfied');

/** The page or its iframe forbids camera and microphone (`SecurityError`: permissions policy). */
export const FailedPermissionPolicyBlocked = failedWith('SecurityError', 'permission-policy-blocked');
/** getUserMedia failed for another reason. */
export const FailedMedia = failedWith('TypeError', 'media-failed');

/** The page is not a secure context (no `navigator.mediaDevices`): plain http on a LAN address. */
export const FailedInsecureContext: Story = {
  render: renderOne({
    getUserMedia: () => Promise.reject(new CallError('insecure-context', 'navigator.mediaDevices is unavailable (story)')),
  }),
  play: async ({ canvasElement }) => {
    const widget = widgetIn(canvasElement);
    await press(widget, 'join-button');
    await expectState(widget, 'failed');
    await expect(widget.error?.code).toBe('insecure-context');
  },
};

/** The browser has no RTCPeerConnection (it is hidden for the moment of the click). */
export const FailedUnsupportedBrowser: Story = {
  play: async ({ canvasElement }) => {
    const widget = widgetIn(canvasElement);
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'RTCPeerConnection')!;
    Reflect.deleteProperty(globalThis, 'RTCPeerConnection');
    try {
      await press(widget, 'join-button');
      await expectState(widget, 'failed');
    } finally {
      Object.defineProperty(globalThis, 'RTCPeerConnection', saved);
    }
    await expect(widget.error?.code).toBe('unsupported-browser');
  },
};

/** A story whose room server refuses the socket with close code `code`, shown as `error`. */
function refusedWith(code: number, error: CallErrorCode): Story {
  return {
    render: renderOne({ createSocket: closingSocketFactory(code) }),
    play: async ({ canvasElement }) => {
      const widget = widgetIn(canvasElement);
      await expectState(widget, 'failed');
      await expect(widget.error?.code).toBe(error);
    },
  };
}

/** The room id is malformed, or a locked room's host turned us away (close 4002). */
export const FailedRoomUnavailable = refusedWith(CloseCode.roomUnavailable, 'room-unavailable');
/** The room server does not serve this page's origin (close 4003). */
export const FailedForbiddenOrigin = refusedWith(CloseCode.forbiddenOrigin, 'forbidden-origin');
/** The widget and the room server speak different protocol versions (close 4005: a cached old script, say). */
export const FailedProtocolMismatch = refusedWith(CloseCode.protocolMismatch, 'protocol-mismatch');
/** The room server cut a flooding connection (close 4008). */
export const FailedRateLimited = refusedWith(CloseCode.rateLimited, 'rate-limited');

/** No answer from the room server within 15 s of Join (it is down, or a proxy swallows WebSockets). */
export const FailedRoomUnreachable: Story = {
  render: renderOne({ createSocket: silentSocketFactory }),
  play: async ({ canvasElement }) => {
    const widget = widgetIn(canvasElement);
    await press(widget, 'join-button');
    await expectState(widget, 'joining');
    await waitFor(() => expect(widget).toHaveAttribute('state', 'failed'), { timeout: 20_000 });
    await expect(widget.error?.code).toBe('room-unreachable');
  },
};

/** In a call, the speaker chosen cannot be used (unplugged, or not allowed): the default plays, and a notice says so. */
export const SpeakerUnavailable: Story = {
  render: renderPair,
  play: async (context) => {
    await Connected.play!(context);
    const [ada] = widgetsIn(context.canvasElement);
    ada!.speakerId = 'a-speaker-that-is-gone';
    await waitFor(() => expect(ada!.error?.code).toBe('speaker-unavailable'));
    await waitFor(() => expect(ada!.shadowRoot?.querySelector('[part~="notice"] [role="alert"]')).toBeTruthy());
    await expectState(ada!, 'connected');
  },
};

/** In a call, the other side's media path goes silent: "connection lost", reconnecting. */
export const Reconnecting: Story = {
  render: (args, context) => {
    const rooms = roomsOf(context);
    const made: RTCPeerConnection[] = [];
    const grace = createWidget({ ...args, name: 'Grace', rooms, hue: 330 });
    grace.createPeerConnection = (configuration) => {
      const pc = new RTCPeerConnection(configuration);
      made.push(pc);
      return pc;
    };
    (grace as CallWidget & { madeConnections?: RTCPeerConnection[] }).madeConnections = made;
    return sideBySide(createWidget({ ...args, rooms, hue: 210 }), grace);
  },
  play: async (context) => {
    await Connected.play!(context);
    const [ada, grace] = widgetsIn(context.canvasElement) as [CallWidget, CallWidget];
    // Grace's peer connection stops without a word (as when her network drops).
    for (const pc of (grace as CallWidget & { madeConnections: RTCPeerConnection[] }).madeConnections) pc.close();
    await expectState(ada, 'reconnecting');
  },
};

/** Pinned to the light scheme, whatever the viewer prefers. */
export const ThemedLight: Story = {
  args: { theme: 'light' },
  play: Waiting.play,
};

/** Pinned to the dark scheme, with a brand colour and rounder corners through `--call-*` properties. */
export const ThemedDark: Story = {
  args: { theme: 'dark' },
  render: (args, context) => {
    const widget = createWidget({ ...args, rooms: roomsOf(context) });
    widget.style.setProperty('--call-accent', '#0f766e');
    widget.style.setProperty('--call-radius', '20px');
    return widget;
  },
  play: Waiting.play,
};

/** `lang="ar"`: Arabic, laid out right to left (the local inset moves to the left). */
export const RightToLeftArabic: Story = {
  args: { lang: 'ar', name: 'ليلى' },
  play: Waiting.play,
};

/** `lang="es"`: Spanish. */
export const Spanish: Story = {
  args: { lang: 'es' },
  play: Waiting.play,
};

/** A third visitor joins a room whose two places are taken. */
export const RoomFull: Story = {
  render: renderPair,
  play: async (context) => {
    await context.step('Ada and Grace are in a call', () => Connected.play!(context));
    await context.step('Linus opens the same room and joins', async () => {
      const third = createWidget({ ...context.args, name: 'Linus', rooms: roomsOf(context), hue: 120 });
      widgetsIn(context.canvasElement).at(-1)!.after(third);
      await press(third, 'join-button');
      await expectState(third, 'failed');
      await expect(third.error?.code).toBe('room-full');
    });
  },
};

/** Ada's room is locked; Grace joins and knocks; Ada sees who is waiting, with Admit and Reject. */
export const Knocking: Story = {
  render: renderPair,
  play: async (context) => {
    const [host, guest] = widgetsIn(context.canvasElement) as [CallWidget, CallWidget];
    await context.step('Ada joins and locks the room', async () => {
      await press(host, 'join-button');
      await expectState(host, 'waiting');
      await press(host, 'lock-button');
      await waitFor(() => expect(host.locked).toBe(true));
    });
    await context.step('Grace knocks', async () => {
      await press(guest, 'join-button');
      await expectState(guest, 'knocking');
      await waitFor(() => expect(host.knocking.map((p) => p.name)).toEqual(['Grace']));
    });
  },
};

/** From a knock to a call: the host admits the guest. */
export const Admitted: Story = {
  render: renderPair,
  play: async (context) => {
    await Knocking.play!(context);
    const [host, guest] = widgetsIn(context.canvasElement) as [CallWidget, CallWidget];
    await press(host, 'admit-button');
    for (const widget of [host, guest]) await expectState(widget, 'connected');
  },
};

/** The host turns the guest away: to the guest it looks like a room that does not exist. */
export const Rejected: Story = {
  render: renderPair,
  play: async (context) => {
    await Knocking.play!(context);
    const [host, guest] = widgetsIn(context.canvasElement) as [CallWidget, CallWidget];
    await press(host, 'reject-button');
    await expectState(guest, 'failed');
    await expect(guest.error?.code).toBe('room-unavailable');
  },
};

// ------------------------------------------------------------------ the ring flow (mode="call")

/** `mode="call"`: Ada calls a room nobody has opened yet; it rings whoever opens the link first. */
export const Ringing: Story = {
  args: { mode: 'call' },
  play: async ({ canvasElement }) => {
    const widget = widgetIn(canvasElement);
    await press(widget, 'join-button');
    await expectState(widget, 'ringing');
  },
};

/** Ada calls Grace: Ada hears it ring; Grace sees who calls, with Accept and Decline, and nothing of hers is captured yet. */
export const Incoming: Story = {
  args: { mode: 'call' },
  render: renderPair,
  play: async (context) => {
    const [ada, grace] = widgetsIn(context.canvasElement) as [CallWidget, CallWidget];
    await press(ada, 'join-button');
    await expectState(ada, 'ringing');
    await expectState(grace, 'incoming');
    await expect(grace.ringPeer?.name).toBe('Ada');
    await expect(grace.localStream).toBeNull();
  },
};

/** Grace accepts: the ring becomes the call. */
export const Accepted: Story = {
  args: { mode: 'call' },
  render: renderPair,
  play: async (context) => {
    await Incoming.play!(context);
    const [ada, grace] = widgetsIn(context.canvasElement) as [CallWidget, CallWidget];
    await press(grace, 'accept-button');
    for (const widget of [ada, grace]) await expectState(widget, 'connected');
  },
};

/** Grace declines: both see it, and Ada's camera is released. */
export const Declined: Story = {
  args: { mode: 'call' },
  render: renderPair,
  play: async (context) => {
    await Incoming.play!(context);
    const [ada, grace] = widgetsIn(context.canvasElement) as [CallWidget, CallWidget];
    await press(grace, 'decline-button');
    for (const widget of [ada, grace]) await expectState(widget, 'declined');
    await expect(ada.localStream).toBeNull();
  },
};

/** Nobody answers within `ring-timeout` (1 s here): a missed call on both sides. */
export const Missed: Story = {
  args: { mode: 'call', ringTimeout: 1 },
  render: renderPair,
  play: async (context) => {
    await Incoming.play!(context);
    for (const widget of widgetsIn(context.canvasElement)) await expectState(widget, 'missed');
  },
};

/** Ada and Grace are in a call; Linus rings: the line is busy, and their call goes on. */
export const Busy: Story = {
  args: { mode: 'call' },
  render: renderPair,
  play: async (context) => {
    await context.step('Ada calls Grace, who accepts', () => Accepted.play!(context));
    await context.step('Linus opens the same link and calls', async () => {
      const linus = createWidget({ ...context.args, name: 'Linus', rooms: roomsOf(context), hue: 120 });
      widgetsIn(context.canvasElement).at(-1)!.after(linus);
      await expectState(linus, 'idle');
      await press(linus, 'join-button');
      await expectState(linus, 'busy');
    });
    for (const widget of widgetsIn(context.canvasElement).slice(0, 2)) await expectState(widget, 'connected');
  },
};
