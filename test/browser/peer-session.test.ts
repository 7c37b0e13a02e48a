/**
 * Two real PeerSessions wired back to back in one page: every signal goes
 * through `onSignal` → (a copy, after a short delay, as over a network) →
 * the other side's `handleSignal`. Real RTCPeerConnections, fake camera and
 * microphone (Chromium's `--use-fake-device-for-media-stream`) or canvas
 * media, and decoded remote frames proven with `requestVideoFrameCallback`.
 */
import { expect } from '@open-wc/testing';
import { PeerSession, type PeerSessionOptions } from '../../src/peer/peer-session.ts';
import type { SignalData } from '../../src/protocol.ts';
import { createCanvasMedia } from '../support/canvas-media.ts';
import { attachVideo, countFrames, sleep, stopAll, streamFrames, until, videoFrames } from './helpers.ts';

const LATENCY_MS = 5;

/** One side of the pair and everything its callbacks reported. */
interface Side {
  session: PeerSession;
  /** Signals this side sent, in order. */
  sent: SignalData[];
  states: RTCPeerConnectionState[];
  errors: unknown[];
  data: string[];
  channelOpens: number;
  remoteStreamCalls: number;
  /** Signals this side sent that are being held back (see {@link Wire}). */
  wire: Wire;
}

/** The one-way path from a side to its peer: delays, holds back, filters. */
class Wire {
  held: SignalData[] = [];
  holding = false;
  /** Signals for which this returns false are dropped. */
  filter: (data: SignalData) => boolean = () => true;
  /** Applied to descriptions before delivery. */
  mapDescription: (sdp: string) => string = (sdp) => sdp;
  target: PeerSession | null = null;

  send(data: SignalData): void {
    if (!this.filter(data)) return;
    if (this.holding) this.held.push(data);
    else this.deliver(data);
  }

  /** Deliver held signals (in `order`, by default as sent) and stop holding. */
  release(order: (held: SignalData[]) => SignalData[] = (held) => held): void {
    this.holding = false;
    const held = order(this.held);
    this.held = [];
    for (const data of held) this.deliver(data);
  }

  deliver(data: SignalData): void {
    // A copy, as a network would carry it; same delay for all keeps the order.
    const copy = structuredClone(data);
    if (copy.kind === 'description') copy.description.sdp = this.mapDescription(copy.description.sdp);
    setTimeout(() => void this.target?.handleSignal(copy), LATENCY_MS);
  }
}

const sessions: PeerSession[] = [];
const streams: MediaStream[] = [];
const videos: HTMLVideoElement[] = [];

function side(options: Omit<PeerSessionOptions, 'onSignal'>, hold = false): Side {
  const wire = new Wire();
  wire.holding = hold;
  const record: Partial<Side> = {
    sent: [],
    states: [],
    errors: [],
    data: [],
    channelOpens: 0,
    remoteStreamCalls: 0,
    wire,
  };
  const s = record as Side;
  s.session = new PeerSession({
    ...options,
    onSignal: (data) => {
      s.sent.push(data);
      wire.send(data);
    },
    onStateChange: (state) => s.states.push(state),
    onError: (error) => s.errors.push(error),
    onData: (data) => s.data.push(data),
    onChannelOpen: () => s.channelOpens++,
    onRemoteStream: () => s.remoteStreamCalls++,
  });
  sessions.push(s.session);
  return s;
}

function connectWires(a: Side, b: Side): void {
  a.wire.target = b.session;
  b.wire.target = a.session;
}

/** `a` makes the offer (impolite), `b` answers (polite), signals flow freely. */
function pair(
  aStream: MediaStream | null,
  bStream: MediaStream | null,
  { holdA = false, holdB = false }: { holdA?: boolean; holdB?: boolean } = {},
): [Side, Side] {
  const a = side({ polite: false, initiator: true, localStream: aStream }, holdA);
  const b = side({ polite: true, initiator: false, localStream: bStream }, holdB);
  connectWires(a, b);
  return [a, b];
}

async function camera(): Promise<MediaStream> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
  streams.push(stream);
  return stream;
}

/** A portrait canvas track: its frames are told apart from the landscape fake camera by their shape. */
function portraitTrack(): MediaStreamTrack {
  const stream = createCanvasMedia({ width: 240, height: 320, fps: 20, hue: 30 });
  streams.push(stream);
  return stream.getVideoTracks()[0]!;
}

function watch(stream: MediaStream): HTMLVideoElement {
  const video = attachVideo(stream);
  videos.push(video);
  return video;
}

async function connected(...sides: Side[]): Promise<void> {
  await until(
    () => sides.every((s) => s.session.connectionState === 'connected'),
    `connectionState: ${sides.map((s) => s.session.connectionState).join(', ')}`,
  );
}

const descriptions = (s: Side) => s.sent.filter((d) => d.kind === 'description');
const descriptionTypes = (s: Side) => s.sent.flatMap((d) => (d.kind === 'description' ? [d.description.type] : []));
/** The sender of the video transceiver (the one whose receiver carries video). */
function videoSender(s: Side): RTCRtpSender {
  const transceiver = s.session.pc.getTransceivers().find((t) => t.receiver.track.kind === 'video');
  if (!transceiver) throw new Error('no video transceiver');
  return transceiver.sender;
}
const landscape = (f: { width: number; height: number }) => f.width > f.height;
const portrait = (f: { width: number; height: number }) => f.height > f.width;

afterEach(() => {
  for (const session of sessions.splice(0)) session.close();
  for (const video of videos.splice(0)) {
    video.srcObject = null;
    video.remove();
  }
  stopAll(streams.splice(0));
});

describe('PeerSession', () => {
  it('connects with one offer/answer round trip and decodes video both ways', async () => {
    const [a, b] = pair(await camera(), await camera());
    await connected(a, b);

    const [toB, toA] = await Promise.all([
      streamFrames(b.session.remoteStream, 5),
      streamFrames(a.session.remoteStream, 5),
    ]);
    expect(toB).to.have.length(5);
    expect(toA).to.have.length(5);
    for (const s of [a, b]) {
      expect(s.session.remoteStream.getVideoTracks()).to.have.length(1);
      expect(s.session.remoteStream.getAudioTracks()).to.have.length(1);
      expect(s.remoteStreamCalls).to.be.greaterThan(0);
      expect(s.errors).to.deep.equal([]);
      expect(s.states).to.include('connected');
    }
    expect(descriptionTypes(a)).to.deep.equal(['offer']);
    expect(descriptionTypes(b)).to.deep.equal(['answer']);
  });

  it('converges on glare: both sides offer at once, the polite one yields', async () => {
    const [aStream, bStream] = [await camera(), await camera()];
    const a = side({ polite: false, initiator: true, localStream: aStream }, true);
    const b = side({ polite: true, initiator: true, localStream: bStream }, true);
    connectWires(a, b);
    // Hold both directions until each side has sent its own offer: a true collision.
    await until(
      () => descriptionTypes(a).includes('offer') && descriptionTypes(b).includes('offer'),
      'both sides offered',
    );
    a.wire.release();
    b.wire.release();

    await connected(a, b);
    await until(
      () => a.session.pc.signalingState === 'stable' && b.session.pc.signalingState === 'stable',
      'both stable',
    );
    const [toB, toA] = await Promise.all([
      streamFrames(b.session.remoteStream, 5),
      streamFrames(a.session.remoteStream, 5),
    ]);
    expect(toB).to.have.length(5);
    expect(toA).to.have.length(5);
    for (const s of [a, b]) {
      // One session: one remote video and one remote audio track on each side.
      expect(s.session.remoteStream.getVideoTracks(), 'remote video tracks').to.have.length(1);
      expect(s.session.remoteStream.getAudioTracks(), 'remote audio tracks').to.have.length(1);
      expect(s.session.connectionState).to.equal('connected');
    }
    // The impolite side's first offer won: the polite side answered it.
    expect(descriptionTypes(b)[1]).to.equal('answer');
    expect(b.errors, 'polite errors').to.deep.equal([]);
    expect(a.errors, 'impolite errors').to.deep.equal([]);
  });

  it('replaceTrack(video, track) mid-call keeps frames flowing without a new offer', async () => {
    const [a, b] = pair(await camera(), await camera());
    await connected(a, b);
    const remote = watch(b.session.remoteStream);
    const before = await videoFrames(remote, 3);
    expect(before.every(landscape), 'fake camera frames are landscape').to.equal(true);
    const sentBefore = descriptions(a).length + descriptions(b).length;

    const track = portraitTrack();
    await a.session.replaceTrack('video', track);
    expect(videoSender(a).track === track, 'the new track is sent').to.equal(true);
    await until(() => remote.videoHeight > remote.videoWidth, 'portrait frames arrive');
    const after = await videoFrames(remote, 5);
    expect(after.every(portrait), 'frames come from the new track').to.equal(true);

    await sleep(500); // time for a (wrong) negotiationneeded to fire and be signalled
    expect(descriptions(a).length + descriptions(b).length, 'descriptions sent').to.equal(sentBefore);
    expect(a.session.pc.signalingState).to.equal('stable');
    expect(a.errors).to.deep.equal([]);
  });

  it('replaceTrack(video, null) stops sending video, and a new track resumes it without renegotiating', async () => {
    const [a, b] = pair(await camera(), await camera());
    await connected(a, b);
    const remote = watch(b.session.remoteStream);
    await videoFrames(remote, 3);
    const sentBefore = descriptions(a).length + descriptions(b).length;
    const sender = videoSender(a);

    await a.session.replaceTrack('video', null);
    expect(sender.track === null, 'no track sent').to.equal(true);
    await sleep(400); // let frames already in flight drain
    expect(await countFrames(remote, 1000), 'frames while sending nothing').to.equal(0);

    const track = portraitTrack();
    await a.session.replaceTrack('video', track);
    expect(sender.track === track, 'the new track is sent').to.equal(true);
    const resumed = await videoFrames(remote, 5);
    expect(resumed.some(portrait), 'frames of the new track').to.equal(true);

    await sleep(300);
    expect(descriptions(a).length + descriptions(b).length, 'descriptions sent').to.equal(sentBefore);
    expect(a.errors).to.deep.equal([]);
    expect(b.errors).to.deep.equal([]);
  });

  it('queues ICE candidates that arrive before the offer, and connects with them', async () => {
    const [a, b] = pair(await camera(), await camera(), { holdA: true });
    // b's candidates never reach a, and b's answer carries none: the only way
    // to connect is b using a's candidates, which reach b before the offer.
    b.wire.filter = (data) => data.kind !== 'candidates';
    b.wire.mapDescription = (sdp) => sdp.replace(/^a=candidate:.*\r\n/gm, '');
    await until(() => a.session.pc.iceGatheringState === 'complete', 'a gathered its candidates');
    const candidates = a.wire.held.filter((d) => d.kind === 'candidates');
    expect(candidates.length, 'a gathered candidates').to.be.greaterThan(0);

    // Candidates first, each applied (queued) while b has no remote description.
    for (const candidate of candidates) await b.session.handleSignal(structuredClone(candidate));
    expect(b.session.pc.remoteDescription?.type ?? null, 'no remote description').to.equal(null);
    expect(b.errors, 'errors while queueing').to.deep.equal([]);
    a.wire.release((held) => held.filter((d) => d.kind === 'description'));

    await connected(a, b);
    const frames = await streamFrames(b.session.remoteStream, 3);
    expect(frames).to.have.length(3);
    expect(b.errors).to.deep.equal([]);
  });

  it('restartIce() after the first offer was lost sends that offer again, data channel and all: one answer, no offer back', async () => {
    const [a, b] = pair(await camera(), await camera(), { holdA: true });
    await until(() => descriptionTypes(a).includes('offer'), 'a offered');
    // Lost with the room socket (a rebuilt link's offer, while cut off).
    a.wire.held = [];
    a.wire.holding = false;
    a.session.restartIce();

    await connected(a, b);
    await until(() => a.channelOpens > 0 && b.channelOpens > 0, 'the control channel open at both ends');
    await sleep(300); // any renegotiation would have started by now
    const offers = a.sent.flatMap((d) => (d.kind === 'description' ? [d.description.sdp] : []));
    // Rolled back, Chromium's first offer loses its m=application section for
    // good, and the answering side, whose negotiated channel needs it, offers.
    expect(offers.map((sdp) => /^m=application/m.test(sdp)), 'each offer carries the data channel').to.not.include(false);
    expect(descriptionTypes(b), 'the answering side only answers').to.deep.equal(['answer']);
    expect(a.errors).to.deep.equal([]);
    expect(b.errors).to.deep.equal([]);
  });

  it('restartIce() on the answering side before any offer reached it (a resume, a network change) sends nothing; the first offer sent again connects, control channel and all', async () => {
    const [a, b] = pair(await camera(), await camera(), { holdA: true });
    await until(() => descriptionTypes(a).includes('offer'), 'a offered');
    a.wire.held = []; // the first offer, lost
    a.wire.holding = false;
    // An offer from here would carry no media section: answered, it cost
    // the offering side its first offer (rolled back) and with it the data
    // channel's m-section, and the link stayed half-negotiated for good.
    b.session.restartIce();
    await sleep(500);
    expect(b.sent, 'nothing sent').to.deep.equal([]);
    a.session.restartIce(); // the offering side's connect watch
    await connected(a, b);
    await until(() => a.channelOpens > 0 && b.channelOpens > 0, 'the control channel open at both ends');
    expect(descriptionTypes(b)).to.deep.equal(['answer']);
    expect([a.errors, b.errors]).to.deep.equal([[], []]);
  });

  it('a first offer sent again whose first answer was only late: the second answer, arriving in stable, is dropped quietly', async () => {
    const [a, b] = pair(await camera(), await camera(), { holdB: true });
    await until(() => descriptionTypes(b).includes('answer'), 'b answered');
    a.session.restartIce(); // the connect watch: the answer is late, not lost
    await until(() => descriptionTypes(b).length === 2, 'b answered the offer sent again');
    b.wire.release();
    await connected(a, b);
    await sleep(300);
    expect(descriptionTypes(b)).to.deep.equal(['answer', 'answer']);
    expect(a.session.pc.signalingState).to.equal('stable');
    expect([a.errors.map(String), b.errors.map(String)]).to.deep.equal([[], []]);
  });

  it('restartIce() on the answering side whose answer was lost (never connected) sends that answer again, not an offer: no DTLS role conflict', async () => {
    // The room's roles: the answering side, first in the room, is the impolite one.
    const [aStream, bStream] = [await camera(), await camera()];
    const a = side({ polite: true, initiator: true, localStream: aStream });
    const b = side({ polite: false, initiator: false, localStream: bStream }, true);
    connectWires(a, b);
    await until(() => descriptionTypes(b).includes('answer'), 'b answered');
    b.wire.held = []; // the answer, lost
    b.wire.holding = false;
    await sleep(300);
    // (A resume, a network change.) An ICE restart offer from here made the
    // offering side, polite, roll its first offer back and answer as DTLS
    // client, the role b took in its lost answer: setRemoteDescription threw
    // "Failed to set SSL role for the transport" and only a rebuild mended it.
    b.session.restartIce();
    await connected(a, b);
    await until(() => a.channelOpens > 0 && b.channelOpens > 0, 'the control channel open at both ends');
    expect(descriptionTypes(b)).to.deep.equal(['answer', 'answer']);
    expect(descriptionTypes(a)).to.deep.equal(['offer']);
    expect([a.errors.map(String), b.errors.map(String)]).to.deep.equal([[], []]);
  });

  it('restartIce() on the answering side whose answer came but whose ICE candidates (both ways) were lost: the offering side, given that answer again, restarts ICE, and they connect', async () => {
    const [aStream, bStream] = [await camera(), await camera()];
    const a = side({ polite: true, initiator: true, localStream: aStream }, true);
    const b = side({ polite: false, initiator: false, localStream: bStream }, true);
    connectWires(a, b);
    /** Deliver `s`'s descriptions held so far; every candidate, now and later, is lost. */
    const descriptionsOnly = (s: Side) => {
      s.wire.release((held) => held.filter((d) => d.kind === 'description'));
      s.wire.holding = true;
    };
    await until(() => descriptionTypes(a).includes('offer'), 'a offered');
    descriptionsOnly(a);
    await until(() => descriptionTypes(b).includes('answer'), 'b answered');
    descriptionsOnly(b);
    await until(() => a.session.pc.signalingState === 'stable', 'a has the answer');
    await sleep(500);
    expect(a.session.pc.iceConnectionState, 'no candidate of b came').to.equal('new');
    for (const s of [a, b]) {
      s.wire.held = [];
      s.wire.holding = false;
    }
    // (A resume, a network change.) b cannot tell lost candidates from a
    // lost answer: it sends the answer again, which a had; a restarts ICE.
    b.session.restartIce();
    await connected(a, b);
    expect(descriptionTypes(a)).to.deep.equal(['offer', 'offer']);
    expect([a.errors.map(String), b.errors.map(String)]).to.deep.equal([[], []]);
  });

  it('an answer to an ICE restart offer withdrawn since (a later recovery step) comes late: it is dropped, the answer to the new offer is applied', async () => {
    const [a, b] = pair(await camera(), await camera());
    await connected(a, b);
    const ufrag = (sdp = '') => /a=ice-ufrag:(\S+)/.exec(sdp)?.[1];
    b.wire.holding = true; // b's answers are slow
    a.session.restartIce();
    await until(() => descriptionTypes(b).length === 2, 'b answered the first ICE restart');
    a.session.restartIce(); // the next step: that offer is rolled back, a new one made
    await until(() => descriptionTypes(b).length === 3, 'b answered the second');
    expect(descriptionTypes(a)).to.deep.equal(['offer', 'offer', 'offer']);
    b.wire.release();
    await until(() => a.session.pc.signalingState === 'stable', 'a took an answer');
    await sleep(300);
    // Applied to the new offer, the first answer's ICE credentials are ones
    // b no longer uses: the connectivity checks of the restart fail.
    expect(ufrag(a.session.pc.remoteDescription?.sdp), 'the ICE ufrag b uses').to.equal(ufrag(b.session.pc.localDescription?.sdp));
    expect([a.errors.map(String), b.errors.map(String)]).to.deep.equal([[], []]);
    await connected(a, b);
    expect(await streamFrames(a.session.remoteStream, 3)).to.have.length(3);
  });

  it('close() sets state closed, is idempotent, and silences every callback', async () => {
    const [a, b] = pair(await camera(), await camera());
    await connected(a, b);
    await until(() => a.channelOpens > 0 && b.channelOpens > 0, 'channels open');

    a.session.close();
    expect(a.session.connectionState).to.equal('closed');
    expect(a.states.at(-1)).to.equal('closed');
    a.session.close();
    expect(
      a.states.filter((s) => s === 'closed'),
      'closed reported once',
    ).to.have.length(1);
    expect(a.session.send('after close')).to.equal(false);
    await a.session.replaceTrack('video', null); // resolves, does nothing

    const snapshot = JSON.stringify([a.sent, a.states, a.data, a.errors.length, a.remoteStreamCalls, a.channelOpens]);
    // Give a every reason to call back: b renegotiates (ICE restart) and sends data.
    const bSentBefore = descriptions(b).length;
    b.session.send('hello?');
    b.session.restartIce();
    await until(() => descriptions(b).length > bSentBefore, 'b sent a new offer');
    await sleep(500);
    expect(JSON.stringify([a.sent, a.states, a.data, a.errors.length, a.remoteStreamCalls, a.channelOpens])).to.equal(
      snapshot,
    );
    expect(a.session.pc.signalingState).to.equal('closed');
  });

  it('data channel: send() is false before open, messages arrive in order after', async () => {
    const [a, b] = pair(await camera(), await camera());
    expect(a.session.send('too early'), 'a before open').to.equal(false);
    expect(b.session.send('too early'), 'b before open').to.equal(false);
    expect(a.session.channelOpen).to.equal(false);

    await until(() => a.channelOpens === 1 && b.channelOpens === 1, 'control channel open on both sides');
    expect(a.session.channelOpen).to.equal(true);
    expect(a.session.send('one')).to.equal(true);
    expect(a.session.send('two')).to.equal(true);
    expect(a.session.send('three')).to.equal(true);
    expect(b.session.send('back')).to.equal(true);
    await until(() => b.data.length === 3 && a.data.length === 1, 'messages delivered');
    expect(b.data).to.deep.equal(['one', 'two', 'three']);
    expect(a.data).to.deep.equal(['back']);
  });
});
