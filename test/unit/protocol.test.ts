import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as v from 'valibot';
import {
  CLIENT_MESSAGE_TYPES,
  cleanDisplayName,
  LIMITS,
  PROTOCOL_VERSION,
  SignalDataSchema,
  byteLength,
  decodeClientMessage,
  decodeServerMessage,
  encodeMessage,
  parseServerFrame,
  RING_STATES,
  RING_TIMEOUT_MS,
  SERVER_MESSAGE_TYPES,
  type ClientMessage,
  type Decoded,
  type ServerMessage,
} from '../../src/protocol.ts';

const ALICE = 'alice-0123456789abcdef';
const BOB = 'bob_0123456789abcdefgh';

const OFFER = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
const CANDIDATE = 'candidate:842163049 1 udp 1677729535 192.0.2.1 54400 typ srflx raddr 0.0.0.0 rport 0';

const encoder = new TextEncoder();
const utf8Length = (s: string) => encoder.encode(s).length;

function expectOk<T>(decoded: Decoded<T>): T {
  assert.ok(decoded.ok, `expected ok, got ${JSON.stringify(decoded)}`);
  return decoded.message;
}

function expectRefused<T>(decoded: Decoded<T>, code: string): void {
  assert.equal(decoded.ok, false, `expected refusal ${code}, got ${JSON.stringify(decoded)}`);
  if (!decoded.ok) {
    assert.equal(decoded.code, code);
    assert.equal(typeof decoded.message, 'string');
    assert.ok(decoded.message.length > 0 && decoded.message.length <= 200);
  }
}

/** A `signal` frame carrying a description whose SDP is `sdp`. */
const descriptionFrame = (sdp: string) =>
  JSON.stringify({ type: 'signal', to: BOB, data: { kind: 'description', description: { type: 'offer', sdp } } });

const candidateFrame = (candidate: Record<string, unknown>) =>
  JSON.stringify({ type: 'signal', to: BOB, data: { kind: 'candidates', candidates: [candidate] } });

const joinFrame = (name: unknown) => JSON.stringify({ type: 'join', name });

/** One sample of every server→client message (several of some). */
const peer = { id: ALICE, name: 'Alice', inCall: true };
const serverMessages: [string, ServerMessage][] = [
  [
    'welcome',
    {
      type: 'welcome',
      version: PROTOCOL_VERSION,
      id: BOB,
      capacity: 2,
      peers: [peer],
      iceServers: [
        { urls: ['stun:stun.example.org'] },
        { urls: 'turn:turn.example.org', username: '1700000000:' + BOB, credential: 'c2VjcmV0' },
      ],
      iceTtl: 3600,
      locked: false,
    },
  ],
  [
    'welcome (empty room, host)',
    { type: 'welcome', version: PROTOCOL_VERSION, id: BOB, capacity: 6, peers: [], iceServers: [], locked: true, hostKey: 'k'.repeat(22) },
  ],
  [
    'welcome (resumed, with a session token)',
    {
      type: 'welcome',
      version: PROTOCOL_VERSION,
      id: BOB,
      capacity: 2,
      peers: [peer],
      iceServers: [],
      locked: false,
      session: `${BOB}.0.${'m'.repeat(43)}`,
      resumed: true,
    },
  ],
  ['pong', { type: 'pong' }],
  ['session', { type: 'session', session: `${BOB}.sxyz12.${'m'.repeat(43)}` }],
  ['lobby', { type: 'lobby' }],
  ['knocks', { type: 'knocks', peers: [{ id: ALICE, name: 'Alice', inCall: false }] }],
  ['lock-changed', { type: 'lock-changed', locked: true }],
  ['host', { type: 'host', hostKey: 'k'.repeat(22) }],
  ['ice-servers', { type: 'ice-servers', iceServers: [{ urls: 'stun:stun.example.org' }], iceTtl: 60 }],
  ['ice-servers (no credentials)', { type: 'ice-servers', iceServers: [] }],
  ['joined', { type: 'joined', peers: [peer, { id: BOB, name: '', inCall: true }] }],
  ['joined (nobody yet)', { type: 'joined', peers: [] }],
  ['peer-joined', { type: 'peer-joined', peer: { id: ALICE, name: '', inCall: false } }],
  ['peer-updated', { type: 'peer-updated', peer }],
  ['peer-left hangup', { type: 'peer-left', id: ALICE, reason: 'hangup' }],
  ['peer-left left', { type: 'peer-left', id: ALICE, reason: 'left' }],
  ['signal description', { type: 'signal', from: ALICE, data: { kind: 'description', description: { type: 'answer', sdp: OFFER } } }],
  [
    'signal answer with the ICE ufrag of its offer',
    { type: 'signal', from: ALICE, data: { kind: 'description', description: { type: 'answer', sdp: OFFER }, ufrag: 'f00d' } },
  ],
  [
    'signal candidate',
    {
      type: 'signal',
      from: ALICE,
      data: { kind: 'candidates', candidates: [{ candidate: CANDIDATE, sdpMid: 'audio', sdpMLineIndex: 1, usernameFragment: null }] },
    },
  ],
  ['call ringing', { type: 'call', state: 'ringing', peer }],
  ['call ringing (nobody there yet)', { type: 'call', state: 'ringing' }],
  ['call incoming', { type: 'call', state: 'incoming', peer: { id: BOB, name: 'Bob', inCall: true } }],
  ['call accepted', { type: 'call', state: 'accepted', peer }],
  ['call declined', { type: 'call', state: 'declined', peer }],
  ['call missed', { type: 'call', state: 'missed' }],
  ['call busy', { type: 'call', state: 'busy' }],
  ['error', { type: 'error', code: 'no-peer', message: 'no such peer in this call' }],
];

// ------------------------------------------------------------------ round trips

describe('round trips: decode(encode(m)) is m', () => {
  const clientMessages: [string, ClientMessage][] = [
    ['join', { type: 'join', name: 'Alice' }],
    ['join with a non-ASCII name', { type: 'join', name: 'Zoë 🎧 李' }],
    ['leave', { type: 'leave' }],
    ['signal offer', { type: 'signal', to: BOB, data: { kind: 'description', description: { type: 'offer', sdp: OFFER } } }],
    ['signal answer', { type: 'signal', to: BOB, data: { kind: 'description', description: { type: 'answer', sdp: OFFER } } }],
    [
      'signal answer with the ICE ufrag of its offer (relayed, so a late answer to a withdrawn offer is told apart)',
      { type: 'signal', to: BOB, data: { kind: 'description', description: { type: 'answer', sdp: OFFER }, ufrag: 'f00d' } },
    ],
    ['signal pranswer', { type: 'signal', to: BOB, data: { kind: 'description', description: { type: 'pranswer', sdp: OFFER } } }],
    ['signal rollback', { type: 'signal', to: BOB, data: { kind: 'description', description: { type: 'rollback', sdp: '' } } }],
    [
      'signal candidate',
      {
        type: 'signal',
        to: BOB,
        data: {
          kind: 'candidates',
          candidates: [
            { candidate: CANDIDATE, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'f00d' },
            { candidate: CANDIDATE.replace('udp', 'tcp'), sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'f00d' },
          ],
        },
      },
    ],
    [
      'signal end-of-candidates (nulls)',
      {
        type: 'signal',
        to: BOB,
        data: { kind: 'candidates', candidates: [{ candidate: '', sdpMid: null, sdpMLineIndex: null, usernameFragment: null }] },
      },
    ],
    ['lock', { type: 'lock', locked: true }],
    ['unlock', { type: 'lock', locked: false }],
    ['admit', { type: 'admit', id: BOB }],
    ['reject', { type: 'reject', id: BOB }],
    ['ice-refresh', { type: 'ice-refresh' }],
    ['ring', { type: 'ring', name: 'Alice', timeoutMs: 30_000 }],
    ['ring (shortest)', { type: 'ring', name: '', timeoutMs: RING_TIMEOUT_MS.min }],
    ['accept', { type: 'accept', name: 'Bob' }],
    ['decline', { type: 'decline' }],
    ['bye', { type: 'bye' }],
    ['ping', { type: 'ping' }],
  ];
  for (const [name, message] of clientMessages) {
    test(`client ${name}`, () => {
      assert.deepEqual(expectOk(decodeClientMessage(encodeMessage(message))), message);
    });
  }

  test('every client message type is covered', () => {
    assert.deepEqual(new Set(clientMessages.map(([, m]) => m.type)), new Set(CLIENT_MESSAGE_TYPES));
  });

  for (const [name, message] of serverMessages) {
    test(`server ${name}`, () => {
      assert.deepEqual(expectOk(decodeServerMessage(encodeMessage(message))), message);
    });
  }

  test('every server message type is covered', () => {
    assert.deepEqual(new Set(serverMessages.map(([, m]) => m.type)), new Set(SERVER_MESSAGE_TYPES));
  });

  test('a candidate without the optional fields decodes with them as null', () => {
    const decoded = expectOk(decodeClientMessage(candidateFrame({ candidate: CANDIDATE })));
    assert.deepEqual(decoded, {
      type: 'signal',
      to: BOB,
      data: { kind: 'candidates', candidates: [{ candidate: CANDIDATE, sdpMid: null, sdpMLineIndex: null, usernameFragment: null }] },
    });
  });
});

// ------------------------------------------------------------------ frame-level refusals

describe('frame-level refusals', () => {
  const binaryFrames: [string, unknown][] = [
    ['ArrayBuffer', new ArrayBuffer(8)],
    ['ArrayBuffer holding valid JSON', encoder.encode('{"type":"leave"}').buffer],
    ['Uint8Array', new Uint8Array([123, 125])],
    ['Uint8Array holding valid JSON', encoder.encode('{"type":"leave"}')],
    ['DataView', new DataView(new ArrayBuffer(4))],
    ['Buffer', Buffer.from('{"type":"leave"}')],
  ];
  for (const [name, frame] of binaryFrames) {
    test(`binary frame (${name}) → binary-unsupported`, () => {
      expectRefused(decodeClientMessage(frame), 'binary-unsupported');
      expectRefused(decodeServerMessage(frame), 'binary-unsupported');
    });
  }

  test('frame of exactly 64 KiB is accepted, one byte more → too-large', () => {
    const base = descriptionFrame('').length;
    const exact = descriptionFrame('a'.repeat(LIMITS.messageBytes - base));
    assert.equal(utf8Length(exact), LIMITS.messageBytes);
    expectOk(decodeClientMessage(exact));
    const over = descriptionFrame('a'.repeat(LIMITS.messageBytes - base + 1));
    assert.equal(utf8Length(over), LIMITS.messageBytes + 1);
    expectRefused(decodeClientMessage(over), 'too-large');
  });

  test('server frames get envelope headroom: the relayed form of a maximal client frame decodes', () => {
    const base = descriptionFrame('').length;
    const over = descriptionFrame('a'.repeat(LIMITS.serverMessageBytes - base + 1));
    expectRefused(decodeServerMessage(over), 'too-large');
  });

  test('multi-byte UTF-8: .length under the limit but bytes over → too-large', () => {
    const frame = descriptionFrame('é'.repeat(33_000)); // 2 bytes each
    assert.ok(frame.length < LIMITS.messageBytes);
    assert.ok(utf8Length(frame) > LIMITS.messageBytes);
    expectRefused(decodeClientMessage(frame), 'too-large');
    const astral = descriptionFrame('😀'.repeat(16_400)); // 2 code units, 4 bytes each
    assert.ok(astral.length < LIMITS.messageBytes);
    assert.ok(utf8Length(astral) > LIMITS.messageBytes);
    expectRefused(decodeClientMessage(astral), 'too-large');
  });

  test('a huge frame of non-JSON text → too-large, not bad-json', () => {
    expectRefused(decodeClientMessage('x'.repeat(LIMITS.messageBytes + 1)), 'too-large');
    expectRefused(decodeClientMessage('{'.repeat(1_000_000)), 'too-large');
  });

  const badJson = ['', ' ', '{', '{"type":"leave",}', "{'type':'leave'}", 'undefined', 'NaN', '{"type":"leave"}}', '\u0000'];
  for (const frame of badJson) {
    test(`malformed JSON ${JSON.stringify(frame)} → bad-json`, () => {
      expectRefused(decodeClientMessage(frame), 'bad-json');
      expectRefused(decodeServerMessage(frame), 'bad-json');
    });
  }

  const notObjects = ['0', '1.5', '-1', '[]', '[{"type":"leave"}]', 'null', '"leave"', '"{\\"type\\":\\"leave\\"}"', 'true', 'false'];
  for (const frame of notObjects) {
    test(`non-object JSON ${frame} → bad-message`, () => {
      expectRefused(decodeClientMessage(frame), 'bad-message');
      expectRefused(decodeServerMessage(frame), 'bad-message');
    });
  }

  const unknownTypes = [
    '{}',
    '{"name":"Alice"}',
    '{"type":"welcome"}',
    '{"type":"error","code":"x","message":"y"}',
    '{"type":"JOIN","name":"Alice"}',
    '{"type":" join","name":"Alice"}',
    '{"type":1}',
    '{"type":null}',
    '{"type":["join"]}',
    '{"type":{"toString":"join"}}',
    '{"type":"constructor"}',
    '{"type":"__proto__"}',
    '{"type":"hasOwnProperty"}',
    '{"__proto__":{"type":"leave"}}',
  ];
  for (const frame of unknownTypes) {
    test(`client frame ${frame} → unknown-type`, () => {
      expectRefused(decodeClientMessage(frame), 'unknown-type');
    });
  }

  test('server frames of unknown type are refused too (as bad-message)', () => {
    expectRefused(decodeServerMessage('{"type":"join","name":"Alice"}'), 'bad-message');
    expectRefused(decodeServerMessage('{}'), 'bad-message');
  });
});

// ------------------------------------------------------------------ field validation

describe('field validation → bad-message', () => {
  const signal = (data: unknown, to: unknown = BOB) => JSON.stringify({ type: 'signal', to, data });
  const description = (d: unknown) => signal({ kind: 'description', description: d });
  const cases: [string, string][] = [
    ['join without name', '{"type":"join"}'],
    ['join with numeric name', joinFrame(5)],
    ['join with null name', joinFrame(null)],
    ['join with array name', joinFrame(['Alice'])],
    ['signal without to', JSON.stringify({ type: 'signal', data: { kind: 'description', description: { type: 'offer', sdp: '' } } })],
    ['signal with numeric to', description({ type: 'offer', sdp: '' }).replace(JSON.stringify(BOB), '42')],
    ['signal to a too-short id', signal({ kind: 'description', description: { type: 'offer', sdp: '' } }, 'abc')],
    ['signal to a too-long id', signal({ kind: 'description', description: { type: 'offer', sdp: '' } }, 'a'.repeat(33))],
    ['signal to an id with bad characters', signal({ kind: 'description', description: { type: 'offer', sdp: '' } }, 'alice/0123456789abcdef')],
    ['signal without data', JSON.stringify({ type: 'signal', to: BOB })],
    ['signal with string data', signal('offer')],
    ['signal with unknown kind', signal({ kind: 'media', description: { type: 'offer', sdp: '' } })],
    ['signal without kind', signal({ description: { type: 'offer', sdp: '' } })],
    ['description missing', signal({ kind: 'description' })],
    ['description of unknown type', description({ type: 'bogus', sdp: '' })],
    ['description without sdp', description({ type: 'offer' })],
    ['description with numeric sdp', description({ type: 'offer', sdp: 1 })],
    ['description with null sdp', description({ type: 'offer', sdp: null })],
    ['description with a numeric ufrag', signal({ kind: 'description', description: { type: 'answer', sdp: '' }, ufrag: 1 })],
    ['description with a ufrag over 256 characters (RFC 8839 §5.4)', signal({ kind: 'description', description: { type: 'answer', sdp: '' }, ufrag: 'u'.repeat(257) })],
    ['candidates missing', signal({ kind: 'candidates' })],
    ['no candidates', signal({ kind: 'candidates', candidates: [] })],
    ['a candidate alone, not in a list', signal({ kind: 'candidates', candidates: { candidate: CANDIDATE } })],
    ['the old one-candidate kind', signal({ kind: 'candidate', candidate: { candidate: CANDIDATE } })],
    [
      `more than ${LIMITS.candidatesPerNegotiation} candidates`,
      signal({ kind: 'candidates', candidates: Array.from({ length: LIMITS.candidatesPerNegotiation + 1 }, () => ({ candidate: CANDIDATE })) }),
    ],
    ['candidate string missing', candidateFrame({ sdpMid: '0' })],
    ['candidate numeric', candidateFrame({ candidate: 7 })],
    ['candidate sdpMid numeric', candidateFrame({ candidate: '', sdpMid: 0 })],
    ['candidate sdpMid too long', candidateFrame({ candidate: '', sdpMid: 'm'.repeat(65) })],
    ['candidate sdpMLineIndex fractional', candidateFrame({ candidate: '', sdpMLineIndex: 1.5 })],
    ['candidate sdpMLineIndex negative', candidateFrame({ candidate: '', sdpMLineIndex: -1 })],
    ['candidate sdpMLineIndex 256', candidateFrame({ candidate: '', sdpMLineIndex: 256 })],
    ['candidate sdpMLineIndex as string', candidateFrame({ candidate: '', sdpMLineIndex: '0' })],
    ['candidate usernameFragment too long', candidateFrame({ candidate: '', usernameFragment: 'u'.repeat(257) })],
    ['ring without timeout', JSON.stringify({ type: 'ring', name: 'A' })],
    ['ring with a timeout under 1 s', JSON.stringify({ type: 'ring', name: 'A', timeoutMs: 999 })],
    ['ring with a timeout over 120 s', JSON.stringify({ type: 'ring', name: 'A', timeoutMs: 120_001 })],
    ['ring with a fractional timeout', JSON.stringify({ type: 'ring', name: 'A', timeoutMs: 1500.5 })],
    ['ring with a string timeout', JSON.stringify({ type: 'ring', name: 'A', timeoutMs: '30000' })],
    ['ring with a bidi-override name', JSON.stringify({ type: 'ring', name: 'A\u202e', timeoutMs: 30_000 })],
    ['accept without name', JSON.stringify({ type: 'accept' })],
  ];
  for (const [name, frame] of cases) {
    test(name, () => expectRefused(decodeClientMessage(frame), 'bad-message'));
  }

  test('server messages are validated too', () => {
    expectRefused(decodeServerMessage('{"type":"peer-left","id":"' + ALICE + '","reason":"kicked"}'), 'bad-message');
    expectRefused(decodeServerMessage('{"type":"signal","from":"x","data":{"kind":"candidate","candidate":{"candidate":""}}}'), 'bad-message');
    expectRefused(decodeServerMessage('{"type":"welcome","id":"' + ALICE + '"}'), 'bad-message');
  });
});

describe('size limits inside messages', () => {
  test('SDP: near the frame limit is accepted; over 64 KiB is refused', () => {
    expectOk(decodeClientMessage(descriptionFrame('s'.repeat(LIMITS.messageBytes - 200))));
    // A frame carrying a > 64 KiB SDP is necessarily over the frame limit.
    expectRefused(decodeClientMessage(descriptionFrame('s'.repeat(LIMITS.sdpBytes + 1))), 'too-large');
    // The SDP rule itself, checked without the frame limit in front of it.
    const sdpData = (sdp: string) => ({ kind: 'description', description: { type: 'offer', sdp } });
    assert.equal(v.safeParse(SignalDataSchema, sdpData('s'.repeat(LIMITS.sdpBytes))).success, true);
    assert.equal(v.safeParse(SignalDataSchema, sdpData('s'.repeat(LIMITS.sdpBytes + 1))).success, false);
    assert.equal(v.safeParse(SignalDataSchema, sdpData('é'.repeat(LIMITS.sdpBytes / 2 + 1))).success, false);
  });

  test('candidate: 1024 bytes accepted, 1025 refused; counted in UTF-8 bytes', () => {
    expectOk(decodeClientMessage(candidateFrame({ candidate: 'c'.repeat(LIMITS.candidateBytes) })));
    expectRefused(decodeClientMessage(candidateFrame({ candidate: 'c'.repeat(LIMITS.candidateBytes + 1) })), 'bad-message');
    const multiByte = 'é'.repeat(LIMITS.candidateBytes / 2 + 1); // 513 code units, 1026 bytes
    assert.ok(multiByte.length < LIMITS.candidateBytes);
    expectRefused(decodeClientMessage(candidateFrame({ candidate: multiByte })), 'bad-message');
  });
});

describe('display names', () => {
  const nameOf = (frame: string) => {
    const m = expectOk(decodeClientMessage(frame));
    assert.equal(m.type, 'join');
    return m.type === 'join' ? m.name : undefined;
  };

  test('64 UTF-16 code units accepted, 65 refused', () => {
    assert.equal(nameOf(joinFrame('n'.repeat(LIMITS.nameChars))), 'n'.repeat(LIMITS.nameChars));
    expectRefused(decodeClientMessage(joinFrame('n'.repeat(LIMITS.nameChars + 1))), 'bad-message');
    // Astral characters count as two code units.
    assert.equal(nameOf(joinFrame('🎧'.repeat(32))), '🎧'.repeat(32));
    expectRefused(decodeClientMessage(joinFrame('🎧'.repeat(33))), 'bad-message');
  });

  test('names are trimmed, and the limit applies after trimming', () => {
    assert.equal(nameOf(joinFrame('  Alice Smith  ')), 'Alice Smith');
    assert.equal(nameOf(joinFrame('\u00a0Zoë\u3000')), 'Zoë');
    assert.equal(nameOf(joinFrame(' ' + 'n'.repeat(LIMITS.nameChars) + ' ')), 'n'.repeat(LIMITS.nameChars));
  });

  const forbidden: [string, string][] = [
    ['NUL', 'a\u0000b'],
    ['BEL', 'a\u0007b'],
    ['ESC (terminal escapes)', 'a\u001b[31mb'],
    ['inner newline', 'Alice\nBob'],
    ['inner tab', 'Alice\tBob'],
    ['DEL', 'a\u007fb'],
    ['C1 NEL', 'a\u0085b'],
    ['C1 CSI', 'a\u009bb'],
    ['LRE U+202A', 'a\u202ab'],
    ['RLO U+202E', 'evil\u202Egpj.exe'],
    ['LRI U+2066', 'a\u2066b'],
    ['RLI U+2067', 'a\u2067b'],
    ['FSI U+2068', 'a\u2068b'],
    ['PDI U+2069', 'a\u2069b'],
    ['RLO alone', '\u202E'],
    ['ALM U+061C', 'a\u061cb'],
    ['RLM U+200F', 'a\u200fb'],
    ['zero-width space U+200B', 'Ali\u200bce'],
    ['word joiner U+2060', 'a\u2060b'],
    ['inner BOM U+FEFF', 'Al\ufeffice'],
    ['soft hyphen U+00AD', 'Al\u00adice'],
    ['tag characters (hidden text)', 'Alice\u{E0069}\u{E0067}'],
    ['line separator U+2028', 'Alice\u2028Bob'],
    ['paragraph separator U+2029', 'Alice\u2029Bob'],
    ['Hangul filler U+3164 (a blank name)', '\u3164'],
    ['halfwidth Hangul filler U+FFA0', 'a\uffa0b'],
    ['Hangul choseong filler U+115F', '\u115f\u1160'],
    ['combining grapheme joiner U+034F', 'Al\u034fice'],
    ['Khmer inherent vowel U+17B4', 'Al\u17b4ice'],
    ['variation selectors past U+FE0F (hidden bytes)', 'Alice\u{E0100}\u{E0101}'],
    ['nothing visible: a joiner alone', '\u200d'],
    ['nothing visible: combining marks alone', '\u0301\u0302'],
    ['nothing visible: braille blank', '\u2800\u2800'],
  ];
  test('names that need ZWNJ or ZWJ are accepted: Persian, Devanagari, emoji sequences', () => {
    for (const name of ['\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645', '\u0915\u094d\u200d\u0937', '👩\u200d💻 Ana', '❤\ufe0f', '\u182a\u180e\u1820', 'Zoë', 'e\u0301']) {
      assert.equal(nameOf(joinFrame(name)), name);
      assert.equal(cleanDisplayName(name), name);
    }
  });
  for (const [name, value] of forbidden) {
    test(`name with ${name} → bad-message`, () => {
      expectRefused(decodeClientMessage(joinFrame(value)), 'bad-message');
    });
  }

  test('cleanDisplayName turns anything typed into a name the server accepts, keeping the rest', () => {
    assert.equal(cleanDisplayName('  evil\u202Egpj.exe '), 'evilgpj.exe');
    assert.equal(cleanDisplayName('Alice\nBob'), 'AliceBob');
    assert.equal(cleanDisplayName('\u3164\u200b\ufeff'), '', 'invisible only: anonymous');
    assert.equal(cleanDisplayName('\u200d\ufe0f\u0301 \u2800'), '', 'nothing visible: anonymous');
    assert.equal(cleanDisplayName('Alice\u{E0100}\u{E0101}'), 'Alice');
    assert.equal(cleanDisplayName('A\u200bl\u00adi\u2028ce\u{E0041}'), 'Alice');
    assert.equal(cleanDisplayName('<img src=x onerror=alert(1)>'), '<img src=x onerror=alert(1)>');
    assert.equal(cleanDisplayName('n'.repeat(63) + '🎧'), 'n'.repeat(63), 'never half a surrogate pair');
    fc.assert(
      // Random code points, mixed with the invisible, joining and blank ones the rules are about.
      fc.property(fc.string({ unit: fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.constantFrom('\u200b', '\u200c', '\u200d', '\u00ad', '\u034f', '\u0301', '\u2800', '\u3164', '\ufe0f', '\u{E0067}', '\u{E0100}', '\u2028', '\u202e', ' ', 'a')), maxLength: 60 }), (typed) => {
        const name = cleanDisplayName(typed);
        const decoded = decodeClientMessage(joinFrame(name));
        assert.ok(decoded.ok, `refused ${JSON.stringify(name)}`);
        assert.equal(decoded.ok && decoded.message.type === 'join' && decoded.message.name, name);
      }),
      { seed: 0xc1ea, numRuns: 2000 },
    );
  });

  // DisplayNameSchema's own doc: "A display name: 1–64 UTF-16 code units".
  test('empty or whitespace-only name is anonymous: accepted and trimmed to empty', () => {
    for (const name of ['', '   ']) {
      const decoded = decodeClientMessage(joinFrame(name));
      assert.ok(decoded.ok);
      assert.deepEqual(decoded.message, { type: 'join', name: '' });
    }
  });
});

describe('unknown fields are stripped', () => {
  const ownKeys = (o: unknown): string[] => Reflect.ownKeys(o as object).map(String).sort();

  test('top-level and nested extra fields are dropped, including a client-sent `from`', () => {
    const frame = JSON.stringify({
      type: 'signal',
      to: BOB,
      from: ALICE,
      extra: { deep: [1, 2, 3] },
      data: {
        kind: 'candidates',
        x: 1,
        candidates: [{ candidate: CANDIDATE, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: null, relayProtocol: 'udp' }],
      },
    });
    const m = expectOk(decodeClientMessage(frame));
    assert.deepEqual(m, {
      type: 'signal',
      to: BOB,
      data: { kind: 'candidates', candidates: [{ candidate: CANDIDATE, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: null }] },
    });
    assert.deepEqual(ownKeys(m), ['data', 'to', 'type']);
  });

  test('join and leave keep only their own fields', () => {
    const join = expectOk(decodeClientMessage('{"type":"join","name":"Alice","admin":true,"id":"x"}'));
    assert.deepEqual(ownKeys(join), ['name', 'type']);
    const leave = expectOk(decodeClientMessage('{"type":"leave","reason":"bye","to":"' + BOB + '"}'));
    assert.deepEqual(ownKeys(leave), ['type']);
  });

  test('server messages are stripped too', () => {
    const m = expectOk(decodeServerMessage(`{"type":"peer-left","id":"${ALICE}","reason":"left","html":"<b>"}`));
    assert.deepEqual(ownKeys(m), ['id', 'reason', 'type']);
  });

  const prototypeKeyFrames: [string, string, string[]][] = [
    ['__proto__ on join', '{"type":"join","name":"Alice","__proto__":{"polluted":true,"type":"leave"}}', ['name', 'type']],
    ['constructor.prototype on join', '{"type":"join","name":"Alice","constructor":{"prototype":{"polluted":true}}}', ['name', 'type']],
    ['prototype on leave', '{"type":"leave","prototype":{"polluted":true}}', ['type']],
    [
      '__proto__ inside data and description',
      `{"type":"signal","to":"${BOB}","data":{"__proto__":{"polluted":true},"kind":"description","description":{"constructor":{"prototype":{"polluted":true}},"type":"offer","sdp":"v=0","__proto__":{"sdp":"x"}}}}`,
      ['data', 'to', 'type'],
    ],
  ];
  for (const [name, frame, keys] of prototypeKeyFrames) {
    test(`${name}: stripped, no prototype pollution`, () => {
      const m = expectOk(decodeClientMessage(frame));
      assert.deepEqual(ownKeys(m), keys);
      assert.equal(Object.getPrototypeOf(m), Object.prototype);
      assert.equal(Object.hasOwn(m, '__proto__'), false);
      assert.equal(Object.hasOwn(m, 'constructor'), false);
      assert.equal((m as Record<string, unknown>).polluted, undefined);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
      if (m.type === 'signal' && m.data.kind === 'description') {
        assert.deepEqual(ownKeys(m.data), ['description', 'kind']);
        assert.deepEqual(ownKeys(m.data.description), ['sdp', 'type']);
        assert.equal(m.data.description.sdp, 'v=0');
      }
    });
  }
});

// ------------------------------------------------------------------ byteLength

describe('byteLength', () => {
  test('known values', () => {
    const cases: [string, number][] = [
      ['', 0],
      ['a', 1],
      ['\u007f', 1],
      ['\u0080', 2],
      ['é', 2],
      ['\u07ff', 2],
      ['\u0800', 3],
      ['€', 3],
      ['\uffff', 3],
      ['😀', 4],
      ['\ud83d', 3], // lone high surrogate → U+FFFD
      ['\ude00', 3], // lone low surrogate → U+FFFD
      ['\ude00\ud83d', 6], // reversed pair: two lone surrogates
      ['a\ud83d', 4], // high surrogate at the very end
      ['\ud83d\ud83d\ude00', 7], // lone high, then a pair
    ];
    for (const [s, n] of cases) {
      assert.equal(byteLength(s), n, JSON.stringify(s));
      assert.equal(utf8Length(s), n, `TextEncoder agrees on ${JSON.stringify(s)}`);
    }
  });

  test('matches TextEncoder on arbitrary strings (property)', () => {
    const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    const surrogateHeavy = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '\ud83d', '\ude00', 'a', '€', '😀');
    const strings = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 100 }),
      fc.string({ unit: 'grapheme-composite', maxLength: 100 }),
      fc.string({ unit: codeUnit, maxLength: 200 }),
      fc.string({ unit: surrogateHeavy, maxLength: 50 }),
    );
    fc.assert(
      fc.property(strings, (s) => {
        assert.equal(byteLength(s), utf8Length(s));
      }),
      { seed: 20240611, numRuns: 5000 },
    );
  });
});

// ------------------------------------------------------------------ the client's frame guard

/**
 * What the widget relies on in a server frame: the shape `parseServerFrame`
 * promises, written as a valibot schema (types only, no value rules).
 */
const PeerShape = v.object({ id: v.string(), name: v.string(), inCall: v.boolean() });
const IceShape = v.object({
  urls: v.union([v.string(), v.array(v.string())]),
  username: v.optional(v.string()),
  credential: v.optional(v.string()),
});
const FiniteNumber = v.pipe(v.number(), v.finite());
const ServerShape = v.union([
  // Another version's welcome: its version alone is read.
  v.object({ type: v.literal('welcome'), version: v.pipe(FiniteNumber, v.notValue(PROTOCOL_VERSION)) }),
  v.variant('type', [
  v.object({
    type: v.literal('welcome'),
    version: v.literal(PROTOCOL_VERSION),
    id: v.string(),
    peers: v.array(PeerShape),
    iceServers: v.array(IceShape),
    iceTtl: v.optional(FiniteNumber),
    locked: v.boolean(),
    hostKey: v.optional(v.string()),
    session: v.optional(v.string()),
    resumed: v.optional(v.boolean()),
  }),
  v.object({ type: v.picklist(['pong', 'lobby']) }),
  v.object({ type: v.picklist(['knocks', 'joined']), peers: v.array(PeerShape) }),
  v.object({ type: v.literal('lock-changed'), locked: v.boolean() }),
  v.object({ type: v.literal('host'), hostKey: v.string() }),
  v.object({ type: v.literal('session'), session: v.string() }),
  v.object({ type: v.literal('ice-servers'), iceServers: v.array(IceShape), iceTtl: v.optional(FiniteNumber) }),
  v.object({ type: v.picklist(['peer-joined', 'peer-updated']), peer: PeerShape }),
  v.object({ type: v.literal('peer-left'), id: v.string(), reason: v.picklist(['hangup', 'left']) }),
  v.object({
    type: v.literal('signal'),
    from: v.string(),
    data: v.variant('kind', [
      v.object({ kind: v.literal('description'), description: v.object({ type: v.string(), sdp: v.string() }), ufrag: v.optional(v.string()) }),
      v.object({ kind: v.literal('candidates'), candidates: v.array(v.object({ candidate: v.string() })) }),
    ]),
  }),
  v.object({ type: v.literal('call'), state: v.picklist(RING_STATES), peer: v.optional(PeerShape) }),
  v.object({ type: v.literal('error'), code: v.string(), message: v.string() }),
  ]),
]);

/** Any JSON value, nested a little. */
const anyJson = fc.jsonValue({ maxDepth: 3 });

/** `message` with the value at one path (found by walking `steps`) replaced by `value`. */
function mutate(message: unknown, steps: number[], value: unknown): unknown {
  const copy = structuredClone(message) as Record<string, unknown>;
  let node: Record<string, unknown> = copy;
  for (const [i, step] of steps.entries()) {
    const keys = Object.keys(node);
    if (!keys.length) break;
    const key = keys[step % keys.length]!;
    const child = node[key];
    if (i === steps.length - 1 || typeof child !== 'object' || child === null) {
      node[key] = value;
      break;
    }
    node = child as Record<string, unknown>;
  }
  return copy;
}

describe('parseServerFrame (the client\'s check of server frames)', () => {
  test('accepts every server message the strict schema accepts, unchanged', () => {
    for (const [name, message] of serverMessages) {
      assert.deepEqual(parseServerFrame(encodeMessage(message)), message, name);
    }
  });

  test('refuses non-text, non-JSON, non-objects, unknown types and oversized frames', () => {
    for (const frame of [undefined, null, 1, new ArrayBuffer(4), '', 'nope', '[]', 'null', '"welcome"', '{}', '{"type":"hello"}', '{"type":1}']) {
      assert.equal(parseServerFrame(frame), null, String(frame));
    }
    const big = JSON.stringify({ type: 'error', code: 'x', message: 'a'.repeat(LIMITS.serverMessageBytes) });
    assert.equal(parseServerFrame(big), null);
  });

  test('refuses a frame missing or mistyping a field the widget reads', () => {
    const frames: unknown[] = [
      { type: 'welcome', id: BOB, peers: [], iceServers: [], locked: false },
      { type: 'welcome', version: String(PROTOCOL_VERSION), id: BOB, peers: [], iceServers: [], locked: false },
      { type: 'welcome', version: PROTOCOL_VERSION, id: BOB, peers: [], iceServers: [], locked: 'no' },
      { type: 'welcome', version: PROTOCOL_VERSION, id: BOB, peers: [{ id: ALICE }], iceServers: [], locked: false },
      { type: 'welcome', version: PROTOCOL_VERSION, id: BOB, peers: [], iceServers: [{ urls: 5 }], locked: false },
      { type: 'welcome', version: PROTOCOL_VERSION, id: BOB, peers: [], iceServers: [], locked: false, iceTtl: 'soon' },
      { type: 'joined', peers: {} },
      { type: 'peer-left', id: ALICE, reason: 'vanished' },
      { type: 'signal', from: ALICE, data: { kind: 'description', description: { type: 'offer' } } },
      { type: 'signal', from: ALICE, data: { kind: 'description', description: { type: 'answer', sdp: '' }, ufrag: 7 } },
      { type: 'signal', from: ALICE, data: { kind: 'candidates', candidates: [{ candidate: 42 }] } },
      { type: 'signal', from: ALICE, data: { kind: 'telepathy' } },
      { type: 'peer-joined', peer: null },
      { type: 'call', state: 'answered' },
      { type: 'call', state: 'incoming', peer: { id: ALICE } },
    ];
    for (const frame of frames) assert.equal(parseServerFrame(JSON.stringify(frame)), null, JSON.stringify(frame));
  });

  test('a welcome of another protocol version is let through on its version alone (the widget then closes; the rest may have changed shape)', () => {
    for (const version of [1, PROTOCOL_VERSION - 1, PROTOCOL_VERSION + 1, 0.5]) {
      const frame = { type: 'welcome', version, you: 'are', in: ['another', 'shape'] };
      assert.deepEqual(parseServerFrame(JSON.stringify(frame)), frame);
    }
    for (const version of ['3', null, [3]]) {
      assert.equal(parseServerFrame(JSON.stringify({ type: 'welcome', version })), null, JSON.stringify(version));
    }
    assert.equal(parseServerFrame(JSON.stringify({ type: 'welcome', version: PROTOCOL_VERSION })), null, 'ours: every field is read');
  });

  test('whatever it accepts has the shape the widget reads; it never throws (property)', () => {
    const samples = serverMessages.map(([, m]) => m);
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
        anyJson,
        (message, steps, value) => {
          const frame = JSON.stringify(mutate(message, steps, value));
          const parsed = parseServerFrame(frame);
          if (parsed === null) return;
          accepted++;
          const shape = v.safeParse(ServerShape, parsed);
          assert.ok(shape.success, `accepted a frame of the wrong shape: ${frame.slice(0, 300)}`);
        },
      ),
      { seed: 20261123, numRuns: 8000 },
    );
    assert.ok(accepted > 500, `the property exercised too few accepted frames (${accepted})`);
  });

  test('it is no stricter than the room server\'s schema (property)', () => {
    // Frames the strict schema accepts, with generated values in its string fields.
    const name = fc.string({ maxLength: 64 });
    const frames = fc.oneof(
      name.map((n) => ({ type: 'peer-joined', peer: { id: ALICE, name: n, inCall: false } })),
      fc.string({ maxLength: 200 }).map((message) => ({ type: 'error', code: 'no-peer', message })),
      fc.string({ maxLength: 2000 }).map((sdp) => ({
        type: 'signal',
        from: ALICE,
        data: { kind: 'description', description: { type: 'offer', sdp } },
      })),
    );
    fc.assert(
      fc.property(frames, (message) => {
        const frame = JSON.stringify(message);
        assert.equal(decodeServerMessage(frame).ok, true);
        assert.notEqual(parseServerFrame(frame), null, frame.slice(0, 200));
      }),
      { seed: 20261124, numRuns: 2000 },
    );
  });
});
