import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CALL_STATES, deriveCallState, type CallState, type CallStateInputs } from '../../src/call-state.ts';

/** A widget in the call, with media and an open room socket, alone: the base every row overrides. */
const IN_CALL: CallStateInputs = { intent: 'join', media: 'ready', signaling: 'open', inCall: true, links: [] };

/** Overrides that would give `connected` if nothing else won. */
const LIVE = { links: ['connected'] } as const satisfies Partial<CallStateInputs>;

type Row = [name: string, overrides: Partial<CallStateInputs>, expected: CallState];

const rows: Row[] = [
  // 1. The user's intent and the terminal outcomes win over everything else.
  ['idle intent, nothing started', { intent: 'idle', media: 'idle', signaling: 'idle', inCall: false }, 'idle'],
  ['idle intent wins over a connected link', { ...LIVE, intent: 'idle' }, 'idle'],
  ['ended intent wins over a connected link', { ...LIVE, intent: 'ended' }, 'ended'],
  [
    'ended, media stopped, socket closed',
    { intent: 'ended', media: 'idle', signaling: 'closed', inCall: false },
    'ended',
  ],
  ['failed intent wins over a connected link', { ...LIVE, intent: 'failed' }, 'failed'],
  ['failed intent with media idle after stop', { intent: 'failed', media: 'idle', inCall: false }, 'failed'],

  // 1b. The pre-join lobby: no room involvement, whatever the socket does.
  ['lobby, camera starting', { intent: 'lobby', media: 'acquiring', signaling: 'open', inCall: false }, 'lobby'],
  ['lobby, preview up', { intent: 'lobby', media: 'ready', signaling: 'open', inCall: false }, 'lobby'],
  ['lobby, socket reconnecting', { intent: 'lobby', media: 'ready', signaling: 'reconnecting', inCall: false }, 'lobby'],
  ['media failure in the lobby', { intent: 'lobby', media: 'failed', inCall: false }, 'failed'],

  // 2. Media failure while joining.
  ['media failed while joining', { media: 'failed', inCall: false }, 'failed'],
  ['media failed wins over a connected link', { ...LIVE, media: 'failed' }, 'failed'],

  // 3. Not ready: media not acquired yet, or the server has not acknowledged the join.
  ['media idle right after join', { media: 'idle', inCall: false, signaling: 'connecting' }, 'joining'],
  ['media acquiring', { media: 'acquiring', inCall: false }, 'joining'],
  ['media acquiring, already in the call', { media: 'acquiring' }, 'joining'],
  ['media ready, join not acknowledged', { inCall: false }, 'joining'],
  ['media ready, not in call, socket reconnecting', { inCall: false, signaling: 'reconnecting' }, 'joining'],
  ['not in the call hides a connected link', { ...LIVE, inCall: false }, 'joining'],

  // 3b. In a locked room's lobby, whatever the media is doing.
  ['in the lobby, media ready', { signaling: 'knocking', inCall: false }, 'knocking'],
  ['in the lobby, media acquiring', { signaling: 'knocking', media: 'acquiring', inCall: false }, 'knocking'],
  ['media failure wins over the lobby', { signaling: 'knocking', media: 'failed', inCall: false }, 'failed'],

  // 4. At least one connected link.
  ['one connected link', { links: ['connected'] }, 'connected'],
  ['connected beats a failed link', { links: ['failed', 'connected'] }, 'connected'],
  ['connected beats disconnected and new links', { links: ['disconnected', 'new', 'connected'] }, 'connected'],
  ['connected link while the socket reconnects', { signaling: 'reconnecting', links: ['connected'] }, 'connected'],

  // 5. A dropped link, none connected.
  ['disconnected link', { links: ['disconnected'] }, 'reconnecting'],
  ['failed link', { links: ['failed'] }, 'reconnecting'],
  ['failed beats a connecting link', { links: ['connecting', 'failed'] }, 'reconnecting'],
  ['disconnected beats a new link, closed ignored', { links: ['closed', 'new', 'disconnected'] }, 'reconnecting'],

  // 6. Links being negotiated.
  ['new link', { links: ['new'] }, 'connecting'],
  ['connecting link', { links: ['connecting'] }, 'connecting'],
  ['connecting link next to a closed one', { links: ['closed', 'connecting'] }, 'connecting'],
  ['new link while the socket is down', { signaling: 'reconnecting', links: ['new'] }, 'connecting'],

  // 7. No open link: waiting while the room socket is open, else reconnecting.
  ['alone in the call', {}, 'waiting'],
  ['only closed links, socket open', { links: ['closed', 'closed'] }, 'waiting'],
  ['alone, socket reconnecting', { signaling: 'reconnecting' }, 'reconnecting'],
  ['alone, socket connecting', { signaling: 'connecting' }, 'reconnecting'],
  ['alone, socket closed', { signaling: 'closed' }, 'reconnecting'],
  ['alone, socket idle', { signaling: 'idle' }, 'reconnecting'],
  ['only closed links, socket closed', { signaling: 'closed', links: ['closed'] }, 'reconnecting'],

  // 8. The ring flow (mode="call").
  ['rung while idle', { intent: 'idle', media: 'idle', inCall: false, ring: 'incoming' }, 'incoming'],
  ['rung in the pre-join lobby', { intent: 'lobby', ring: 'incoming', inCall: false }, 'incoming'],
  ['rung after a call ended', { intent: 'ended', media: 'idle', inCall: false, ring: 'incoming' }, 'incoming'],
  ['rung after a missed call', { intent: 'missed', media: 'idle', inCall: false, ring: 'incoming' }, 'incoming'],
  ['rung while joining ourselves (glare: the room makes one call)', { media: 'acquiring', inCall: false, ring: 'incoming' }, 'joining'],
  ['rung while in a call', { ...LIVE, ring: 'incoming' }, 'connected'],
  ['we rang: in the call, nobody answered yet', { ring: 'ringing' }, 'ringing'],
  ['we rang, socket reconnecting', { ring: 'ringing', signaling: 'reconnecting' }, 'ringing'],
  ['we rang, camera still starting', { ring: 'ringing', media: 'acquiring' }, 'joining'],
  ['we rang, ring not acknowledged yet', { ring: 'ringing', inCall: false }, 'joining'],
  ['media failure while ringing', { ring: 'ringing', media: 'failed' }, 'failed'],
  ['accepted, negotiating', { ring: 'accepted', links: ['connecting'] }, 'connecting'],
  ['accepted, media flowing', { ...LIVE, ring: 'accepted' }, 'connected'],
  ['accepted, the answerer not there yet', { ring: 'accepted' }, 'waiting'],
  ['declined', { intent: 'declined', media: 'idle', inCall: false }, 'declined'],
  ['missed', { intent: 'missed', media: 'idle', inCall: false }, 'missed'],
  ['busy', { intent: 'busy', media: 'idle', inCall: false, signaling: 'closed' }, 'busy'],
  ['busy wins over a leftover link', { ...LIVE, intent: 'busy' }, 'busy'],
];

describe('deriveCallState', () => {
  for (const [name, overrides, expected] of rows) {
    test(`${name} → ${expected}`, () => {
      assert.equal(deriveCallState({ ...IN_CALL, ...overrides }), expected);
    });
  }

  test('the table reaches every CallState', () => {
    const reached = new Set(rows.map(([, , expected]) => expected));
    assert.deepEqual(
      CALL_STATES.filter((s) => !reached.has(s)),
      [],
    );
  });

  test('CALL_STATES lists the fifteen states once each', () => {
    assert.deepEqual([...CALL_STATES].sort(), [
      'busy',
      'connected',
      'connecting',
      'declined',
      'ended',
      'failed',
      'idle',
      'incoming',
      'joining',
      'knocking',
      'lobby',
      'missed',
      'reconnecting',
      'ringing',
      'waiting',
    ]);
  });

  test('does not mutate its inputs', () => {
    const inputs: CallStateInputs = { ...IN_CALL, links: ['closed', 'connected'] };
    const copy = structuredClone(inputs);
    deriveCallState(inputs);
    assert.deepEqual(inputs, copy);
  });
});
