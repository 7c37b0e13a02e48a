/**
 * The room's rules, free of the PartyKit runtime so they can be unit-tested
 * with plain objects: admission (capacity), identity (server-assigned peer
 * ids), membership announcements, validation, rate limiting and relaying of
 * negotiation signals to exactly one addressed peer in the same room, locked
 * rooms (the host key, the lobby, admit and reject), the 1:1 ring flow
 * (who rang whom since when, accept, decline, missed, busy, glare), and the
 * snapshot that carries a room across a restart of its server.
 *
 * Nothing here throws on anything a client sends: every refusal is answered
 * with `{type: 'error', code, message}` and nothing is relayed.
 */
import {
  CloseCode,
  cleanDisplayName,
  HostKeySchema,
  LIMITS,
  PeerIdSchema,
  PROTOCOL_VERSION,
  RATE_LIMIT,
  RESUME_GRACE_MS,
  RETRY_CLOSE_CODE,
  decodeClientMessage,
  type RingState,
  encodeMessage,
  type ClientMessage,
  type IceServer,
  type PeerInfo,
  type RateLimit,
  type ServerErrorCode,
  type ServerMessage,
} from '../src/protocol.ts';
import { randomId } from '../src/random-id.ts';
import { SESSION_CLOCK_SKEW_S, SESSION_TTL_S } from './session.ts';
import * as v from 'valibot';

/**
 * How many removed members' ids a room remembers ({@link Room.arrive}), a few
 * KiB (and in its snapshot). Only a room churned on purpose sees that many
 * removals while one member is away; the member that then comes back under
 * its old id keeps its links and role while the others start theirs afresh,
 * as before this record existed: its recovery steps rebuild the links, and
 * where both ends are impolite, ICE restarts both start at once never
 * converge.
 */
const REMOVED_IDS = 256;

/**
 * How often a member whose socket stays open is handed a fresh session token
 * (a `session` frame), ms: 15 min. Tokens expire (`SESSION_TTL_S`, 1 h, in
 * party/session.ts), and a page presents the last one it got when its socket
 * drops, however long its call has lasted: so it must never be older than
 * this period plus the resume grace. A quarter of the lifetime leaves room for
 * a lost frame and for clocks that differ between server machines.
 */
export const SESSION_REISSUE_MS = 15 * 60_000;

/**
 * How long the room remembers who hung up, ms: as long as a session token
 * verifies (`SESSION_TTL_S` plus `SESSION_CLOCK_SKEW_S`, party/session.ts),
 * 65 min. A page away past the grace comes back with its token under a new
 * id, and is told who hung up meanwhile (`welcome.hungUp`): else its 1:1
 * call, whose other side hung up, would wait for it. At most
 * `LIMITS.hungUpIds` are kept, with the removed ids, in the snapshot even
 * of an empty room (a Durable Object is evicted soon after it empties): see
 * {@link Room.restore}.
 */
const HANG_UP_MEMORY_MS = (SESSION_TTL_S + SESSION_CLOCK_SKEW_S) * 1000;

/** The two things the room needs from a socket. */
export interface PeerSocket {
  send(frame: string): void;
  close(code: number, reason: string): void;
}

export type { RateLimit };
/** The room's rate limit unless {@link RoomOptions.rateLimit} says otherwise: the protocol's {@link RATE_LIMIT}, which clients keep to. */
export const DEFAULT_RATE_LIMIT: RateLimit = RATE_LIMIT;

/** An ICE server list for one peer and the lifetime of its credentials, s. */
export interface IceGrant {
  iceServers: IceServer[];
  /** Credential lifetime, s; absent when the list holds no credentials. */
  iceTtl?: number;
}

export interface RoomOptions {
  /** Peers the room admits at once; the next socket gets `room-full`. Default 2 (1:1). */
  capacity?: number;
  rateLimit?: RateLimit;
  /** Clock in ms; injectable for tests. */
  now?: () => number;
  /** Mints a peer's ICE server list (TURN REST credentials). Default: none. */
  mintIceServers?: (peerId: string) => Promise<IceGrant>;
  /**
   * Knocks that may wait in a locked room's lobby at once (default 8), and
   * as many sockets waiting there without a knock. Past them the places are
   * shared out by client address ({@link Arrival.address}): see
   * {@link Room.arrive} and the lobby's rules.
   */
  maxKnocking?: number;
  /**
   * How long a member that went silent keeps its id and slot, ms, counted
   * from the last frame it sent (default {@link RESUME_GRACE_MS}). Within it
   * the same peer can come back with its session token and nobody sees it
   * leave; after it the others get `peer-left`.
   */
  graceMs?: number;
  /**
   * A member whose socket sends nothing for this long is treated as cut off
   * (its socket is closed; its slot held as for a drop, see `drop`), ms
   * (default {@link HEARTBEAT_TIMEOUT_MS}).
   */
  heartbeatTimeoutMs?: number;
  /**
   * Keeps the room's {@link RoomSnapshot} (null: forget it, the room emptied)
   * where a restarted room server finds it: room storage. Called on every
   * change of the lock, the host key, the membership or the ring, and every
   * {@link SNAPSHOT_REFRESH_MS} while the room has members (`refresh`: only
   * times changed, so the write need not hold back the room's frames).
   * Default: nothing is kept, and a restart forgets the room.
   */
  save?: (snapshot: RoomSnapshot | null, options: { refresh: boolean }) => void;
}

/**
 * How often a room with members re-saves its snapshot, ms, so that a
 * restarted server can tell a snapshot of a live room from one the room
 * left long ago (see {@link Room.restore}).
 */
export const SNAPSHOT_REFRESH_MS = 5_000;

const TimeSchema = v.pipe(v.number(), v.finite());

/**
 * What a room keeps across a restart of its server (a deploy, an evicted
 * Durable Object, a crash): whether it is locked, its host key, who was in
 * it and since when unheard, who hung up lately, and its ring. Enough for the members to come
 * back within their grace as the same peers (their session tokens name
 * them), to the room as they left it: a locked room stays locked, its host
 * stays its host, a ring goes on ringing. Knocks and rate-limit state are
 * not kept: a knocker knocks again. Times are ms since the epoch
 * ({@link RoomOptions.now}).
 */
export const RoomSnapshotSchema = v.object({
  /** When the room saved it. */
  savedAt: TimeSchema,
  locked: v.boolean(),
  hostKey: v.nullable(HostKeySchema),
  members: v.array(
    v.object({
      id: PeerIdSchema,
      /**
       * Cleaned, not checked: a name an earlier server accepted and the
       * rules have since narrowed does not lose the whole room on a deploy.
       */
      name: v.pipe(v.string(), v.maxLength(4 * LIMITS.nameChars), v.transform(cleanDisplayName)),
      inCall: v.boolean(),
      host: v.boolean(),
      /** See `Member.heard`. */
      heard: v.boolean(),
      /** Its last frame, or `savedAt` if its socket was open then: its grace runs from here. */
      lastSeen: TimeSchema,
    }),
  ),
  /** Ids of members removed (the others saw them leave), oldest first: their tokens get new ids. Absent in older snapshots. */
  removed: v.optional(v.pipe(v.array(PeerIdSchema), v.maxLength(REMOVED_IDS)), []),
  /** Who hung up, and when: still told after the restart (see {@link HANG_UP_MEMORY_MS}). */
  hungUp: v.pipe(v.array(v.object({ id: PeerIdSchema, at: TimeSchema })), v.maxLength(LIMITS.hungUpIds)),
  ring: v.nullable(
    v.object({
      caller: PeerIdSchema,
      callee: v.nullable(PeerIdSchema),
      since: TimeSchema,
      timeoutMs: TimeSchema,
      accepted: v.boolean(),
    }),
  ),
});
export type RoomSnapshot = v.InferOutput<typeof RoomSnapshotSchema>;

/**
 * Default silence after which a socket is considered cut off, ms: three
 * missed client pings (`HEARTBEAT.intervalMs` apart, in the signaling controller) plus slack.
 */
export const HEARTBEAT_TIMEOUT_MS = 10_000;

/** What an arriving socket presents (all verified by the caller). */
export interface Arrival {
  /** The room's host key, from the URL. */
  hostKey?: string | null;
  /** The peer id its verified session token names: it wants that identity back. */
  resumeId?: string | null;
  /** The session token to hand out with `welcome` for the id it ends up with. */
  session?: (peerId: string) => Promise<string | undefined>;
  /**
   * Where it connects from, as {@link networkOf} gives it (null: unknown,
   * as under `partykit dev`): a locked room's lobby shares its places out
   * by it, so that one client cannot fill them all.
   */
  address?: string | null;
}

/**
 * The network a client address stands for in the lobby's shares: an IPv4
 * address itself (an IPv4-mapped IPv6 one too), an IPv6 address its /64
 * (RFC 4291 §2.5.4: one subscriber's link gets a /64, and a host picks
 * addresses in it at will, RFC 8981). Null for none; anything unparsable is
 * kept as it is. Never throws.
 */
export function networkOf(ip: string | null | undefined): string | null {
  const address = ip?.trim().toLowerCase();
  if (!address) return null;
  if (!address.includes(':')) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped) return mapped[1]!;
  const [head = '', tail, ...more] = address.split('::');
  if (more.length) return address;
  const groups = head ? head.split(':') : [];
  if (tail !== undefined) {
    const rest = tail ? tail.split(':') : [];
    groups.push(...Array<string>(Math.max(0, 8 - groups.length - rest.length)).fill('0'), ...rest);
  }
  const prefix = groups.slice(0, 4).map((g) => parseInt(g, 16));
  return prefix.length === 4 && prefix.every((n) => n >= 0 && n <= 0xffff) ? `${prefix.map((n) => n.toString(16)).join(':')}::/64` : address;
}

/** Token-bucket state of one socket. */
interface Bucket {
  tokens: number;
  refilledAt: number;
  refusedInARow: number;
  lastRateErrorAt: number;
}

interface Member extends Bucket {
  readonly id: string;
  /** Null while the member is away (its socket dropped; its slot is held). */
  socket: PeerSocket | null;
  /** When it last sent a frame, ms. */
  lastSeen: number;
  /**
   * It has sent a frame since its `welcome`, or it arrived with a session
   * token: it holds a token to resume with (its own, or that of the removed
   * member it was let in for, which gets it back too). A member not yet heard from may
   * never have read its `welcome` (a page that gave up while connecting), so
   * holding its slot through a drop would only keep a ghost in the room.
   */
  heard: boolean;
  name: string;
  inCall: boolean;
  /** Holds the host key: may lock the room and admit or reject knocking peers. */
  host: boolean;
  /** Signs this member's session tokens (from its arrival); absent: it gets none. */
  sign?: Arrival['session'];
  /** When its last token was signed, ms: another follows every {@link SESSION_REISSUE_MS} while its socket is open. */
  signedAt: number;
  /** ICE candidates sent to each peer since this member's last description to it. */
  candidatesTo: Map<string, number>;
}

/** A socket waiting in a locked room's lobby. */
interface Knocker extends Bucket {
  readonly id: string;
  readonly socket: PeerSocket;
  name: string;
  /** It sent `join`: the host has been asked. */
  knocked: boolean;
  session: Arrival['session'];
  /** It arrived with a session token: once admitted, held through a drop (see `Member.heard`). */
  heard: boolean;
  /** The removed member's id its token named (it knocks under a new one), else null: see {@link Room.arrive}. */
  replaces: string | null;
  /** When its last frame arrived (or it did), ms: a socket silent for the heartbeat timeout is closed. */
  lastSeen: number;
  /** {@link Arrival.address}. */
  readonly address: string | null;
}

/**
 * The room's ring (`mode="call"`), the authoritative record of a 1:1 call
 * being set up: the caller is in the call from its `ring`; the callee (null
 * until someone is in the room to ring) enters only with `accept`.
 */
interface Ring {
  readonly caller: Member;
  callee: Member | null;
  /** When the caller rang, ms ({@link RoomOptions.now}). */
  readonly since: number;
  /** How long it may go unanswered, ms. */
  readonly timeoutMs: number;
  /** The callee accepted: the record stands for the call until either party goes. */
  accepted: boolean;
}

const ROOM_UNAVAILABLE = 'this room is not available';

/**
 * Turn `socket` away as from a room that does not exist (`room-unavailable`,
 * close 4002, final): a rejected knock, a knock past the lobby's places, a
 * lobby turned away, an identity taken meanwhile. Outsiders learn nothing.
 */
function turnAway(socket: PeerSocket): void {
  refuse(socket, 'room-unavailable', ROOM_UNAVAILABLE, CloseCode.roomUnavailable);
}

export class Room {
  readonly capacity: number;
  readonly #rate: RateLimit;
  readonly #now: () => number;
  readonly #mint: (peerId: string) => Promise<IceGrant>;
  readonly #maxKnocking: number;
  /** Members by id, in order of arrival (Map keeps insertion order); away members included. */
  readonly #members = new Map<string, Member>();
  /** Present members by their current socket. */
  readonly #bySocket = new Map<PeerSocket, Member>();
  readonly #graceMs: number;
  readonly #heartbeatTimeoutMs: number;
  /** Sockets in the lobby of the locked room, in order of arrival. */
  readonly #knockers = new Map<PeerSocket, Knocker>();
  /** Sockets between acceptance and `welcome` (their ICE servers are being minted). */
  readonly #arriving = new Set<PeerSocket>();
  #locked = false;
  /** The ring or the call it became; null when there is none. */
  #ring: Ring | null = null;
  /** The host key, issued to the first member of the empty room; null while the room is empty. */
  #hostKey: string | null = null;
  readonly #save: RoomOptions['save'];
  /** When the snapshot was last saved, ms ({@link RoomOptions.now}). */
  #savedAt = -Infinity;
  /** Who hung up (`leave`) within {@link HANG_UP_MEMORY_MS}, and when (ms), oldest first, at most {@link LIMITS.hungUpIds}: told to members resuming (those within the grace) and to tokens of removed members. */
  #hungUp: { id: string; at: number }[] = [];
  /**
   * How the ring ended for a caller or callee that was away then (its socket
   * down; one here was told at once), and when (ms), until that member rings,
   * answers or joins again, is rung again, or goes: it hears it in its
   * resumed `welcome` (`ringEnded`), within the grace. Not in the snapshot:
   * a restart loses it (the ring itself is saved while it lasts). A socket
   * not yet known to be down when the ring ends is told, and may miss it.
   */
  readonly #ringEnds = new Map<string, { state: 'declined' | 'missed'; at: number }>();
  /**
   * Ids of the members removed (the others were told they left, or a
   * restart's snapshot left them out), oldest first, at most
   * {@link REMOVED_IDS}, each with the id its token was let in under since
   * (null until then). Kept when the room empties, and in the snapshot
   * (without those ids). A session token naming one gets a new id, or that
   * member back while it is here ({@link arrive}).
   */
  readonly #removed = new Map<string, string | null>();

  /** Remember `id` as removed, let in since as `successor` (or not yet), keeping the last {@link REMOVED_IDS}. */
  #remember(id: string, successor: string | null): void {
    this.#removed.delete(id);
    this.#removed.set(id, successor);
    for (const old of this.#removed.keys()) {
      if (this.#removed.size <= REMOVED_IDS) break;
      this.#removed.delete(old);
    }
  }

  constructor(options: RoomOptions = {}) {
    this.capacity = options.capacity ?? 2;
    this.#rate = options.rateLimit ?? DEFAULT_RATE_LIMIT;
    this.#now = options.now ?? Date.now;
    this.#mint = options.mintIceServers ?? (() => Promise.resolve({ iceServers: [] }));
    this.#maxKnocking = options.maxKnocking ?? 8;
    this.#graceMs = options.graceMs ?? RESUME_GRACE_MS;
    this.#heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
    this.#save = options.save;
  }

  /**
   * Take up a room where a previous server left it: `snapshot` (as saved
   * through {@link RoomOptions.save}, read back from storage, so unknown
   * input) restores the lock, the host key, the members, the ring and the
   * ids of removed members (those of members not taken back with them). Every
   * member is away, with what is left of its grace (from its `lastSeen`) to
   * come back with its session token. Nothing is announced: to the others, a
   * member coming back is a resume, and one that does not is gone as after
   * any drop (`peer-left`, the host role and the ring passing on as then).
   *
   * Left out, as the restart's drop of every socket would have left them out:
   * members never heard from (see `Member.heard`), members whose grace is
   * over, members past the capacity (a smaller `ROOM_CAPACITY` since; the
   * host is kept among those taken back), and a ring whose caller is not
   * taken back, or whose callee is not once it answered.
   *
   * A snapshot with no member to take back (an emptied room's, or one
   * whose members' grace is over) restores only what the room remembers of
   * who left (the removed ids, and the hang-ups of the last
   * {@link HANG_UP_MEMORY_MS}), while it has a hang-up to tell: a page away
   * past the grace, back after the room's server was evicted, still hears it.
   *
   * Ignored (returns false: the caller deletes it) unless the room is empty
   * and the snapshot is valid, and either was saved within the grace plus
   * {@link SNAPSHOT_REFRESH_MS} (an older one is of a room whose members are
   * gone by now) and leaves a member to take back, or holds a hang-up of the
   * last {@link HANG_UP_MEMORY_MS}. An emptied room nobody opens again keeps
   * that record (ids only, no names) in storage until it is next opened.
   */
  restore(snapshot: unknown): boolean {
    if (this.#members.size || this.#knockers.size || this.#arriving.size) return false;
    const parsed = v.safeParse(RoomSnapshotSchema, snapshot);
    if (!parsed.success) return false;
    const { savedAt, locked, hostKey, members, ring, hungUp, removed } = parsed.output;
    const now = this.#now();
    if (savedAt > now + SNAPSHOT_REFRESH_MS) return false;
    const fresh = now - savedAt <= this.#graceMs + SNAPSHOT_REFRESH_MS;
    const ids = new Set<string>();
    const kept = members.filter((m) => fresh && m.heard && now - m.lastSeen <= this.#graceMs && !ids.has(m.id) && ids.add(m.id));
    const host = kept.find((m) => m.host);
    const taken = kept.slice(0, this.capacity);
    if (host && !taken.includes(host)) taken[taken.length - 1] = host;
    this.#hungUp = hungUp;
    if (!taken.length && !this.#forgetOldHangUps(now).length) return false;
    // Members not taken back are removed: the others, resuming, find them
    // gone (their resumed welcome leaves them out), and close their links.
    for (const id of removed) this.#remember(id, null);
    for (const m of members) if (!taken.includes(m)) this.#remember(m.id, null);
    // Only the memory of who left: the room stays empty, its record as stored.
    if (!taken.length) return true;
    for (const m of taken) {
      this.#members.set(m.id, {
        id: m.id,
        socket: null,
        lastSeen: Math.min(m.lastSeen, now),
        heard: true,
        name: m.name,
        inCall: m.inCall,
        host: m.host && hostKey !== null,
        signedAt: now,
        ...this.#freshBucket(),
        candidatesTo: new Map(),
      });
    }
    this.#locked = locked;
    this.#hostKey = hostKey;
    // The host's grace ran out while the server was down: the role passes on
    // as it would have at that tick (else a locked room has nobody to open it).
    this.#handOverHost();
    const caller = ring && this.#members.get(ring.caller);
    const callee = (ring?.callee != null && this.#members.get(ring.callee)) || null;
    if (ring && caller && (callee || !ring.accepted)) {
      this.#ring = { caller, callee, since: ring.since, timeoutMs: ring.timeoutMs, accepted: ring.accepted };
    }
    this.#persist();
    return true;
  }

  /** Number of admitted peers. */
  get size(): number {
    return this.#members.size;
  }

  /** The host locked the room: arrivals wait in the lobby. */
  get locked(): boolean {
    return this.#locked;
  }

  /** The peers in the room, in order of arrival. */
  peers(): PeerInfo[] {
    return [...this.#members.values()].map(info);
  }

  /** The peers that knocked and wait for the host, in order of arrival. */
  knocking(): PeerInfo[] {
    return [...this.#knockers.values()].filter((k) => k.knocked).map(info);
  }

  /** True when one more socket would be refused. */
  get full(): boolean {
    return this.#members.size + this.#arriving.size >= this.capacity;
  }

  /**
   * A socket arrives under the server-generated `id`. With a verified
   * `resumeId` of a member still held (away, or not yet noticed gone) it gets
   * that member back: same id, same slot, nothing announced. Otherwise, in a
   * locked room anyone but the host key's holder waits in the lobby (`lobby`);
   * else its ICE servers are minted and it is admitted ({@link admit}), under
   * `resumeId` if it had one and the room forgot it (a restart), under `id`
   * if this server removed that member (the others saw it leave), or refused
   * with `room-full`. Never rejects.
   */
  async arrive(socket: PeerSocket, id: string, arrival: Arrival = {}): Promise<void> {
    const { hostKey = null, resumeId = null } = arrival;
    const removed = resumeId !== null && this.#removed.has(resumeId);
    // A removed member's token: the member it was let in as since, if still
    // here (its page may have lost the welcome with the new token).
    const held = resumeId === null ? undefined : this.#members.get(this.#removed.get(resumeId) ?? resumeId);
    if (held) {
      // Its verified token proves it read a welcome: a heartbeat timeout of
      // its old socket while this one is admitted must hold it, not remove it.
      held.heard = true;
      this.#arriving.add(socket);
      const [grant, session] = await Promise.all([this.#mintFor(held.id), arrival.session?.(held.id)]);
      if (!this.#arriving.delete(socket)) return;
      if (this.#members.get(held.id) === held) this.#rebind(held, socket, grant, session, arrival.session, resumeId !== held.id ? resumeId : null);
      // Removed meanwhile (its grace ran out during the mint, or it hung up
      // on another socket): its token is now a removed member's, and gets
      // what a late token gets, a new id (or the lobby), not a final refusal.
      else await this.arrive(socket, id, arrival);
      return;
    }
    // A token of a member removed (its grace ran out, it hung up, or a
    // restart's snapshot left it out): the others saw it leave and closed
    // their links to it, so it comes in as someone new, under a new id, and
    // its page starts its links over. Under its old id it kept them, and its
    // role: the first in the room kept answering impolitely while the
    // others, meeting a newcomer, were impolite too, and each ignored the
    // other's offers. A token of an id the room never saw leave (a restart
    // without its snapshot) keeps the id.
    const peerId = resumeId !== null && !removed && !this.#idInUse(resumeId) ? resumeId : id;
    const replaces = removed ? resumeId : null;
    const keyHolder = hostKey !== null && this.#hostKey !== null && sameSecret(hostKey, this.#hostKey);
    if (this.#locked && !keyHolder) {
      this.#enterLobby(socket, peerId, arrival.session, resumeId !== null, replaces, arrival.address ?? null);
      return;
    }
    if (this.full) {
      this.#refuseFull(socket);
      return;
    }
    this.#arriving.add(socket);
    const [grant, session] = await Promise.all([this.#mintFor(peerId), arrival.session?.(peerId)]);
    if (!this.#arriving.delete(socket)) return; // it closed meanwhile
    if (this.#idInUse(peerId)) {
      turnAway(socket);
      return;
    }
    const options = { iceTtl: grant.iceTtl, hostKey, session, heard: resumeId !== null, sign: arrival.session, replaces };
    if (this.admit(socket, peerId, grant.iceServers, options) && replaces !== null) this.#remember(replaces, peerId);
  }

  /** No room for `socket`: `busy` while two peers ring or talk in a ring's call, else `room-full`. */
  #refuseFull(socket: PeerSocket): void {
    if (this.#ring?.callee) refuse(socket, 'busy', 'the line is busy', CloseCode.busy);
    else refuse(socket, 'room-full', 'this room is full', CloseCode.roomFull);
  }

  #idInUse(id: string): boolean {
    return this.#members.has(id) || [...this.#knockers.values()].some((k) => k.id === id);
  }

  /** A held member comes back on a new socket: same id and slot; the others notice nothing. */
  #rebind(member: Member, socket: PeerSocket, grant: IceGrant, session: string | undefined, sign: Arrival['session'], replaces: string | null): void {
    const old = member.socket;
    // It may have missed a `peer-left` while away: who hung up within the
    // grace (the client makes nothing of one it heard, or one still here);
    // to a removed member's token let in since under a new id (its page may
    // have lost that welcome), all it would have been told then.
    const now = this.#now();
    const hungUp = this.#forgetOldHangUps(now).flatMap((d) => (now - d.at <= this.#graceMs || replaces !== null ? [d.id] : []));
    if (old) {
      this.#bySocket.delete(old);
      safeClose(old, RETRY_CLOSE_CODE, 'replaced');
    }
    member.socket = socket;
    member.lastSeen = this.#now();
    member.heard = true; // it came back with its token
    member.sign = sign;
    member.signedAt = this.#now();
    member.candidatesTo.clear();
    // The member's rate-limit bucket stays as it was: a resume refills nothing
    // (else resuming over and over would get round the flood close).
    this.#bySocket.set(socket, member);
    const welcome = this.#welcome(member, grant, session);
    welcome.resumed = true;
    welcome.peers = this.peers().filter((p) => p.id !== member.id);
    if (hungUp.length) welcome.hungUp = hungUp;
    if (replaces !== null) welcome.replaces = replaces;
    // Its ring ended while it was away: it must not ring again on its own.
    const ended = this.#ringEnds.get(member.id);
    this.#ringEnds.delete(member.id);
    if (ended && this.#now() - ended.at <= this.#graceMs) welcome.ringEnded = ended.state;
    send(socket, welcome);
    if (member.host && this.knocking().length) send(socket, { type: 'knocks', peers: this.knocking() });
    // A ring still going on: where it stands, for this peer.
    const ring = this.#ring;
    if (ring && !ring.accepted) {
      if (ring.caller === member) this.#sendRing(member, 'ringing', ring.callee);
      else if (ring.callee === member) this.#sendRing(member, 'incoming', ring.caller);
    } else if (ring) {
      // Answered while it was away (a caller would otherwise ring on for good).
      if (ring.caller === member) this.#sendRing(member, 'accepted', ring.callee);
      else if (ring.callee === member) this.#sendRing(member, 'accepted', ring.caller);
    }
  }

  #welcome(member: Member, grant: IceGrant, session: string | undefined): Extract<ServerMessage, { type: 'welcome' }> {
    const welcome: Extract<ServerMessage, { type: 'welcome' }> = {
      type: 'welcome',
      version: PROTOCOL_VERSION,
      id: member.id,
      capacity: this.capacity,
      peers: [],
      iceServers: grant.iceServers,
      locked: this.#locked,
    };
    if (grant.iceTtl !== undefined) welcome.iceTtl = grant.iceTtl;
    if (member.host && this.#hostKey) welcome.hostKey = this.#hostKey;
    if (session !== undefined) welcome.session = session;
    return welcome;
  }

  /**
   * Admit a socket under the server-generated `id`, send it `welcome` and
   * announce it to the others. When the room is full, send `room-full`, close
   * the socket with {@link CloseCode.roomFull} and return false. The first
   * member of an empty room, or one presenting the host key, is the host.
   */
  admit(
    socket: PeerSocket,
    id: string,
    iceServers: IceServer[],
    options: {
      iceTtl?: number | undefined;
      hostKey?: string | null;
      session?: string | undefined;
      heard?: boolean;
      sign?: Arrival['session'];
      /** The removed member's id its token named: it is told who hung up since ({@link HANG_UP_MEMORY_MS}). */
      replaces?: string | null;
    } = {},
  ): boolean {
    if (this.#bySocket.has(socket)) return true;
    if (this.#members.size >= this.capacity) {
      this.#refuseFull(socket);
      return false;
    }
    const others = this.peers();
    let host = false;
    if (this.#members.size === 0 || this.#hostKey === null) {
      this.#hostKey = randomId(16);
      host = true;
    } else if (options.hostKey != null && sameSecret(options.hostKey, this.#hostKey)) {
      host = true;
    }
    const member: Member = {
      id,
      socket,
      lastSeen: this.#now(),
      heard: options.heard ?? false,
      name: '',
      inCall: false,
      host,
      sign: options.sign,
      signedAt: this.#now(),
      ...this.#freshBucket(),
      candidatesTo: new Map(),
    };
    this.#members.set(id, member);
    this.#bySocket.set(socket, member);
    this.#persist();
    const welcome = this.#welcome(member, { iceServers, iceTtl: options.iceTtl }, options.session);
    welcome.peers = others;
    // Back after the others saw it leave: who hung up meanwhile (the client
    // makes nothing of those it did not know, or heard leave).
    const hungUp = options.replaces != null ? this.#forgetOldHangUps(this.#now()).map((d) => d.id) : [];
    if (hungUp.length) welcome.hungUp = hungUp;
    if (options.replaces != null) welcome.replaces = options.replaces;
    send(socket, welcome);
    if (host && this.knocking().length) send(socket, { type: 'knocks', peers: this.knocking() });
    this.#broadcast(member, { type: 'peer-joined', peer: info(member) });
    // A ring waiting for someone to ring: this is them.
    const ring = this.#ring;
    if (ring && !ring.callee) {
      ring.callee = member;
      this.#persist();
      this.#sendRing(ring.caller, 'ringing', member);
      this.#sendRing(member, 'incoming', ring.caller);
    }
    return true;
  }

  /** Handle one inbound frame (text or binary) from `socket`. Never throws. */
  receive(socket: PeerSocket, frame: unknown): void {
    const knocker = this.#knockers.get(socket);
    if (knocker) {
      this.#receiveInLobby(knocker, frame);
      return;
    }
    const member = this.#bySocket.get(socket);
    if (!member) return; // not admitted (refused, arriving, replaced, or closed already): ignore
    member.lastSeen = this.#now();
    member.heard = true;
    if (!this.#takeToken(member, socket)) return;
    const decoded = decodeClientMessage(frame);
    if (!decoded.ok) {
      sendError(socket, decoded.code, decoded.message);
      return;
    }
    this.#handle(member, socket, decoded.message);
  }

  /**
   * The peer is gone for good (it said so, or it was refused): forget it and
   * tell the others at once.
   */
  remove(socket: PeerSocket, reason: 'hangup' | 'left' = 'left'): void {
    if (this.#forgetVisitor(socket)) return;
    const member = this.#bySocket.get(socket);
    if (member) this.#removeMember(member, reason);
  }

  /**
   * The socket closed without a goodbye (`leave` or `bye`): a network drop or
   * a server-side restart of the connection. The member keeps its id and slot
   * for the grace period so it can resume; the others are told nothing yet.
   * A member never heard from (see `heard`) cannot resume: it is removed at
   * once, with `peer-left`, so its slot is free for the page's next try.
   */
  drop(socket: PeerSocket): void {
    if (this.#forgetVisitor(socket)) return;
    const member = this.#bySocket.get(socket);
    if (!member) return;
    if (!member.heard) {
      this.#removeMember(member, 'left', true);
      return;
    }
    this.#bySocket.delete(socket);
    member.socket = null;
  }

  /**
   * Housekeeping, to be called every 250 ms or so (the server's tick): sockets silent for the
   * heartbeat timeout are closed (their members held if the room has heard
   * from them, else removed with `peer-left`; a lobby's forgotten), and members away past the
   * grace period are removed with `peer-left`; a room with members re-saves
   * its snapshot every {@link SNAPSHOT_REFRESH_MS}. Returns true while the
   * room has members (keep ticking).
   */
  tick(): boolean {
    const now = this.#now();
    const ring = this.#ring;
    if (ring && !ring.accepted && now - ring.since >= ring.timeoutMs) this.#endRing('missed');
    for (const member of [...this.#members.values()]) {
      const silent = now - member.lastSeen;
      if (silent > this.#graceMs) {
        if (member.socket) safeClose(member.socket, RETRY_CLOSE_CODE, 'silent');
        this.#removeMember(member, 'left', true);
      } else if (member.socket && silent > this.#heartbeatTimeoutMs) {
        const socket = member.socket;
        this.drop(socket);
        safeClose(socket, RETRY_CLOSE_CODE, 'silent');
      }
    }
    // A lobby socket pings while it waits: one silent that long is gone (and
    // must not hold a place in the lobby).
    for (const knocker of [...this.#knockers.values()]) {
      if (now - knocker.lastSeen <= this.#heartbeatTimeoutMs) continue;
      this.#forgetVisitor(knocker.socket);
      safeClose(knocker.socket, RETRY_CLOSE_CODE, 'silent');
    }
    if (this.#members.size && now - this.#savedAt >= SNAPSHOT_REFRESH_MS) this.#persist(true);
    for (const member of this.#members.values()) if (member.socket && now - member.signedAt >= SESSION_REISSUE_MS) this.#reissue(member, member.socket, now);
    return this.#members.size > 0;
  }

  /** Hand `member` a fresh session token on `socket` (tokens expire: see {@link SESSION_REISSUE_MS}), unless it has moved on meanwhile. */
  #reissue(member: Member, socket: PeerSocket, now: number): void {
    member.signedAt = now;
    member.sign?.(member.id).then(
      (session) => {
        if (session !== undefined && this.#bySocket.get(socket) === member) send(socket, { type: 'session', session });
      },
      () => undefined, // its token from before stays good for most of an hour; the next period tries again
    );
  }

  /** Forget a lobby or arriving socket; true if it was one. */
  #forgetVisitor(socket: PeerSocket): boolean {
    if (this.#arriving.delete(socket)) return true;
    const knocker = this.#knockers.get(socket);
    if (!knocker) return false;
    this.#knockers.delete(socket);
    if (knocker.knocked) this.#sendKnocks();
    return true;
  }

  /**
   * @param lost the member was cut off (its resume grace ran out, or its
   *   socket dropped before the room heard from it), not gone by its own word
   *   or for flooding: a host's key stays good, for it to come back with.
   */
  #removeMember(member: Member, reason: 'hangup' | 'left', lost = false): void {
    const ring = this.#ring;
    if (ring?.caller === member) {
      // The caller gave up (or went): for the callee that is a missed call.
      if (ring.accepted) this.#ring = null;
      else this.#endRing('missed', false);
    } else if (ring?.callee === member) {
      // The callee went before answering (a reload, say): the ring waits for
      // the next to arrive, within the same timeout.
      if (ring.accepted) this.#ring = null;
      else {
        ring.callee = null;
        this.#sendRing(ring.caller, 'ringing', null);
      }
    }
    this.#members.delete(member.id);
    this.#remember(member.id, null);
    this.#ringEnds.delete(member.id);
    if (member.socket) this.#bySocket.delete(member.socket);
    const now = this.#now();
    this.#hungUp = this.#forgetOldHangUps(now).filter((d) => d.id !== member.id);
    if (reason === 'hangup') this.#hungUp = [...this.#hungUp, { id: member.id, at: now }].slice(-LIMITS.hungUpIds);
    for (const other of this.#members.values()) other.candidatesTo.delete(member.id);
    this.#broadcast(member, { type: 'peer-left', id: member.id, reason });
    if (this.#members.size === 0) this.#reset();
    else if (member.host) this.#handOverHost(!lost);
    this.#persist();
  }

  /** Drop the hang-ups older than {@link HANG_UP_MEMORY_MS} (no token from before then still verifies); returns what is left. */
  #forgetOldHangUps(now: number): { id: string; at: number }[] {
    return (this.#hungUp = this.#hungUp.filter((d) => now - d.at <= Math.max(this.#graceMs, HANG_UP_MEMORY_MS)));
  }

  /**
   * Hand the room's {@link RoomSnapshot} to {@link RoomOptions.save} (null
   * once the room is empty). Never throws: a room that cannot be saved goes
   * on, and only a restart would notice.
   */
  #persist(refresh = false): void {
    if (!this.#save) return;
    const savedAt = this.#now();
    this.#savedAt = savedAt;
    const members = [...this.#members.values()].map(({ id, name, inCall, host, heard, socket, lastSeen }) => ({
      id,
      name,
      inCall,
      host,
      heard,
      lastSeen: socket ? savedAt : lastSeen,
    }));
    const ring = this.#ring && {
      caller: this.#ring.caller.id,
      callee: this.#ring.callee?.id ?? null,
      since: this.#ring.since,
      timeoutMs: this.#ring.timeoutMs,
      accepted: this.#ring.accepted,
    };
    try {
      const snapshot = { savedAt, locked: this.#locked, hostKey: this.#hostKey, members, hungUp: this.#hungUp, ring, removed: [...this.#removed.keys()] };
      // Empty, it is kept while it has a hang-up to tell (see HANG_UP_MEMORY_MS).
      this.#save(members.length || this.#forgetOldHangUps(savedAt).length ? snapshot : null, { refresh });
    } catch {
      // see above
    }
  }

  /**
   * The host left for good: unless another member holds the key, the one
   * longest in the call becomes host (`host`, then the knocks waiting), so a
   * locked room never keeps its lobby waiting for nobody. Someone present and
   * in the call first (the one who sees the knocks), else present, else the
   * longest in the room, who gets the key in the `welcome` of its resume.
   * @param newKey the old host left (hung up, closed its page, was thrown
   *   out for flooding): its key is void, and the new host gets a new one.
   *   Otherwise (it was cut off) the key stays: the old host may still come
   *   back with it.
   */
  #handOverHost(newKey = false): void {
    const members = [...this.#members.values()];
    const next = members.find((m) => m.socket && m.inCall) ?? members.find((m) => m.socket) ?? members[0];
    if (!next || this.#hostKey === null || members.some((m) => m.host)) return;
    if (newKey) this.#hostKey = randomId(16);
    next.host = true;
    if (!next.socket) return;
    send(next.socket, { type: 'host', hostKey: this.#hostKey });
    if (this.knocking().length) send(next.socket, { type: 'knocks', peers: this.knocking() });
  }

  /**
   * The room emptied: it unlocks, its host key is void and nobody is left to
   * admit the lobby. Who hung up is kept, like the removed ids: the last to
   * go may have been away, and come back under a new id to hear it.
   */
  #reset(): void {
    this.#locked = false;
    this.#ring = null;
    this.#hostKey = null;
    this.#ringEnds.clear();
    for (const knocker of [...this.#knockers.values()]) {
      this.#knockers.delete(knocker.socket);
      // A page that never knocked comes back, to the open room this is now.
      if (knocker.knocked) turnAway(knocker.socket);
      else safeClose(knocker.socket, RETRY_CLOSE_CODE, 'room-empty');
    }
  }

  /**
   * `socket` waits in the lobby. A page opens its room socket before anyone
   * presses Join (to be rung, to be let in when the room unlocks), so most
   * of a lobby may never knock, and the host, who sees only knocks, could
   * neither see nor turn those away: they have places of their own
   * ({@link RoomOptions.maxKnocking}, as many as the knocks), and a newcomer
   * takes the place of the one waiting longest without a knock from the
   * address holding most of them (its own address's, if that holds as many
   * as any; see {@link placeFor}), which is closed with
   * {@link RETRY_CLOSE_CODE} (not final: that page comes back, and takes its turn).
   * So silent sockets cannot keep a guest from knocking, and one client's
   * cannot push out everyone else's pages.
   */
  #enterLobby(socket: PeerSocket, id: string, session: Arrival['session'], heard: boolean, replaces: string | null, address: string | null): void {
    const idle = [...this.#knockers.values()].filter((k) => !k.knocked);
    if (idle.length >= this.#maxKnocking) {
      const victim = placeFor(idle, address, true)!;
      this.#knockers.delete(victim.socket);
      safeClose(victim.socket, RETRY_CLOSE_CODE, 'lobby-full');
    }
    this.#knockers.set(socket, { id, socket, name: '', knocked: false, session, heard, replaces, address, lastSeen: this.#now(), ...this.#freshBucket() });
    send(socket, { type: 'lobby' });
  }

  /** In the lobby a socket may knock (`join`), go (`leave`) or keep its wait alive (`ping`); nothing else. */
  #receiveInLobby(knocker: Knocker, frame: unknown): void {
    knocker.lastSeen = this.#now();
    if (!this.#takeToken(knocker, knocker.socket)) return;
    const decoded = decodeClientMessage(frame);
    if (!decoded.ok) {
      sendError(knocker.socket, decoded.code, decoded.message);
      return;
    }
    const message = decoded.message;
    if (message.type === 'join') {
      // The host's list is as long as the lobby's places for knocks. Past
      // them, a knock from an address holding at least two fewer places than
      // the one holding most takes the place of that one's oldest knock;
      // otherwise it is refused. Either gets the same answer as a room that
      // does not exist.
      const knocks = [...this.#knockers.values()].filter((k) => k.knocked);
      if (!knocker.knocked && knocks.length >= this.#maxKnocking) {
        const victim = placeFor(knocks, knocker.address, false);
        this.#knockers.delete((victim ?? knocker).socket);
        turnAway((victim ?? knocker).socket);
        if (!victim) return;
      }
      knocker.name = message.name;
      knocker.knocked = true;
      this.#sendKnocks();
    } else if (message.type === 'leave') {
      this.remove(knocker.socket);
      safeClose(knocker.socket, 1000, 'left');
    } else if (message.type === 'ping') {
      // The wait may be long: its heartbeat keeps the knock (a client that
      // hears nothing reconnects, and would knock again under a new id).
      send(knocker.socket, { type: 'pong' });
    } else {
      sendError(knocker.socket, 'knocking', 'wait for the host to let you in');
    }
  }

  /** Move a lobby socket into the room (the host admitted it, or the room unlocked). */
  #admitFromLobby(knocker: Knocker): void {
    this.#knockers.delete(knocker.socket);
    if (this.full) {
      this.#refuseFull(knocker.socket);
      return;
    }
    this.#arriving.add(knocker.socket);
    void Promise.all([this.#mintFor(knocker.id), knocker.session?.(knocker.id)]).then(([grant, session]) => {
      if (!this.#arriving.delete(knocker.socket)) return;
      // Meanwhile its id came back on another socket (a session token used
      // twice), or the room emptied and turned its lobby away (nobody let
      // this one in any more; and the room's housekeeping has stopped).
      if (this.#idInUse(knocker.id) || !this.#members.size) {
        turnAway(knocker.socket);
        return;
      }
      const admitted = this.admit(knocker.socket, knocker.id, grant.iceServers, { iceTtl: grant.iceTtl, session, heard: knocker.heard, sign: knocker.session, replaces: knocker.replaces });
      if (admitted && knocker.replaces !== null) this.#remember(knocker.replaces, knocker.id);
    });
  }

  /** Tell the host(s) who is waiting in the lobby. */
  #sendKnocks(): void {
    const frame = encodeMessage({ type: 'knocks', peers: this.knocking() });
    for (const m of this.#members.values()) if (m.host && m.socket) safeSend(m.socket, frame);
  }

  async #mintFor(id: string): Promise<IceGrant> {
    try {
      return await this.#mint(id);
    } catch {
      return { iceServers: [] }; // host candidates still work on one network
    }
  }

  #freshBucket(): Bucket {
    return { tokens: this.#rate.burst, refilledAt: this.#now(), refusedInARow: 0, lastRateErrorAt: -Infinity };
  }

  #handle(member: Member, socket: PeerSocket, message: ClientMessage): void {
    // A new ring, an answer or a join: how an earlier ring ended is old news.
    if (message.type === 'join' || message.type === 'ring' || message.type === 'accept') this.#ringEnds.delete(member.id);
    switch (message.type) {
      case 'join': {
        const ring = this.#ring;
        if (ring && ring.callee === member && !ring.accepted) this.#accept(member, message.name);
        else if (ring && ring.caller !== member && ring.callee !== member) this.#sendRing(member, 'busy', null);
        else this.#enterCall(member, message.name);
        return;
      }
      case 'ring':
        this.#ringFrom(member, message.name, message.timeoutMs);
        return;
      case 'accept':
        this.#accept(member, message.name);
        return;
      case 'decline': {
        const ring = this.#ring;
        if (!ring || ring.callee !== member || ring.accepted) sendError(socket, 'no-call', 'no call is ringing for you');
        else this.#endRing('declined');
        return;
      }
      case 'leave':
      case 'bye':
        this.#removeMember(member, message.type === 'leave' ? 'hangup' : 'left');
        safeClose(socket, 1000, 'left');
        return;
      case 'ping':
        send(socket, { type: 'pong' });
        return;
      case 'signal': {
        if (!member.inCall) {
          sendError(socket, 'not-in-call', 'join the call before negotiating');
          return;
        }
        const target = this.#find(message.to);
        if (!target?.socket || target === member || !target.inCall) {
          sendError(socket, 'no-peer', 'no such peer in this call');
          return;
        }
        if (message.data.kind === 'candidates') {
          const sent = (member.candidatesTo.get(target.id) ?? 0) + message.data.candidates.length;
          if (sent > LIMITS.candidatesPerNegotiation) {
            sendError(socket, 'too-many-candidates', `over ${LIMITS.candidatesPerNegotiation} candidates`);
            return;
          }
          member.candidatesTo.set(target.id, sent);
        } else {
          member.candidatesTo.set(target.id, 0);
        }
        // Re-encode the validated message: `from` is ours, unknown fields are gone.
        send(target.socket, { type: 'signal', from: member.id, data: message.data });
        return;
      }
      case 'lock': {
        if (!member.host) {
          sendError(socket, 'not-host', 'only the host may lock the room');
          return;
        }
        // No change (a repeat): the sender hears where it stands, and nothing
        // is saved or announced again.
        if (message.locked === this.#locked) {
          send(socket, { type: 'lock-changed', locked: this.#locked });
          return;
        }
        this.#locked = message.locked;
        this.#persist();
        const frame = encodeMessage({ type: 'lock-changed', locked: this.#locked });
        for (const m of this.#members.values()) if (m.socket) safeSend(m.socket, frame);
        // Unlocked: the lobby's sockets come in, as capacity allows, and the
        // host's list empties: those who knocked first (the host saw them, in
        // that order), then the pages waiting without a knock.
        if (!this.#locked && this.#knockers.size) {
          const lobby = [...this.#knockers.values()];
          for (const knocker of [...lobby.filter((k) => k.knocked), ...lobby.filter((k) => !k.knocked)]) this.#admitFromLobby(knocker);
          this.#sendKnocks();
        }
        return;
      }
      case 'admit':
      case 'reject': {
        if (!member.host) {
          sendError(socket, 'not-host', 'only the host may admit or reject');
          return;
        }
        const knocker = [...this.#knockers.values()].find((k) => k.id === message.id && k.knocked);
        if (!knocker) {
          sendError(socket, 'no-peer', 'nobody with that id is knocking');
          return;
        }
        if (message.type === 'admit') {
          if (this.full) {
            sendError(socket, 'room-full', 'the room is full');
            return;
          }
          this.#admitFromLobby(knocker);
        } else {
          this.#knockers.delete(knocker.socket);
          // The same answer as for a room that does not exist.
          turnAway(knocker.socket);
        }
        this.#sendKnocks();
        return;
      }
      case 'ice-refresh':
        void this.#mintFor(member.id).then((grant) => {
          if (this.#bySocket.get(socket) !== member) return;
          const answer: Extract<ServerMessage, { type: 'ice-servers' }> = { type: 'ice-servers', iceServers: grant.iceServers };
          if (grant.iceTtl !== undefined) answer.iceTtl = grant.iceTtl;
          send(socket, answer);
        });
        return;
    }
  }

  /**
   * `member` takes part in the call as `name`: `joined` (with whom to offer
   * to) and `peer-updated`. The others hear a repeat too (its `join` sent
   * again: its socket came back, and a first offer they sent it meanwhile
   * went nowhere; the client sends it again), but not a callee already in
   * the call that a ring accepts at once: nothing of it came back.
   */
  #enterCall(member: Member, name: string, ringChanged = false): void {
    // A repeat (a resend after a reconnect, or a client flooding within its
    // rate) changes nothing to save: each save is a storage write that holds
    // the room's frames until it is confirmed.
    const repeat = member.inCall && member.name === name;
    member.name = name;
    member.inCall = true;
    if (ringChanged || !repeat) this.#persist();
    const inCall = [...this.#members.values()].filter((m) => m !== member && m.inCall).map(info);
    if (member.socket) send(member.socket, { type: 'joined', peers: inCall });
    if (!(ringChanged && repeat)) this.#broadcast(member, { type: 'peer-updated', peer: info(member) });
  }

  /**
   * `member` rings. One ring per room: from the callee of the ring going on
   * it is an answer (glare: two rings crossing make one call); from anyone
   * else, or while two others are in a call, the line is busy. Otherwise the
   * caller enters the call and the other peer in the room (the first to
   * arrive, if nobody is there yet) is rung.
   */
  #ringFrom(member: Member, name: string, timeoutMs: number): void {
    const ring = this.#ring;
    if (ring) {
      if (ring.callee === member && !ring.accepted) this.#accept(member, name);
      else if (ring.caller === member) {
        // A repeat (a resend after a reconnect): where it stands.
        if (ring.accepted) this.#enterCall(member, name);
        else {
          if (member.name !== name) {
            member.name = name;
            this.#persist();
          }
          this.#sendRing(member, 'ringing', ring.callee);
        }
      } else this.#sendRing(member, 'busy', null);
      return;
    }
    const others = [...this.#members.values()].filter((m) => m !== member);
    if (!member.inCall && others.filter((m) => m.inCall).length >= 2) {
      this.#sendRing(member, 'busy', null);
      return;
    }
    const callee = others.find((m) => m.socket) ?? others[0] ?? null;
    // A new ring: how an earlier one ended is no news to either party.
    if (callee) this.#ringEnds.delete(callee.id);
    this.#ring = { caller: member, callee, since: this.#now(), timeoutMs, accepted: false };
    this.#enterCall(member, name, true);
    this.#sendRing(member, 'ringing', callee);
    if (!callee) return;
    // Already in the call, waiting for anyone (`join`): no need to ask.
    if (callee.inCall) this.#accept(callee, callee.name);
    else this.#sendRing(callee, 'incoming', member);
  }

  /**
   * `member` answers: if it is the callee of the ring going on, the ring
   * becomes the call (`accepted` to both; the callee enters it and offers).
   * A repeat after that just re-enters; with no ring for it, the ring it
   * answers is over: `missed`.
   */
  #accept(member: Member, name: string): void {
    const ring = this.#ring;
    if (!ring || ring.callee !== member) {
      this.#sendRing(member, 'missed', null);
      return;
    }
    if (ring.accepted) {
      this.#enterCall(member, name);
      return;
    }
    ring.accepted = true;
    this.#enterCall(member, name, true);
    this.#sendRing(ring.caller, 'accepted', member);
    this.#sendRing(member, 'accepted', ring.caller);
  }

  /**
   * The ring ends without a call: both parties are told, and the caller is
   * out of the call (unless `callerStays` is false: it is leaving the room,
   * and the others hear `peer-left` next).
   */
  #endRing(state: 'declined' | 'missed', callerStays = true): void {
    const ring = this.#ring;
    if (!ring) return;
    this.#ring = null;
    ring.caller.inCall = false;
    // Told now to those here; kept for one away (its socket down), to tell on its return.
    const at = this.#now();
    for (const party of [ring.caller, ring.callee]) if (party && !party.socket) this.#ringEnds.set(party.id, { state, at });
    this.#persist();
    if (callerStays) this.#sendRing(ring.caller, state, ring.callee);
    if (ring.callee) this.#sendRing(ring.callee, state, ring.caller);
    if (callerStays) this.#broadcast(ring.caller, { type: 'peer-updated', peer: info(ring.caller) });
  }

  #sendRing(to: Member, state: RingState, peer: Member | null): void {
    if (!to.socket) return;
    send(to.socket, peer ? { type: 'call', state, peer: info(peer) } : { type: 'call', state });
  }

  #find(id: string): Member | undefined {
    return this.#members.get(id);
  }

  #broadcast(from: Member, message: ServerMessage): void {
    const frame = encodeMessage(message);
    for (const m of this.#members.values()) if (m !== from && m.socket) safeSend(m.socket, frame);
  }

  /** Token bucket; answers `rate-limited` (at most once a second) and closes floods. */
  #takeToken(bucket: Bucket, socket: PeerSocket): boolean {
    const now = this.#now();
    const { perSecond, burst, closeAfter } = this.#rate;
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.refilledAt) / 1000) * perSecond);
    bucket.refilledAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.refusedInARow = 0;
      return true;
    }
    bucket.refusedInARow++;
    if (bucket.refusedInARow >= closeAfter) {
      this.remove(socket);
      refuse(socket, 'rate-limited', 'too many messages', CloseCode.rateLimited);
    } else if (now - bucket.lastRateErrorAt >= 1000) {
      bucket.lastRateErrorAt = now;
      sendError(socket, 'rate-limited', `over ${perSecond} messages/s`);
    }
    return false;
  }
}

/**
 * Which of the lobby's places (`holders`, oldest first) a newcomer from
 * `address` may take, or null if it may take none: the oldest of those held by
 * the address holding most. A socket without a knock (`always`) always gets
 * one: if its own address holds as many as any, it takes its own oldest. A
 * knock only from an address holding at least two more than its own, so
 * that the shares never grow more uneven and the one holding a single place
 * keeps it. An unknown address (null) counts as one of its own.
 */
function placeFor(holders: Knocker[], address: string | null, always: boolean): Knocker | null {
  const counts = new Map<string, number>();
  for (const k of holders) if (k.address !== null) counts.set(k.address, (counts.get(k.address) ?? 0) + 1);
  const of = (k: Knocker) => (k.address === null ? 1 : counts.get(k.address)!);
  const mine = address === null ? 0 : (counts.get(address) ?? 0);
  const most = Math.max(...holders.map(of));
  if (always && mine >= most) return holders.find((k) => k.address === address)!;
  return always || mine + 2 <= most ? holders.find((k) => of(k) === most)! : null;
}

/** Compare two secrets in time independent of where they differ. */
function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function info(m: Member | Knocker): PeerInfo {
  return { id: m.id, name: m.name, inCall: 'inCall' in m && m.inCall };
}

function safeSend(socket: PeerSocket, frame: string): void {
  try {
    socket.send(frame);
  } catch {
    // A socket that is closing cannot be written to; its close handler cleans up.
  }
}

function send(socket: PeerSocket, message: ServerMessage): void {
  safeSend(socket, encodeMessage(message));
}

export function sendError(socket: PeerSocket, code: ServerErrorCode, message: string): void {
  send(socket, { type: 'error', code, message });
}

/** Send an error, then close with an application close code. */
export function refuse(socket: PeerSocket, code: ServerErrorCode, message: string, closeCode: number): void {
  sendError(socket, code, message);
  safeClose(socket, closeCode, code);
}

function safeClose(socket: PeerSocket, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    // already closed
  }
}
