/**
 * Two real PeerControllers wired back to back in one page (each signal a
 * copy, after a short delay, as over the room), real RTCPeerConnections and
 * the fake camera: what a rebuild leaves in flight from the old connection.
 */
import { expect } from '@open-wc/testing';
import { PeerController } from '../../src/controllers/peer-controller.ts';
import type { SignalData } from '../../src/protocol.ts';
import { sleep, stopAll, streamFrames, until } from './helpers.ts';

const host = { addController() {}, removeController() {}, requestUpdate() {}, updateComplete: Promise.resolve(true) };

/** The signals from one controller to the other; `holding` keeps them back until `release()`. */
class Wire {
  held: SignalData[] = [];
  holding = false;
  deliver: (data: SignalData) => void = () => {};
  send(data: SignalData): void {
    if (this.holding) this.held.push(data);
    else this.#later(data);
  }
  release(): void {
    this.holding = false;
    for (const data of this.held.splice(0)) this.#later(data);
  }
  #later(data: SignalData): void {
    const copy = structuredClone(data);
    setTimeout(() => this.deliver(copy), 5);
  }
}

const controllers: PeerController[] = [];
const streams: MediaStream[] = [];

/** Alice (impolite: she offers, and rebuilds) and Bob (polite), each with the fake camera. */
async function pair() {
  const toBob = new Wire();
  const toAlice = new Wire();
  const errors: string[] = [];
  /** Each bye Bob heard on a control channel, by sender. */
  const byes: string[] = [];
  /** The SDP of every remote description Alice's connections applied, by connection. */
  const applied = new Map<RTCPeerConnection, string[]>();
  const alice = new PeerController(host, {
    createPeerConnection: () => (configuration) => {
      const pc = new RTCPeerConnection(configuration);
      const setRemoteDescription = pc.setRemoteDescription.bind(pc);
      applied.set(pc, []);
      pc.setRemoteDescription = async (description: RTCSessionDescriptionInit) => {
        await setRemoteDescription(description);
        applied.get(pc)!.push(description.sdp ?? '');
      };
      return pc;
    },
    onSignal: (_to, data) => toBob.send(data),
    onError: (_peer, error) => errors.push(`alice: ${String(error)}`),
  });
  const bob = new PeerController(host, {
    onSignal: (_to, data) => toAlice.send(data),
    onError: (_peer, error) => errors.push(`bob: ${String(error)}`),
    onBye: (peer) => byes.push(peer),
  });
  toBob.deliver = (data) => bob.handleSignal('alice', data, true);
  toAlice.deliver = (data) => alice.handleSignal('bob', data, false);
  for (const peers of [alice, bob]) {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    streams.push(stream);
    peers.setLocalStream(stream);
    controllers.push(peers);
  }
  return { alice, bob, toBob, toAlice, errors, byes, applied };
}

const link = (peers: PeerController, id: string) => peers.links.get(id)!;
const fingerprint = (sdp = '') => /a=fingerprint:.*/.exec(sdp)?.[0];

afterEach(() => {
  for (const peers of controllers.splice(0)) peers.closeAll();
  stopAll(streams.splice(0));
});

describe('PeerController', () => {
  it('bye() then closeAll() in the same task (a hang-up): the other side hears the bye on the control channel', async () => {
    const { alice, bob, byes } = await pair();
    alice.connect('bob', false);
    await until(() => link(alice, 'bob')?.lastHeard > 0 && link(bob, 'alice')?.lastHeard > 0, 'control channel open, heard both ways');
    alice.bye();
    alice.closeAll();
    await until(() => byes.length > 0, 'Bob heard the bye', { timeoutMs: 3000 });
    expect(byes).to.deep.equal(['alice']);
  });

  it('a rebuild while the old connection\'s answer to an ICE restart is on its way: that answer is not applied to the new connection, which connects', async () => {
    const { alice, bob, toAlice, errors, applied } = await pair();
    alice.connect('bob', false);
    await until(() => link(alice, 'bob')?.connectionState === 'connected' && link(bob, 'alice')?.connectionState === 'connected', 'connected');
    toAlice.holding = true; // Bob's signals are slow
    alice.restartAll('network-change');
    const oldBob = link(bob, 'alice').session.pc;
    await until(() => toAlice.held.some((d) => d.kind === 'description' && d.description.type === 'answer'), 'Bob answered the ICE restart');
    await until(() => toAlice.held.some((d) => d.kind === 'candidates'), 'with its candidates');
    alice.connect('bob', false); // a rebuild (as a recovery step makes one)
    await until(() => link(bob, 'alice').session.pc !== oldBob, 'Bob followed with a new connection');
    await until(() => toAlice.held.filter((d) => d.kind === 'description').length === 2, 'and answered from it');
    toAlice.release();
    await until(() => link(alice, 'bob').connectionState === 'connected', 'the new connection connects', { timeoutMs: 5000 });
    const { pc } = link(alice, 'bob').session;
    // Applied to the new connection, the old one's answer had given it a
    // certificate and ICE credentials nobody used any more.
    expect(applied.get(pc)!.map(fingerprint), 'remote descriptions applied').to.deep.equal([fingerprint(link(bob, 'alice').session.pc.localDescription?.sdp)]);
    expect(await streamFrames(link(alice, 'bob').session.remoteStream, 3)).to.have.length(3);
    await sleep(300);
    expect(errors).to.deep.equal([]);
  });
});
