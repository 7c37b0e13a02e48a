/**
 * The room's rules, free of the PartyKit runtime so they can be unit-tested
 * with plain objects: admission (capacity), identity (server-assigned peer
 * ids), membership announcements, validation, rate limiting and relaying of
 * negotiation signals to exactly one addressed peer in the same room.
 *
 * Nothing here throws on anything a client sends: every refusal is answered
 * with `{type: 'error', code, message}` and nothing is relayed.
 */
import {
  CloseCode,
  LIMITS,
  PROTOCOL_VERSION,
  decodeClientMessage,
  encodeMessage,
  type ClientMessage,
  type IceServer,
  type PeerInfo,
  type ServerErrorCode,
  type ServerMessage,
} from '../src/protocol.ts';

/** The two things the room needs from a socket. */
export interface PeerSocket {
  send(frame: string): void;
  close(code: number, reason: string): void;
}

/**
 * Token-bucket rate limit for one connection's inbound frames.
 *
 * - `perSecond`: sustained rate, frames/s (20: a call set-up of one offer,
 *   one answer and ~15 trickled candidates fits in the burst several times over).
 * - `burst`: bucket size, frames (50).
 * - `closeAfter`: refused frames in a row after which the connection is closed
 *   with {@link CloseCode.rateLimited} (50).
 */
export interface RateLimit {
  perSecond: number;
  burst: number;
  closeAfter: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { perSecond: 20, burst: 50, closeAfter: 50 };

export interface RoomOptions {
  /** Peers the room admits at once; the next socket gets `room-full`. Default 2 (1:1). */
  capacity?: number;
  rateLimit?: RateLimit;
  /** Clock in ms; injectable for tests. */
  now?: () => number;
}

interface Member {
  readonly id: string;
  readonly socket: PeerSocket;
  name: string;
  inCall: boolean;
  tokens: number;
  refilledAt: number;
  refusedInARow: number;
  lastRateErrorAt: number;
  /** ICE candidates sent to each peer since this member's last description to it. */
  candidatesTo: Map<string, number>;
}

export class Room {
  readonly capacity: number;
  readonly #rate: RateLimit;
  readonly #now: () => number;
  /** Members in order of arrival (Map keeps insertion order). */
  readonly #members = new Map<PeerSocket, Member>();

  constructor(options: RoomOptions = {}) {
    this.capacity = options.capacity ?? 2;
    this.#rate = options.rateLimit ?? DEFAULT_RATE_LIMIT;
    this.#now = options.now ?? Date.now;
  }

  /** Number of admitted peers. */
  get size(): number {
    return this.#members.size;
  }

  /** The peers in the room, in order of arrival. */
  peers(): PeerInfo[] {
    return [...this.#members.values()].map(info);
  }

  /** True when one more socket would be refused. */
  get full(): boolean {
    return this.#members.size >= this.capacity;
  }

  /**
   * Admit a socket under the server-generated `id`, send it `welcome` and
   * announce it to the others. When the room is full, send `room-full`, close
   * the socket with {@link CloseCode.roomFull} and return false.
   */
  admit(socket: PeerSocket, id: string, iceServers: IceServer[]): boolean {
    if (this.#members.has(socket)) return true;
    if (this.full) {
      refuse(socket, 'room-full', 'this room is full', CloseCode.roomFull);
      return false;
    }
    const others = this.peers();
    const member: Member = {
      id,
      socket,
      name: '',
      inCall: false,
      tokens: this.#rate.burst,
      refilledAt: this.#now(),
      refusedInARow: 0,
      lastRateErrorAt: -Infinity,
      candidatesTo: new Map(),
    };
    this.#members.set(socket, member);
    send(socket, {
      type: 'welcome',
      version: PROTOCOL_VERSION,
      id,
      polite: true,
      capacity: this.capacity,
      peers: others,
      iceServers,
    });
    this.#broadcast(member, { type: 'peer-joined', peer: info(member) });
    return true;
  }

  /** Handle one inbound frame (text or binary) from `socket`. Never throws. */
  receive(socket: PeerSocket, frame: unknown): void {
    const member = this.#members.get(socket);
    if (!member) return; // not admitted (refused, or closed already): ignore
    if (!this.#takeToken(member)) return;
    const decoded = decodeClientMessage(frame);
    if (!decoded.ok) {
      sendError(socket, decoded.code, decoded.message);
      return;
    }
    this.#handle(member, decoded.message);
  }

  /** The socket closed: forget it and tell the others at once. */
  remove(socket: PeerSocket, reason: 'hangup' | 'left' = 'left'): void {
    const member = this.#members.get(socket);
    if (!member) return;
    this.#members.delete(socket);
    for (const other of this.#members.values()) other.candidatesTo.delete(member.id);
    this.#broadcast(member, { type: 'peer-left', id: member.id, reason });
  }

  #handle(member: Member, message: ClientMessage): void {
    switch (message.type) {
      case 'join': {
        member.name = message.name;
        member.inCall = true;
        const inCall = [...this.#members.values()].filter((m) => m !== member && m.inCall).map(info);
        send(member.socket, { type: 'joined', peers: inCall });
        this.#broadcast(member, { type: 'peer-updated', peer: info(member) });
        return;
      }
      case 'leave':
        this.remove(member.socket, 'hangup');
        member.socket.close(1000, 'left');
        return;
      case 'signal': {
        if (!member.inCall) {
          sendError(member.socket, 'not-in-call', 'join the call before negotiating');
          return;
        }
        const target = this.#find(message.to);
        if (!target || target === member || !target.inCall) {
          sendError(member.socket, 'no-peer', 'no such peer in this call');
          return;
        }
        if (message.data.kind === 'candidate') {
          const sent = (member.candidatesTo.get(target.id) ?? 0) + 1;
          if (sent > LIMITS.candidatesPerNegotiation) {
            sendError(member.socket, 'too-many-candidates', `over ${LIMITS.candidatesPerNegotiation} candidates`);
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
    }
  }

  #find(id: string): Member | undefined {
    for (const m of this.#members.values()) if (m.id === id) return m;
    return undefined;
  }

  #broadcast(from: Member, message: ServerMessage): void {
    const frame = encodeMessage(message);
    for (const m of this.#members.values()) if (m !== from) safeSend(m.socket, frame);
  }

  /** Token bucket; answers `rate-limited` (at most once a second) and closes floods. */
  #takeToken(member: Member): boolean {
    const now = this.#now();
    const { perSecond, burst, closeAfter } = this.#rate;
    member.tokens = Math.min(burst, member.tokens + ((now - member.refilledAt) / 1000) * perSecond);
    member.refilledAt = now;
    if (member.tokens >= 1) {
      member.tokens -= 1;
      member.refusedInARow = 0;
      return true;
    }
    member.refusedInARow++;
    if (member.refusedInARow >= closeAfter) {
      this.remove(member.socket);
      refuse(member.socket, 'rate-limited', 'too many messages', CloseCode.rateLimited);
    } else if (now - member.lastRateErrorAt >= 1000) {
      member.lastRateErrorAt = now;
      sendError(member.socket, 'rate-limited', `over ${perSecond} messages/s`);
    }
    return false;
  }
}

function info(m: Member): PeerInfo {
  return { id: m.id, name: m.name, inCall: m.inCall };
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
  try {
    socket.close(closeCode, code);
  } catch {
    // already closed
  }
}
