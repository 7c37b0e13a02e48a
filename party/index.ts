/**
 * The PartyKit room server: one instance per room (a Durable Object when
 * deployed). It follows PartyKit's template and delegates every rule to
 * {@link Room} so the rules are testable without the runtime.
 *
 * Configuration (environment, `partykit dev --var KEY=VALUE` or `.env`):
 * - `ROOM_CAPACITY`: peers per room, 2–6 (default 2: 1:1 calls).
 * - `ALLOWED_ORIGINS`: comma-separated page origins allowed to connect; empty
 *   allows all (local development).
 * - `SESSION_SECRET`: signs session tokens (see `session.ts`); set it so that
 *   peers keep their identity across room-server restarts. With it, the room
 *   also keeps its lock, host key, members and ring in room storage (see
 *   {@link RoomSnapshot}), so that a restart within the resume grace changes
 *   nothing for the people in the call; without it nobody could prove who
 *   they were, and nothing is stored.
 * - `STUN_URLS`, `TURN_URLS`, `TURN_SECRET`, `TURN_TTL_SECONDS`: see `ice-servers.ts`.
 */
import type * as Party from 'partykit/server';
import { CloseCode, PROTOCOL_VERSION, ROOM_ID_PATTERN, VERSION_PARAM } from '../src/protocol.ts';
import { randomId } from '../src/random-id.ts';
import { iceGrantFor, parseList, readIceConfig } from './ice-servers.ts';
import { Room, networkOf, refuse, type RoomSnapshot } from './room.ts';
import { hasStableSecret, secretTag, sessionSecret, signSession, verifySession } from './session.ts';

/** The room storage key of the {@link StoredSnapshot}. */
const SNAPSHOT_KEY = 'room';

/** What room storage holds: the room's snapshot and which secret signed its members' tokens ({@link secretTag}). */
interface StoredSnapshot {
  tag: string;
  snapshot: RoomSnapshot;
}

/**
 * How often the room runs its housekeeping (heartbeat timeouts, resume
 * grace), ms: a vanished peer is announced at most this long after its grace.
 */
const TICK_MS = 250;

/** Capacity from `ROOM_CAPACITY`, clamped to the full-mesh range 2–6. */
export function readCapacity(value: unknown): number {
  const n = Number(value);
  return Number.isInteger(n) ? Math.min(6, Math.max(2, n)) : 2;
}

export default class Server implements Party.Server {
  readonly roomRules: Room;
  readonly #allowedOrigins: string[];
  readonly #sessionSecret: string;
  /** Session tokens outlive this process, so the room's state is worth keeping (see {@link onStart}). */
  readonly #persistent: boolean;
  /** {@link secretTag} of the session secret, once {@link onStart} has made it; nothing is saved before. */
  #tag: string | null = null;
  #ticker: ReturnType<typeof setInterval> | undefined;

  constructor(readonly room: Party.Room) {
    const ice = readIceConfig(room.env);
    const persistent = hasStableSecret(room.env);
    this.roomRules = new Room({
      capacity: readCapacity(room.env.ROOM_CAPACITY),
      mintIceServers: (peerId) => iceGrantFor(ice, peerId, Date.now()),
      ...(persistent && { save: (snapshot, { refresh }) => this.#save(snapshot, refresh) }),
    });
    this.#persistent = persistent;
    this.#sessionSecret = sessionSecret(room.env);
    this.#allowedOrigins = parseList(room.env.ALLOWED_ORIGINS);
  }

  /**
   * Runs before the first connection is handled (PartyKit waits for it):
   * takes the room up where a previous server left it, from storage.
   */
  async onStart(): Promise<void> {
    if (!this.#persistent) return;
    try {
      const tag = await secretTag(this.#sessionSecret, this.room.id);
      this.#tag = tag;
      const stored = await this.room.storage.get<Partial<StoredSnapshot>>(SNAPSHOT_KEY);
      if (stored === undefined) return;
      // Saved under another SESSION_SECRET: its members cannot prove who they
      // are any more, and would only hold their slots against themselves.
      if (stored?.tag !== tag || !this.roomRules.restore(stored.snapshot)) await this.room.storage.delete(SNAPSHOT_KEY);
    } catch {
      // Storage unavailable: the room starts empty, as without a snapshot.
    }
  }

  /**
   * Writes are queued in order by the runtime; a failed one is overtaken by
   * the next (every 5 s at most). A refresh (only times changed) does not
   * hold back the room's outgoing frames until it is on disk (the Durable
   * Object output gate); a change does, so that nobody hears of a lock the
   * room could forget.
   */
  #save(snapshot: RoomSnapshot | null, refresh: boolean): void {
    if (this.#tag === null) return;
    const stored: StoredSnapshot | null = snapshot && { tag: this.#tag, snapshot };
    const write = stored ? this.room.storage.put(SNAPSHOT_KEY, stored, { allowUnconfirmed: refresh }) : this.room.storage.delete(SNAPSHOT_KEY);
    write.catch(() => undefined);
  }

  async onConnect(connection: Party.Connection, ctx: Party.ConnectionContext): Promise<void> {
    try {
      if (!ROOM_ID_PATTERN.test(this.room.id)) {
        refuse(connection, 'room-unavailable', 'this room is not available', CloseCode.roomUnavailable);
        return;
      }
      const origin = ctx.request.headers.get('Origin') ?? '';
      if (this.#allowedOrigins.length && !this.#allowedOrigins.includes(origin)) {
        refuse(connection, 'forbidden-origin', 'this page may not use this room server', CloseCode.forbiddenOrigin);
        return;
      }
      const query = new URL(ctx.request.url).searchParams;
      // A page of another protocol version would connect, then exchange
      // frames the other side drops (see PROTOCOL_VERSION). One that sends
      // none predates the check (version 2 or older) and would take 4005 for
      // a drop and retry for ever: it gets 4002, final to every version.
      const version = query.get(VERSION_PARAM);
      if (version !== String(PROTOCOL_VERSION)) {
        const message = `this room server speaks protocol version ${PROTOCOL_VERSION}: reload the page`;
        refuse(connection, 'protocol-mismatch', message, version === null ? CloseCode.roomUnavailable : CloseCode.protocolMismatch);
        return;
      }
      // Identity is ours: never the client-chosen `connection.id` (`_pk`).
      const peerId = randomId(16);
      const secret = this.#sessionSecret;
      const roomId = this.room.id;
      await this.roomRules.arrive(connection, peerId, {
        hostKey: query.get('hostKey'),
        resumeId: await verifySession(secret, roomId, query.get('session')),
        session: (id) => signSession(secret, roomId, id),
        // Set by Cloudflare on every request (it replaces a client's own), so
        // deployed it is the client's address. `partykit dev` sets none and
        // passes a client's own through: locally, whatever the client says.
        address: networkOf(ctx.request.headers.get('CF-Connecting-IP')),
      });
      this.#startTicking();
    } catch {
      connection.close(1011, 'internal error');
    }
  }

  onMessage(message: string | ArrayBuffer | ArrayBufferView, sender: Party.Connection): void {
    try {
      this.roomRules.receive(sender, message);
    } catch {
      // The rules answer every bad input themselves; this is the last line of defence.
      sender.close(1011, 'internal error');
    }
  }

  /** Run the room's housekeeping every {@link TICK_MS} while it has members. */
  #startTicking(): void {
    if (this.#ticker !== undefined) return;
    this.#ticker = setInterval(() => {
      try {
        if (this.roomRules.tick()) return;
      } catch {
        // never let housekeeping take the room down
      }
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    }, TICK_MS);
  }

  onClose(connection: Party.Connection): void {
    // No code reaches us here: a peer leaving on purpose says `leave` or
    // `bye` first; anything else is a drop, and the member is held for resume
    // (if the room has heard from it: see Room.drop).
    this.roomRules.drop(connection);
    // Complete the close handshake (RFC 6455 §5.5.1): under this compatibility
    // date the runtime does not answer a client's close frame by itself, and
    // the client would wait in CLOSING until its own timeout.
    try {
      connection.close(1000, 'bye');
    } catch {
      // already closed
    }
  }

  onError(connection: Party.Connection): void {
    this.roomRules.drop(connection);
  }
}

Server satisfies Party.Worker;
