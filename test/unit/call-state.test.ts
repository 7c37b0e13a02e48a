import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CALL_STATES,
  deriveCallState,
  type CallState,
  type CallStateInputs,
} from '../../src/call-state.ts';

/** Inputs of a widget that is in the call, with media and an open room socket, alone. */
const IN_CALL: CallStateInputs = { intent: 'join', media: 'ready', signaling: 'open', inCall: true, links: [] };

/** Inputs that would give `connected` if the intent did not win. */
const CONNECTED_OTHERWISE: CallStateInputs = { ...IN_CALL, links: ['connected'] };

interface Case {
  name: string;
  inputs: CallStateInputs;
  expected: CallState;
}

const cases: Case[] = [
  // 1. The user's intent and the terminal outcomes win over everything else.
  { name: 'idle intent, nothing started', inputs: { ...IN_CALL, intent: 'idle', media: 'idle', inCall: false, signaling: 'idle' }, expected: 'idle' },
  { name: 'idle intent wins over a connected link', inputs: { ...CONNECTED_OTHERWISE, intent: 'idle' }, expected: 'idle' },
  { name: 'ended intent wins over a connected link', inputs: { ...CONNECTED_OTHERWISE, intent: 'ended' }, expected: 'ended' },
  { name: 'ended intent with media stopped and socket closed', inputs: { ...IN_CALL, intent: 'ended', media: 'idle', signaling: 'closed', inCall: false }, expected: 'ended' },
  { name: 'failed intent wins over a connected link', inputs: { ...CONNECTED_OTHERWISE, intent: 'failed' }, expected: 'failed' },
  { name: 'failed intent with media failed', inputs: { ...IN_CALL, intent: 'failed', media: 'failed' }, expected: 'failed' },

  // 2. Media failure while joining.
  { name: 'media failed while joining', inputs: { ...IN_CALL, media: 'failed', inCall: false }, expected: 'failed' },
  { name: 'media failed wins over a connected link', inputs: { ...CONNECTED_OTHERWISE, media: 'failed' }, expected: 'failed' },

  // 3. Not ready yet: media not acquired, or the server has not acknowledged the join.
  { name: 'media idle right after join pressed', inputs: { ...IN_CALL, media: 'idle', inCall: false, signaling: 'connecting' }, expected: 'joining' },
  { name: 'media acquiring', inputs: { ...IN_CALL, media: 'acquiring', inCall: false }, expected: 'joining' },
  { name: 'media acquiring even if inCall', inputs: { ...IN_CALL, media: 'acquiring' }, expected: 'joining' },
  { name: 'media ready, join not acknowledged', inputs: { ...IN_CALL, inCall: false }, expected: 'joining' },
  { name: 'media ready, not in call, socket reconnecting', inputs: { ...IN_CALL, inCall: false, signaling: 'reconnecting' }, expected: 'joining' },
  { name: 'not in call hides a connected link', inputs: { ...CONNECTED_OTHERWISE, inCall: false }, expected: 'joining' },

  // 4. At least one connected link.
  { name: 'one connected link', inputs: { ...IN_CALL, links: ['connected'] }, expected: 'connected' },
  { name: 'connected beats a failed link', inputs: { ...IN_CALL, links: ['failed', 'connected'] }, expected: 'connected' },
  { name: 'connected beats a disconnected and a new link', inputs: { ...IN_CALL, links: ['disconnected', 'new', 'connected'] }, expected: 'connected' },
  { name: 'connected link while the socket reconnects', inputs: { ...IN_CALL, signaling: 'reconnecting', links: ['connected'] }, expected: 'connected' },

  // 5. A dropped link (and none connected).
  { name: 'disconnected link', inputs: { ...IN_CALL, links: ['disconnected'] }, expected: 'reconnecting' },
  { name: 'failed link', inputs: { ...IN_CALL, links: ['failed'] }, expected: 'reconnecting' },
  { name: 'failed beats a connecting link', inputs: { ...IN_CALL, links: ['connecting', 'failed'] }, expected: 'reconnecting' },
  { name: 'disconnected beats a new link, closed ignored', inputs: { ...IN_CALL, links: ['closed', 'new', 'disconnected'] }, expected: 'reconnecting' },

  // 6. Links being negotiated.
  { name: 'new link', inputs: { ...IN_CALL, links: ['new'] }, expected: 'connecting' },
  { name: 'connecting link', inputs: { ...IN_CALL, links: ['connecting'] }, expected: 'connecting' },
  { name: 'connecting link next to a closed one', inputs: { ...IN_CALL, links: ['closed', 'connecting'] }, expected: 'connecting' },
  { name: 'new link while the socket is down', inputs: { ...IN_CALL, signaling: 'reconnecting', links: ['new'] }, expected: 'connecting' },

  // 7. No open link: waiting when the room socket is open, else reconnecting.
  { name: 'alone in the call', inputs: IN_CALL, expected: 'waiting' },
  { name: 'only closed links, socket open', inputs: { ...IN_CALL, links: ['closed', 'closed'] }, expected: 'waiting' },
  { name: 'alone, socket reconnecting', inputs: { ...IN_CALL, signaling: 'reconnecting' }, expected: 'reconnecting' },
  { name: 'alone, socket connecting', inputs: { ...IN_CALL, signaling: 'connecting' }, expected: 'reconnecting' },
  { name: 'alone, socket closed', inputs: { ...IN_CALL, signaling: 'closed' }, expected: 'reconnecting' },
  { name: 'alone, socket idle', inputs: { ...IN_CALL, signaling: 'idle' }, expected: 'reconnecting' },
  { name: 'only closed links, socket closed', inputs: { ...IN_CALL, signaling: 'closed', links: ['closed'] }, expected: 'reconnecting' },
];

describe('deriveCallState', () => {
  for (const { name, inputs, expected } of cases) {
    test(`${name} → ${expected}`, () => {
      assert.equal(deriveCallState(inputs), expected);
    });
  }

  test('the table reaches every CallState', () => {
    const reached = new Set(cases.map((c) => c.expected));
    assert.deepEqual([...CALL_STATES].filter((s) => !reached.has(s)), []);
  });

  test('every expectation in the table is a CallState', () => {
    for (const c of cases) assert.ok(CALL_STATES.includes(c.expected), c.name);
  });

  test('CALL_STATES lists each state once', () => {
    assert.equal(new Set(CALL_STATES).size, CALL_STATES.length);
    assert.deepEqual(
      [...CALL_STATES].sort(),
      ['connected', 'connecting', 'ended', 'failed', 'idle', 'joining', 'reconnecting', 'waiting'],
    );
  });

  test('does not mutate its inputs', () => {
    const links: RTCPeerConnectionState[] = ['closed', 'connected'];
    const inputs: CallStateInputs = { ...IN_CALL, links };
    const copy = structuredClone(inputs);
    deriveCallState(inputs);
    assert.deepEqual(inputs, copy);
  });
});
