/**
 * The wire protocol between `<call-widget>` and the room server.
 *
 * One module, imported by both `src/` (the element) and `party/` (the PartyKit
 * server): client→server and server→client messages are discriminated unions on
 * `type`, each with a valibot schema, and both ends validate what they receive.
 * No DOM types are used here so the module runs unchanged in workerd, Node and
 * the browser.
 *
 * Every frame is one JSON object encoded as UTF-8 text. Binary frames are not
 * part of the protocol.
 */
import * as v from 'valibot';

/**
 * Bumped on any incompatible change. The client opens the room socket with it
 * as the query parameter {@link VERSION_PARAM}; the room server turns any
 * other away with {@link CloseCode.protocolMismatch} (and none, as from a
 * client older than version 3, to which 4005 is not final, with
 * {@link CloseCode.roomUnavailable}), and says its
 * own in `welcome`, where the client checks it in turn (against a server
 * that predates the parameter). Without the check, a page holding a cached
 * older script and a newer server (or two pages of two versions in one room)
 * connect and then silently exchange no ICE candidates.
 *
 * - 4: `welcome` no longer carries `polite` (it was always true, and wrong
 *   after a resume: a peer's role is per peer, and the client derives it:
 *   polite toward the peers in a first `welcome`, impolite toward later
 *   arrivals); session tokens expire, and the room hands a member fresh
 *   ones in `session` frames (a client that ignored them could not resume
 *   after an hour's call).
 * - 3: the client sends its version ({@link VERSION_PARAM}).
 * - 2: ICE candidates travel in batches (signal kind `candidates`).
 */
export const PROTOCOL_VERSION = 4;

/** The room socket's query parameter that carries the client's {@link PROTOCOL_VERSION}. */
export const VERSION_PARAM = 'v';

/**
 * Size and count limits enforced by the room server (and, for what it sends,
 * respected by the client).
 *
 * - `messageBytes`: one whole client frame, UTF-8 bytes. PartyKit's runtime
 *   itself closes frames over 1 MiB with 1009; we refuse far below that.
 * - `serverMessageBytes`: one whole server frame. A relayed signal is the
 *   client's frame with `to` replaced by `from` (ids of 16–32 characters), so
 *   it can be a few bytes longer than what the client sent; the headroom keeps
 *   every relayed frame decodable by the receiver.
 * - `sdpBytes`: one SDP blob. Real offers with audio+video+data are 3–8 KiB.
 * - `candidateBytes`: one ICE candidate line (RFC 8839 §5.1 lines are < 200 B).
 * - `nameChars`: a display name, in UTF-16 code units.
 * - `candidatesPerNegotiation`: ICE candidates one peer may send another
 *   between two session descriptions.
 */
export const LIMITS = {
  messageBytes: 64 * 1024,
  serverMessageBytes: 64 * 1024 + 256,
  sdpBytes: 64 * 1024,
  candidateBytes: 1024,
  nameChars: 64,
  candidatesPerNegotiation: 100,
  /** Ids in a `welcome`'s `hungUp` (the most recent). */
  hungUpIds: 32,
} as const;

/**
 * Token-bucket rate limit of one connection's inbound frames, enforced by the
 * room server (over it a frame is refused with `rate-limited`; `closeAfter`
 * refused in a row close the connection with {@link CloseCode.rateLimited})
 * and kept by the client, which paces its frames to stay within it.
 *
 * - `perSecond`: sustained rate, frames/s (20: a call set-up, one offer, one
 *   answer and a few frames of batched candidates per peer, fits in the burst
 *   several times over).
 * - `burst`: bucket size, frames (50).
 * - `closeAfter`: refused frames in a row before the connection is closed (50).
 */
export interface RateLimit {
  perSecond: number;
  burst: number;
  closeAfter: number;
}

export const RATE_LIMIT: RateLimit = { perSecond: 20, burst: 50, closeAfter: 50 };

/**
 * Application WebSocket close codes (RFC 6455 §7.4.2 reserves 4000–4999 for
 * applications). Codes listed in {@link TERMINAL_CLOSE_CODES} mean "do not
 * reconnect": the client treats them as final.
 */
export const CloseCode = {
  /** The room already holds its capacity of peers. */
  roomFull: 4001,
  /** The room id is not of the accepted format, or the room is not open to this client. */
  roomUnavailable: 4002,
  /** The page's origin is not on the server's allow-list. */
  forbiddenOrigin: 4003,
  /**
   * A ring (`mode="call"`) is going on between the room's two peers, or they
   * are in the call it started: the line is busy.
   */
  busy: 4004,
  /**
   * The client speaks another {@link PROTOCOL_VERSION} than the server: one
   * of the two is out of date. Reloading the page
   * fetches the widget again. The client also closes with it itself when a
   * `welcome` says another version.
   */
  protocolMismatch: 4005,
  /** The connection kept sending after being told it was rate-limited. */
  rateLimited: 4008,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * How long the room server holds the id and slot of a peer whose socket
 * dropped, ms, counted from its last frame (only a peer it has heard from:
 * the client answers its `welcome` at once): within it the peer can resume
 * (`?session=`) and nobody sees it leave; the client keeps its links to
 * peers missing after a reconnect for as long.
 */
export const RESUME_GRACE_MS = 20_000;

/**
 * How long a ring (`mode="call"`) may go unanswered before it is `missed`,
 * ms: the `ring` message's `timeoutMs` must lie in `[min, max]`; the widget's
 * `ring-timeout` attribute (s) defaults to `default / 1000`. The room server
 * checks it on its housekeeping tick (every 250 ms), so a ring ends at most
 * that much after its timeout.
 */
export const RING_TIMEOUT_MS = { min: 1000, max: 120_000, default: 30_000 } as const;

/**
 * The room server's close that is not final (not in {@link CloseCode}): the
 * client comes back. The reason says why: `replaced` (the member resumed on
 * a newer socket), `silent` (nothing heard for the heartbeat timeout),
 * `lobby-full` (its place among the lobby's sockets waiting without a knock
 * went to a newcomer), `room-empty` (it waited in the lobby without a knock
 * and the room emptied: it comes back to an open room).
 */
export const RETRY_CLOSE_CODE = 4000;

/** Close codes after which the client must not reconnect. */
export const TERMINAL_CLOSE_CODES: ReadonlySet<number> = new Set<number>(Object.values(CloseCode));

/**
 * Room ids: base64url, 8–64 characters. Generated ids are 22 characters
 * (128 random bits).
 */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

/** Peer ids are assigned by the server: base64url, 16–32 characters. */
export const PEER_ID_PATTERN = /^[A-Za-z0-9_-]{16,32}$/;

/**
 * Host keys (and other server-issued secrets): base64url, 22–64 characters.
 * The server issues 22 (128 random bits).
 */
export const SECRET_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;

/**
 * What a display name may not hold: controls (C0 and C1); format characters
 * (General_Category Cf: the bidi embeddings, overrides, isolates and marks of
 * UAX #9 §2, zero-width spaces, the BOM, soft hyphens, tag characters); line
 * and paragraph separators; and every other Default_Ignorable_Code_Point
 * (UAX #44: the Hangul fillers, the combining grapheme joiner, the Khmer
 * inherent vowels, the variation selectors past U+FE0F), which render as
 * nothing. Kept: ZWNJ and ZWJ (U+200C, U+200D), which Persian, the Indic
 * scripts and emoji sequences need; U+FE0E and U+FE0F (text and emoji
 * presentation); the Mongolian free variation selectors and vowel
 * separator (U+180B–U+180F). With the others a name could reorder the
 * sentence around it, look like another (`Al\u200bice`), carry hidden text
 * (tag characters, variation selectors: "emoji smuggling") or show as
 * nothing. The price: subdivision flags (England, Scotland, Wales) lose their
 * tags and show as a black flag, and the rare Cf characters of Arabic
 * number signs, Syriac and Egyptian hieroglyphs go.
 */
const FORBIDDEN_NAME_CHARS = /(?![\u200c\u200d\u180b-\u180f\ufe0e\ufe0f])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;

/**
 * A character that shows as something: a letter, number, punctuation or
 * symbol, other than the blank U+2800 BRAILLE PATTERN BLANK. A name without
 * one (only combining marks, joiners, presentation selectors) would leave a
 * blank badge where "Guest" belongs.
 */
const VISIBLE_NAME_CHAR = /(?!\u2800)[\p{L}\p{N}\p{P}\p{S}]/u;

/**
 * A display name the server accepts, made from whatever the user typed:
 * the characters a name may not hold (controls, invisible format
 * characters, separators, blank fillers) removed, trimmed, cut to
 * {@link LIMITS.nameChars} UTF-16 code units (never inside a surrogate
 * pair); empty (anonymous) if nothing visible is left.
 */
export function cleanDisplayName(name: string): string {
  let clean = name.replace(new RegExp(FORBIDDEN_NAME_CHARS.source, 'gu'), '').trim();
  if (clean.length > LIMITS.nameChars) {
    const cut = /[\ud800-\udbff]/.test(clean[LIMITS.nameChars - 1]!) ? LIMITS.nameChars - 1 : LIMITS.nameChars;
    clean = clean.slice(0, cut).trim();
  }
  return VISIBLE_NAME_CHAR.test(clean) ? clean : '';
}

/** Error codes the server sends in `{type: 'error'}`. */
export type ServerErrorCode =
  | 'bad-json'
  | 'bad-message'
  | 'unknown-type'
  | 'too-large'
  | 'binary-unsupported'
  | 'no-peer'
  | 'not-in-call'
  | 'too-many-candidates'
  | 'rate-limited'
  | 'room-full'
  | 'room-unavailable'
  | 'forbidden-origin'
  | 'protocol-mismatch'
  | 'not-host'
  | 'knocking'
  | 'no-call'
  | 'busy'
  | 'internal';

/**
 * Session tokens: `<peer-id>.<issued: Unix s, base 36>.<base64url HMAC>`,
 * issued by the server in `welcome` and `session` and presented as
 * `?session=` to resume that identity; they expire (party/session.ts). A
 * token of a member the room removed (the others were told it left) gets a
 * new id. The client treats them as opaque.
 */
export const SESSION_PATTERN = /^[A-Za-z0-9_-]{16,32}\.[0-9a-z]{1,10}\.[A-Za-z0-9_-]{20,64}$/;

/**
 * UTF-8 length of a string, in bytes, as `TextEncoder` would encode it (a lone
 * surrogate becomes U+FFFD, 3 bytes). Counts without allocating.
 */
export function byteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

// Pure: lets bundlers drop the schemas from a bundle that only uses the guard.
const maxBytes = /* @__NO_SIDE_EFFECTS__ */ (limit: number) =>
  v.check<string, string>((s) => byteLength(s) <= limit, `longer than ${limit} bytes`);

/** A server-assigned peer id. */
export const PeerIdSchema = v.pipe(v.string(), v.regex(PEER_ID_PATTERN));

/** A room's host key (see `welcome`). */
export const HostKeySchema = v.pipe(v.string(), v.regex(SECRET_PATTERN));

/**
 * A display name: 0–64 UTF-16 code units after trimming (empty means anonymous;
 * the widget shows "Guest"), none of the controls, invisible format
 * characters, line separators or blank fillers {@link cleanDisplayName}
 * removes, and something visible in it if anything.
 */
export const DisplayNameSchema = v.pipe(
  v.string(),
  v.trim(),
  v.maxLength(LIMITS.nameChars),
  v.check((s) => !FORBIDDEN_NAME_CHARS.test(s), 'control, invisible or separator character'),
  v.check((s) => !s || VISIBLE_NAME_CHAR.test(s), 'nothing visible'),
);

/** RTCSessionDescriptionInit, restricted to what perfect negotiation sends. */
const DescriptionSchema = v.object({
  type: v.picklist(['offer', 'answer', 'pranswer', 'rollback']),
  sdp: v.pipe(v.string(), maxBytes(LIMITS.sdpBytes)),
});

/** RTCIceCandidateInit; `null` fields as browsers serialize them. */
const CandidateSchema = v.object({
  candidate: v.pipe(v.string(), maxBytes(LIMITS.candidateBytes)),
  sdpMid: v.nullish(v.pipe(v.string(), v.maxLength(64)), null),
  sdpMLineIndex: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(255)), null),
  usernameFragment: v.nullish(v.pipe(v.string(), v.maxLength(256)), null),
});

export type IceCandidateData = v.InferOutput<typeof CandidateSchema>;

/**
 * What one peer's connection logic sends another: an SDP description (offer,
 * answer or rollback) or trickle-ICE candidates, in gathering order. An
 * answer says the ICE ufrag (RFC 8839 §5.4, `a=ice-ufrag`) of the offer it
 * answers: an ICE restart offer withdrawn since (a recovery step made a new
 * one) may still be answered, late, and that answer is dropped. The
 * candidates a browser gathers together (one per interface and transport,
 * then per STUN and TURN server) travel in one frame, at most
 * {@link LIMITS.candidatesPerNegotiation} (the client splits a bigger batch
 * into frames of that many; the room refuses a bigger frame whole with
 * `bad-message`, and takes that many per negotiation: of a bigger batch the
 * first arrive, the rest get `too-many-candidates`): a candidate per frame made a
 * joiner of a six-way mesh with STUN and TURN send ~130 frames in a second,
 * past the room's {@link RATE_LIMIT} (measured, Chromium, two TURN transports).
 */
export const SignalDataSchema = v.variant('kind', [
  v.object({ kind: v.literal('description'), description: DescriptionSchema, ufrag: v.optional(v.pipe(v.string(), v.maxLength(256))) }),
  v.object({
    kind: v.literal('candidates'),
    candidates: v.pipe(v.array(CandidateSchema), v.minLength(1), v.maxLength(LIMITS.candidatesPerNegotiation)),
  }),
]);
export type SignalData = v.InferOutput<typeof SignalDataSchema>;

/** What a peer is known by in a room. */
export const PeerInfoSchema = v.object({
  id: PeerIdSchema,
  name: v.string(),
  /** True once the peer has pressed join and has its media: it takes part in negotiation. */
  inCall: v.boolean(),
});
export type PeerInfo = v.InferOutput<typeof PeerInfoSchema>;

/** An RTCIceServer as handed out by the server (STUN, or TURN with REST credentials). */
export const IceServerSchema = v.object({
  urls: v.union([v.string(), v.array(v.string())]),
  username: v.optional(v.string()),
  credential: v.optional(v.string()),
});
export type IceServer = v.InferOutput<typeof IceServerSchema>;

/**
 * Lifetime of the credentials in an ICE server list, s (TURN REST credentials;
 * absent when the list holds none). The client asks for fresh ones with
 * `ice-refresh` before it runs out.
 */
const IceTtlSchema = v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)));

// ---------------------------------------------------------------- client → server

/**
 * Client → server messages.
 *
 * - `join`: enter the call (local media is ready); `name` is the display name.
 *   Answered with `joined`. In a locked room, before admission, `join` is a
 *   knock: the host is asked. From the callee of a ring it is `accept`.
 * - `ring` (the 1:1 ring flow, `mode="call"`): enter the call as `name` and
 *   ring the other peer in the room (or the next to arrive), for at most
 *   `timeoutMs` ({@link RING_TIMEOUT_MS}). Answered with `joined` and `call`
 *   (`ringing`), or `call` (`busy`) when a ring or a call between others is
 *   going on. From the callee of a ring it is `accept`: two rings crossing
 *   (glare) make one call.
 * - `accept` / `decline`: the callee answers the ring. `accept` enters the
 *   call as `name` (answered with `joined`, the caller in `peers`: the callee
 *   sends the first offer); `decline` ends the ring (`call` `declined` to
 *   both). Nothing is relayed between the two before `accept`.
 * - `leave`: hang up; others receive `peer-left` with reason `hangup`. From
 *   the caller of an unanswered ring: the callee gets `call` `missed`.
 * - `signal`: relay `data` to peer `to` in the same room; the server stamps `from`.
 * - `lock` (host only): lock or unlock the room. Later arrivals to a locked
 *   room wait in its lobby until the host admits or rejects them.
 * - `admit` / `reject` (host only): let knocking peer `id` in, or turn it away.
 * - `ice-refresh`: ask for a fresh ICE server list (new TURN credentials);
 *   answered with `ice-servers`.
 * - `bye`: this peer is going away for good (page closed, element removed):
 *   others get `peer-left` (reason `left`) at once instead of after the
 *   resume grace period.
 * - `ping`: heartbeat, answered with `pong`; a socket silent for the
 *   server's heartbeat timeout is treated as cut off.
 */
export const ClientMessageSchema = v.variant('type', [
  v.object({ type: v.literal('join'), name: DisplayNameSchema }),
  v.object({
    type: v.literal('ring'),
    name: DisplayNameSchema,
    timeoutMs: v.pipe(v.number(), v.integer(), v.minValue(RING_TIMEOUT_MS.min), v.maxValue(RING_TIMEOUT_MS.max)),
  }),
  v.object({ type: v.literal('accept'), name: DisplayNameSchema }),
  v.object({ type: v.literal('decline') }),
  v.object({ type: v.literal('leave') }),
  v.object({ type: v.literal('signal'), to: PeerIdSchema, data: SignalDataSchema }),
  v.object({ type: v.literal('lock'), locked: v.boolean() }),
  v.object({ type: v.literal('admit'), id: PeerIdSchema }),
  v.object({ type: v.literal('reject'), id: PeerIdSchema }),
  v.object({ type: v.literal('ice-refresh') }),
  v.object({ type: v.literal('bye') }),
  v.object({ type: v.literal('ping') }),
]);
export type ClientMessage = v.InferOutput<typeof ClientMessageSchema>;
export const CLIENT_MESSAGE_TYPES: ReadonlySet<string> = new Set([
  'join',
  'ring',
  'accept',
  'decline',
  'leave',
  'signal',
  'lock',
  'admit',
  'reject',
  'ice-refresh',
  'bye',
  'ping',
]);

// ---------------------------------------------------------------- server → client

/** The states of a ring, as the server's `call` message reports them. */
export const RING_STATES = ['ringing', 'incoming', 'accepted', 'declined', 'missed', 'busy'] as const;
export type RingState = (typeof RING_STATES)[number];

/**
 * Server → client messages.
 *
 * - `welcome`: sent once a socket is accepted. `version` is the server's
 *   {@link PROTOCOL_VERSION} (a client of another closes). `id` is this peer's server-assigned
 *   id; `peers` are the others in the room (in perfect negotiation the client is
 *   polite toward them, and impolite toward peers that arrive later; nothing
 *   on the wire says so); `iceServers` come from the server's configuration and their
 *   credentials last `iceTtl` s; `locked` tells whether the room is locked;
 *   `hostKey` is sent only to the room's host (the first peer of an empty
 *   room, or whoever reconnects presenting the key): with it the host may
 *   lock, admit and reject, and re-enter its locked room.
 *   `session` is this identity's token: presented again (`?session=`) after a
 *   dropped socket, it restores the same id and slot within the server's
 *   grace period (`resumed: true`; `peers` are then all the others, and the
 *   client keeps the roles it had toward those it knew). A peer it knew and
 *   `peers` leaves out left while it was away; `hungUp` lists those of them
 *   that hung up (`peer-left` reason `hangup`), the others just went. A page
 *   away past the grace whose token is still good gets a new id (the others
 *   saw it leave), `peers` as any newcomer, `replaces`: the id its token
 *   named, and `hungUp`: who hung up in the last 65 min (the token's
 *   lifetime plus clock skew; at most {@link LIMITS.hungUpIds}), for it to
 *   read the same way. A new id without `replaces` (the room could not read
 *   the token: it expired, or the server's secret changed) is no return:
 *   the others may be coming back too.
 *   `ringEnded`: the ring this peer made or was rung by ended while its
 *   socket was down (within the grace), `declined` or `missed`, as the `call`
 *   frame it missed would have said; the client then does not send that
 *   ring again.
 * - `lobby`: sent instead of `welcome` to a socket that arrived at a locked
 *   room: it may send `join` (its knock), `leave` and `ping` (answered, so a long
 *   wait is not taken for a dead socket) and waits for the host's decision:
 *   `welcome` (admitted) or close {@link CloseCode.roomUnavailable} (rejected,
 *   indistinguishable from a room that does not exist).
 * - `knocks` (to the host): the peers waiting in the lobby, whenever that changes.
 * - `lock-changed`: the host locked or unlocked the room.
 * - `host`: the room's host left for good (`bye`, `leave`, or silent past the
 *   resume grace) and no other host is here: this peer, the longest in the
 *   room, is the host now; `hostKey` as in `welcome`. So a locked room always
 *   has someone to admit its lobby.
 * - `ice-servers`: the answer to `ice-refresh`.
 * - `session`: a fresh session token for this identity, as in `welcome`
 *   (tokens expire; the room sends one every 15 min while the socket stays
 *   open): present it, not the older one, on the next reconnect.
 * - `pong`: the answer to `ping`.
 * - `joined`: the answer to `join`; `peers` are those already in the call, to whom
 *   this peer now sends the first offer.
 * - `peer-joined` / `peer-updated` / `peer-left`: room membership changes.
 * - `signal`: relayed negotiation data from peer `from`.
 * - `call`: the room's ring, as it concerns this peer. `ringing` (to the
 *   caller; `peer` is the callee, absent until someone is there to ring),
 *   `incoming` (to the callee; `peer` is the caller), `accepted` (to both),
 *   and the ends of a ring that never became a call: `declined` and `missed`
 *   (to both; `missed` when `timeoutMs` ran out or the caller left) and
 *   `busy` (to a ringer when others are ringing or in a call). Sent again on
 *   a resume while the ring lasts, and `accepted` while its call lasts.
 * - `error`: a request was refused; nothing was relayed.
 */
export const ServerMessageSchema = v.variant('type', [
  v.object({
    type: v.literal('welcome'),
    version: v.number(),
    id: PeerIdSchema,
    capacity: v.number(),
    peers: v.array(PeerInfoSchema),
    iceServers: v.array(IceServerSchema),
    iceTtl: IceTtlSchema,
    locked: v.boolean(),
    hostKey: v.optional(HostKeySchema),
    session: v.optional(v.pipe(v.string(), v.regex(SESSION_PATTERN))),
    resumed: v.optional(v.boolean()),
    hungUp: v.optional(v.pipe(v.array(PeerIdSchema), v.maxLength(LIMITS.hungUpIds))),
    replaces: v.optional(PeerIdSchema),
    ringEnded: v.optional(v.picklist(['declined', 'missed'])),
  }),
  v.object({ type: v.literal('pong') }),
  v.object({ type: v.literal('lobby') }),
  v.object({ type: v.literal('knocks'), peers: v.array(PeerInfoSchema) }),
  v.object({ type: v.literal('lock-changed'), locked: v.boolean() }),
  v.object({ type: v.literal('host'), hostKey: HostKeySchema }),
  v.object({ type: v.literal('ice-servers'), iceServers: v.array(IceServerSchema), iceTtl: IceTtlSchema }),
  v.object({ type: v.literal('session'), session: v.pipe(v.string(), v.regex(SESSION_PATTERN)) }),
  v.object({ type: v.literal('joined'), peers: v.array(PeerInfoSchema) }),
  v.object({ type: v.literal('peer-joined'), peer: PeerInfoSchema }),
  v.object({ type: v.literal('peer-updated'), peer: PeerInfoSchema }),
  v.object({ type: v.literal('peer-left'), id: PeerIdSchema, reason: v.picklist(['hangup', 'left']) }),
  v.object({ type: v.literal('signal'), from: PeerIdSchema, data: SignalDataSchema }),
  v.object({ type: v.literal('call'), state: v.picklist(RING_STATES), peer: v.optional(PeerInfoSchema) }),
  v.object({ type: v.literal('error'), code: v.string(), message: v.string() }),
]);
export type ServerMessage = v.InferOutput<typeof ServerMessageSchema>;
export type ServerErrorMessage = Extract<ServerMessage, { type: 'error' }>;

// ---------------------------------------------------------------- encode / decode

/** Result of decoding one frame: the validated message, or why it was refused. */
export type Decoded<T> =
  | { ok: true; message: T }
  | { ok: false; code: ServerErrorCode; message: string };

function decodeWith<T>(
  schema: v.GenericSchema<unknown, T>,
  knownTypes: ReadonlySet<string> | null,
  maxBytes: number,
  frame: unknown,
): Decoded<T> {
  if (typeof frame !== 'string') {
    return { ok: false, code: 'binary-unsupported', message: 'frames must be JSON text' };
  }
  if (frame.length > maxBytes || byteLength(frame) > maxBytes) {
    return { ok: false, code: 'too-large', message: `frame over ${maxBytes} bytes` };
  }
  let json: unknown;
  try {
    json = JSON.parse(frame);
  } catch {
    return { ok: false, code: 'bad-json', message: 'frame is not valid JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, code: 'bad-message', message: 'frame is not a JSON object' };
  }
  const type = (json as { type?: unknown }).type;
  if (knownTypes && (typeof type !== 'string' || !knownTypes.has(type))) {
    return { ok: false, code: 'unknown-type', message: 'unknown message type' };
  }
  const result = v.safeParse(schema, json);
  if (!result.success) {
    const issue = result.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    return { ok: false, code: 'bad-message', message: `${path || 'message'}: ${issue.message}`.slice(0, 200) };
  }
  return { ok: true, message: result.output };
}

/**
 * Decode and validate one client→server frame. Never throws.
 * Unknown object fields are stripped from the result.
 */
export function decodeClientMessage(frame: unknown): Decoded<ClientMessage> {
  return decodeWith(ClientMessageSchema, CLIENT_MESSAGE_TYPES, LIMITS.messageBytes, frame);
}

/** Decode and validate one server→client frame. Never throws. */
export function decodeServerMessage(frame: unknown): Decoded<ServerMessage> {
  return decodeWith(ServerMessageSchema, null, LIMITS.serverMessageBytes, frame);
}

/** Every server→client message type. */
export const SERVER_MESSAGE_TYPES: ReadonlySet<ServerMessage['type']> = new Set<ServerMessage['type']>([
  'welcome',
  'pong',
  'lobby',
  'knocks',
  'lock-changed',
  'host',
  'ice-servers',
  'session',
  'joined',
  'peer-joined',
  'peer-updated',
  'peer-left',
  'signal',
  'call',
  'error',
]);

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isString = (value: unknown): value is string => typeof value === 'string';
const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const optional = (value: unknown, is: (value: unknown) => boolean): boolean => value === undefined || is(value);
const arrayOf = (value: unknown, is: (value: unknown) => boolean): boolean => Array.isArray(value) && value.every(is);
const isPeer = (value: unknown): boolean =>
  isObject(value) && isString(value.id) && isString(value.name) && isBoolean(value.inCall);
const isIceServer = (value: unknown): boolean =>
  isObject(value) &&
  (isString(value.urls) || arrayOf(value.urls, isString)) &&
  optional(value.username, isString) &&
  optional(value.credential, isString);
const isSignalData = (value: unknown): boolean =>
  isObject(value) &&
  (value.kind === 'description'
    ? isObject(value.description) && isString(value.description.type) && isString(value.description.sdp) && optional(value.ufrag, isString)
    : value.kind === 'candidates' && arrayOf(value.candidates, (c) => isObject(c) && isString(c.candidate)));

/**
 * The client's check of a server→client frame: JSON text of at most
 * {@link LIMITS.serverMessageBytes} UTF-16 units, an object of a known `type`,
 * with every field the widget reads present and of the right JSON type.
 * Returns `null` for anything else (the widget ignores that frame). A
 * `welcome` of another {@link PROTOCOL_VERSION} is returned with only its
 * `version` checked: read nothing else of it. Never throws.
 *
 * It checks shape, not content: values (id patterns, SDP size, name rules)
 * were checked by the room server when the sending client's frame arrived
 * ({@link decodeClientMessage}), and the room's tests hold every frame it
 * sends to the full {@link ServerMessageSchema}. Running that schema in the
 * browser would cost the embeddable bundle about 3.5 KiB gzipped (valibot
 * and the schemas, measured with esbuild + gzip -9), a fifth of its budget.
 * Where it reaches the browser's APIs (SDP, ICE candidates) the browser
 * validates the content again.
 */
export function parseServerFrame(frame: unknown): ServerMessage | null {
  if (!isString(frame) || frame.length > LIMITS.serverMessageBytes) return null;
  let m: unknown;
  try {
    m = JSON.parse(frame);
  } catch {
    return null;
  }
  if (!isObject(m)) return null;
  let ok: boolean;
  switch (m.type) {
    case 'welcome':
      // Of another version only the version is read (the widget closes with
      // CloseCode.protocolMismatch): the rest may have changed shape.
      ok =
        isNumber(m.version) &&
        (m.version !== PROTOCOL_VERSION ||
          isString(m.id) &&
          arrayOf(m.peers, isPeer) &&
          arrayOf(m.iceServers, isIceServer) &&
          optional(m.iceTtl, isNumber) &&
          isBoolean(m.locked) &&
          optional(m.hostKey, isString) &&
          optional(m.session, isString) &&
          optional(m.resumed, isBoolean) &&
          optional(m.hungUp, (ids) => arrayOf(ids, isString)) &&
          optional(m.replaces, isString) &&
          optional(m.ringEnded, (state) => state === 'declined' || state === 'missed'));
      break;
    case 'pong':
    case 'lobby':
      ok = true;
      break;
    case 'knocks':
    case 'joined':
      ok = arrayOf(m.peers, isPeer);
      break;
    case 'lock-changed':
      ok = isBoolean(m.locked);
      break;
    case 'host':
      ok = isString(m.hostKey);
      break;
    case 'session':
      ok = isString(m.session);
      break;
    case 'ice-servers':
      ok = arrayOf(m.iceServers, isIceServer) && optional(m.iceTtl, isNumber);
      break;
    case 'peer-joined':
    case 'peer-updated':
      ok = isPeer(m.peer);
      break;
    case 'peer-left':
      ok = isString(m.id) && (m.reason === 'hangup' || m.reason === 'left');
      break;
    case 'signal':
      ok = isString(m.from) && isSignalData(m.data);
      break;
    case 'call':
      ok = (RING_STATES as readonly unknown[]).includes(m.state) && optional(m.peer, isPeer);
      break;
    case 'error':
      ok = isString(m.code) && isString(m.message);
      break;
    default:
      ok = false;
  }
  return ok ? (m as ServerMessage) : null;
}

/** Encode a message as one text frame. */
export function encodeMessage(message: ClientMessage | ServerMessage): string {
  return JSON.stringify(message);
}
