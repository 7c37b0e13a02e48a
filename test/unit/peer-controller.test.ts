/**
 * The peer controller's recovery schedule, on stand-in peer connections and
 * mocked timers: what a link does after it has used up its steps (a group
 * call goes on), and how `resume()` steps links. Real peer connections are
 * in test/browser and test/e2e; here only the schedule.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';

// Node has no MediaStream; the controller makes one per link for the remote tracks.
(globalThis as { MediaStream?: unknown }).MediaStream ??= class {
  readonly #tracks: unknown[] = [];
  getTracks(): unknown[] {
    return this.#tracks;
  }
  addTrack(track: unknown): void {
    this.#tracks.push(track);
  }
};
const { HEARTBEAT, PeerController, RECOVERY } = await import('../../src/controllers/peer-controller.ts');
const { LIMITS, decodeClientMessage, encodeMessage } = await import('../../src/protocol.ts');
const { PeerSession, CANDIDATE_BATCH_MS } = await import('../../src/peer/peer-session.ts');

/** The parts of RTCPeerConnection the peer layer touches, with the state the test sets. */
class StandInConnection {
  static made: StandInConnection[] = [];
  signalingState: RTCSignalingState = 'stable';
  connectionState: RTCPeerConnectionState = 'new';
  localDescription: RTCSessionDescriptionInit | null = null;
  currentRemoteDescription: RTCSessionDescriptionInit | null = null;
  remoteDescription: RTCSessionDescriptionInit | null = null;
  restarts = 0;
  closed = false;
  onconnectionstatechange: (() => void) | null = null;
  onicecandidate: ((event: { candidate: object | null }) => void) | null = null;
  onnegotiationneeded: (() => void) | null = null;
  constructor() {
    StandInConnection.made.push(this);
  }
  addTransceiver(kind: string) {
    return { sender: { track: null, replaceTrack: async () => {} }, receiver: { track: { kind } } };
  }
  /** The control channel, its state as the test sets it. */
  channel: { readyState: RTCDataChannelState; onopen?: () => void } | undefined;
  createDataChannel() {
    const channel = { readyState: 'connecting' as RTCDataChannelState, close() {}, addEventListener() {}, send() {} };
    return (this.channel = channel);
  }
  async setLocalDescription(): Promise<void> {
    this.signalingState = 'have-local-offer';
    this.localDescription = { type: 'offer', sdp: `v=0\r\na=fingerprint:sha-256 ${StandInConnection.made.indexOf(this)}\r\n` };
  }
  restartIce(): void {
    this.restarts++;
  }
  close(): void {
    this.closed = true;
  }
  setConfiguration(): void {}
  getTransceivers(): unknown[] {
    return [];
  }
  /** The browser's state change. */
  become(state: RTCPeerConnectionState): void {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }
}

const host = { addController() {}, removeController() {}, requestUpdate() {}, updateComplete: Promise.resolve(true) };

/** A controller on stand-in connections; what it reported. */
function controller(onGiveUp?: (peers: InstanceType<typeof PeerController>, peerId: string) => void) {
  const reported: string[] = [];
  const peers: InstanceType<typeof PeerController> = new PeerController(host, {
    createPeerConnection: () => () => new StandInConnection() as unknown as RTCPeerConnection,
    onSignal: () => {},
    onReconnect: (peerId, attempt, cause) => reported.push(`${peerId} ${attempt} ${cause}`),
    onGiveUp: (peerId) => {
      reported.push(`${peerId} gave up`);
      onGiveUp?.(peers, peerId);
    },
  });
  return { peers, reported };
}

/** Let the clock run `ms`, a second at a time, with the promise jobs each second starts. */
async function run(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 1000) {
    mock.timers.tick(1000);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

describe('PeerController recovery', () => {
  beforeEach(() => {
    StandInConnection.made = [];
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  });
  afterEach(() => mock.timers.reset());

  test('a group call: a link that used up its steps gives up once, and keeps trying every 30 s (a rebuild) until it connects', async () => {
    const { peers, reported } = controller();
    peers.connect('bob', false);
    peers.connect('carol', false);
    const [bob, carol] = StandInConnection.made as [StandInConnection, StandInConnection];
    bob.become('connected');
    carol.become('failed');
    await run(RECOVERY.maxSteps * RECOVERY.retryMs * 1.25 + 10_000);
    assert.deepEqual(reported.filter((line) => line.endsWith('gave up')), ['carol gave up']);
    assert.ok(peers.links.has('carol'), 'the link stays');
    const made = StandInConnection.made.length;
    const steps = reported.length;
    await run(RECOVERY.slowRetryMs * 1.25 + 1000);
    assert.ok(reported.length > steps, 'it tries again');
    assert.ok(reported.length - steps <= 2, `slowly: ${reported.slice(steps).join(', ')}`);
    assert.ok(StandInConnection.made.length > made, 'with a rebuild (the impolite side)');
    assert.deepEqual(reported.filter((line) => line.endsWith('gave up')), ['carol gave up'], 'given up once');
    // Carol's path comes back: the new connection connects, and the steps stop.
    StandInConnection.made.at(-1)!.become('connected');
    const settled = reported.length;
    await run(RECOVERY.slowRetryMs * 3);
    assert.equal(reported.length, settled);
    assert.equal(peers.links.get('bob')?.connectionState, 'connected');
    peers.closeAll();
  });

  test('a group call that shrinks to links that gave up reports a give-up again (the call fails, not reconnecting for good); one still trying does not', async () => {
    const { peers, reported } = controller();
    peers.connect('bob', false);
    peers.connect('carol', false);
    peers.connect('dave', false);
    const [bob, carol, dave] = StandInConnection.made as [StandInConnection, StandInConnection, StandInConnection];
    bob.become('connected');
    dave.become('connected'); // (a link that never connects takes steps too: RECOVERY.connectMs)
    carol.become('failed');
    await run(RECOVERY.maxSteps * RECOVERY.retryMs * 1.25 + 10_000);
    assert.deepEqual(reported.filter((line) => line.endsWith('gave up')), ['carol gave up']);
    dave.become('connecting'); // a link still on its first try
    peers.remove('bob');
    assert.deepEqual(reported.filter((line) => line.endsWith('gave up')), ['carol gave up'], 'dave may still connect');
    peers.remove('dave');
    assert.deepEqual(reported.filter((line) => line.endsWith('gave up')), ['carol gave up', 'carol gave up']);
    peers.closeAll();
    assert.equal(reported.filter((line) => line.endsWith('gave up')).length, 2, 'closing everything is no give-up');
  });

  test('a 1:1 call: giving up closes everything (the widget fails the call); no step follows', async () => {
    const { peers, reported } = controller((controller) => controller.closeAll());
    peers.connect('bob', false);
    StandInConnection.made[0]!.become('failed');
    await run(RECOVERY.maxSteps * RECOVERY.retryMs * 1.25 + 10_000);
    const steps = reported.length;
    assert.equal(reported.at(-1), 'bob gave up');
    await run(RECOVERY.slowRetryMs * 3);
    assert.equal(reported.length, steps);
    assert.equal(peers.links.size, 0);
  });

  test('network changes past the last quick step: that is the step it takes (a 1:1 call gives up), not one that puts the next off', async () => {
    const { peers, reported } = controller((controller) => controller.closeAll());
    peers.connect('bob', false);
    StandInConnection.made[0]!.become('failed');
    // The quick steps run out; then network changes every 20 s: each used to
    // count a step (the one past the last, without giving up) and push the
    // next one 30 s back, for good.
    while (!reported.includes(`bob ${RECOVERY.maxSteps} ice-failed`)) await run(1000);
    for (let i = 0; i < 10 && peers.links.size; i++) {
      peers.restartAll('network-change');
      await run(20_000);
    }
    assert.equal(reported.filter((line) => line === 'bob gave up').length, 1, reported.slice(-3).join(', '));
    assert.equal(peers.links.size, 0);
  });

  test('network changes on a connected link restart ICE, each as step 1: a flapping network never rebuilds a working link or gives up', async () => {
    const { peers, reported } = controller((controller) => controller.closeAll());
    peers.connect('bob', false);
    const bob = StandInConnection.made[0]!;
    bob.signalingState = 'stable';
    bob.currentRemoteDescription = { type: 'answer', sdp: 'v=0\r\n' };
    bob.become('connected');
    // An event a second, faster than a step's retryMs: each used to count a
    // step, the 31st gave up (a 1:1 call failed) or rebuilt a working link.
    for (let i = 0; i < 2 * RECOVERY.maxSteps; i++) {
      peers.restartAll('network-change');
      await run(1000);
    }
    assert.deepEqual(new Set(reported), new Set(['bob 1 network-change']));
    assert.equal(reported.length, 2 * RECOVERY.maxSteps);
    assert.equal(bob.restarts, 2 * RECOVERY.maxSteps, 'an ICE restart each time');
    assert.equal(StandInConnection.made.length, 1, 'never rebuilt');
    // Lost after all: the steps count on from the restart this outage began with.
    bob.become('failed');
    peers.restartAll('network-change');
    peers.restartAll('network-change');
    assert.deepEqual(reported.slice(-2), ['bob 2 network-change', 'bob 3 network-change']);
    // Connected again: the count starts over.
    bob.become('connected');
    bob.become('failed');
    assert.equal(reported.at(-1), 'bob 1 ice-failed');
    peers.closeAll();
  });

  test('a first offer still unanswered after RECOVERY.connectMs is sent again (connect-timeout), every connectMs; an answered link is left to ICE; at connectLimitMs the steps start; one connected, a prepared answering side and a closed link are left alone', async () => {
    const offers = new Map<string, number>();
    const reported: string[] = [];
    const peers = new PeerController(host, {
      createPeerConnection: () => () => new StandInConnection() as unknown as RTCPeerConnection,
      onSignal: (peerId, data) => {
        if (data.kind === 'description' && data.description.type === 'offer') offers.set(peerId, (offers.get(peerId) ?? 0) + 1);
      },
      onReconnect: (peerId, attempt, cause) => reported.push(`${peerId} ${attempt} ${cause}`),
    });
    peers.connect('bob', false); // its offer is lost
    peers.connect('carol', false);
    peers.connect('dave', false);
    peers.connect('fay', false); // answered, ICE slow
    peers.prepare('erin', true); // waits for Erin's offer
    await run(1000);
    assert.deepEqual(Object.fromEntries(offers), { bob: 1, carol: 1, dave: 1, fay: 1 });
    const [bob, carol, , fay] = StandInConnection.made as StandInConnection[];
    carol!.become('connected');
    peers.remove('dave');
    fay!.signalingState = 'stable';
    fay!.currentRemoteDescription = { type: 'answer', sdp: 'v=0\r\n' };
    fay!.become('connecting');
    await run(RECOVERY.connectMs - 2000);
    assert.deepEqual(reported, [], 'nothing before connectMs');
    await run(2000);
    assert.deepEqual(reported, ['bob 1 connect-timeout']);
    assert.equal(offers.get('bob'), 2, 'the first offer, sent again');
    assert.deepEqual([bob!.restarts, fay!.restarts], [0, 0], 'no ICE restart: nothing of a slow path is thrown away');
    const stateOf = (id: string) => peers.states[[...peers.links.keys()].indexOf(id)];
    assert.equal(stateOf('bob'), 'new', 'no recovery yet: the call still reads connecting');
    await run(RECOVERY.connectMs);
    assert.deepEqual(reported, ['bob 1 connect-timeout', 'bob 2 connect-timeout']);
    assert.equal(offers.get('bob'), 3);
    // At the limit both take the recovery steps, counting on.
    await run(RECOVERY.connectLimitMs - 2 * RECOVERY.connectMs);
    assert.deepEqual(reported.slice(2).sort(), ['bob 3 rebuild', 'fay 3 rebuild']);
    assert.equal(stateOf('bob'), 'connecting', 'recovering, but never connected: the call still reads connecting');
    StandInConnection.made.at(-1)!.become('connected');
    StandInConnection.made.at(-2)!.become('connected');
    const settled = reported.length;
    await run(RECOVERY.retryMs * 3);
    assert.equal(reported.length, settled, 'connected: the steps stop');
    // Connected once, then lost: that is reconnecting, through a rebuild too.
    StandInConnection.made.at(-1)!.become('failed');
    StandInConnection.made.at(-2)!.become('failed');
    assert.deepEqual(['bob', 'fay'].map(stateOf), ['disconnected', 'disconnected']);
    await run(RECOVERY.retryMs * 12);
    assert.ok(StandInConnection.made.length > 7, 'rebuilt meanwhile');
    assert.deepEqual(['bob', 'fay'].map(stateOf), ['disconnected', 'disconnected']);
    // A peer removed and back starts from scratch.
    peers.remove('bob');
    peers.connect('bob', false);
    StandInConnection.made.at(-1)!.become('failed');
    assert.equal(stateOf('bob'), 'connecting');
    assert.equal(offers.get('carol'), 1);
    peers.closeAll();
  });

  test('a control channel the other side closed is silence: the link, connected by ICE, is lost after HEARTBEAT.lostAfterMs, and its first step is a rebuild (an ICE restart does not reopen a channel)', async () => {
    mock.timers.reset();
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
    const { peers, reported } = controller();
    peers.connect('bob', false);
    const bob = StandInConnection.made[0]!;
    bob.become('connected');
    bob.channel!.readyState = 'open';
    bob.channel!.onopen?.();
    await run(2000);
    assert.equal(peers.links.get('bob')?.connectionState, 'connected');
    bob.channel!.readyState = 'closed';
    await run(HEARTBEAT.lostAfterMs);
    assert.equal(peers.links.get('bob')?.connectionState, 'disconnected');
    await run(RECOVERY.disconnectedGraceMs);
    assert.deepEqual(reported, ['bob 1 rebuild']);
    assert.equal(StandInConnection.made.length, 2, 'a new connection');
    assert.equal(bob.closed, true);
    peers.closeAll();
  });

  test('resume() takes one step per link, even when that step is a rebuild (a new link under the same id)', async () => {
    const { peers, reported } = controller();
    peers.connect('bob', false);
    peers.restartAll('network-change'); // steps 1 and 2
    peers.restartAll('network-change');
    reported.length = 0;
    peers.resume(); // step 3: a rebuild
    assert.deepEqual(reported, ['bob 3 rebuild']);
    peers.closeAll();
  });
});

describe('PeerSession: trickle ICE candidates go in batches', () => {
  beforeEach(() => {
    StandInConnection.made = [];
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  });
  afterEach(() => mock.timers.reset());

  /** A session offering on a stand-in connection; what it signalled, as `offer` or the candidates of each batch. */
  async function offering() {
    const sent: string[] = [];
    const session = new PeerSession({
      polite: false,
      initiator: true,
      createPeerConnection: () => new StandInConnection() as unknown as RTCPeerConnection,
      onSignal: (data) => sent.push(data.kind === 'description' ? data.description.type : data.candidates.map((c) => c.candidate).join(',')),
    });
    for (let i = 0; i < 5; i++) await Promise.resolve();
    const pc = StandInConnection.made[0]!;
    const gather = (...names: string[]) => {
      for (const name of names) pc.onicecandidate?.({ candidate: { candidate: name, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'u' } });
    };
    return { session, sent, pc, gather };
  }

  test('a burst goes together at the next task; later ones at most one batch per CANDIDATE_BATCH_MS; the end of gathering sends the rest at once', async () => {
    const { session, sent, pc, gather } = await offering();
    assert.deepEqual(sent, ['offer']);
    gather('h1', 'h2', 'h3');
    assert.deepEqual(sent, ['offer'], 'not one by one');
    mock.timers.tick(0);
    assert.deepEqual(sent, ['offer', 'h1,h2,h3']);
    mock.timers.tick(10);
    gather('s1');
    mock.timers.tick(20);
    gather('r1');
    mock.timers.tick(CANDIDATE_BATCH_MS - 31);
    assert.equal(sent.length, 2, 'not before CANDIDATE_BATCH_MS since the last batch');
    mock.timers.tick(1);
    assert.deepEqual(sent.slice(2), ['s1,r1']);
    gather('r2');
    pc.onicecandidate?.({ candidate: null }); // gathering complete
    assert.deepEqual(sent.slice(3), ['r2'], 'at once');
    mock.timers.tick(1000);
    assert.equal(sent.length, 4, 'nothing more');
    session.close();
  });

  test(`a batch of more than ${LIMITS.candidatesPerNegotiation} candidates goes in frames of at most that many, in order: the room refuses a bigger frame whole, and takes the first ${LIMITS.candidatesPerNegotiation} of a negotiation (the rest get too-many-candidates)`, async () => {
    const { session, sent, gather } = await offering();
    const names = Array.from({ length: 2 * LIMITS.candidatesPerNegotiation + 1 }, (_, i) => `c${i}`);
    gather(...names); // one burst: a host with many interfaces and addresses
    mock.timers.tick(0);
    const batches = sent.slice(1).map((batch) => batch.split(','));
    assert.deepEqual(batches.map((b) => b.length), [LIMITS.candidatesPerNegotiation, LIMITS.candidatesPerNegotiation, 1]);
    assert.deepEqual(batches.flat(), names, 'none dropped or reordered by the client');
    for (const batch of batches) {
      const frame = encodeMessage({ type: 'signal', to: 'bob_0123456789abcdefgh', data: { kind: 'candidates', candidates: batch.map((candidate) => ({ candidate, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'u' })) } });
      assert.equal(decodeClientMessage(frame).ok, true, 'each frame is one the room accepts');
    }
    session.close();
  });

  test('candidates gathered before a new description go before it, in order; a closed session sends none', async () => {
    const { session, sent, pc, gather } = await offering();
    gather('a1');
    mock.timers.tick(0);
    gather('a2', 'a3');
    // An ICE restart's offer: the candidates of the description before it go first.
    pc.signalingState = 'stable';
    session.restartIce();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    pc.onnegotiationneeded?.(); // as the browser fires it after restartIce()
    for (let i = 0; i < 10; i++) await Promise.resolve();
    assert.deepEqual(sent, ['offer', 'a1', 'a2,a3', 'offer']);
    gather('b1');
    session.close();
    mock.timers.tick(1000);
    assert.deepEqual(sent, ['offer', 'a1', 'a2,a3', 'offer']);
  });
});
