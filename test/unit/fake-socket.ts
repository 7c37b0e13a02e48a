/**
 * A stand-in for a PartyKit connection: records what the room sends it
 * (parsed) and how it was closed. Shared by the room unit and fuzz tests.
 */
import type { PeerSocket } from '../../party/room.ts';
import type { ServerMessage } from '../../src/protocol.ts';

export class FakeSocket implements PeerSocket {
  /** Every frame as sent, in order. */
  readonly frames: string[] = [];
  /** Every frame, parsed; `take()` empties it. */
  received: ServerMessage[] = [];
  readonly closes: { code: number; reason: string }[] = [];

  constructor(readonly label = 'socket') {}

  send(frame: string): void {
    this.frames.push(frame);
    this.received.push(JSON.parse(frame) as ServerMessage);
  }

  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
  }

  /** The messages received since the last call, and forget them. */
  take(): ServerMessage[] {
    const taken = this.received;
    this.received = [];
    return taken;
  }

  /** The messages of one type received since the last `take()`. */
  ofType<T extends ServerMessage['type']>(type: T): Extract<ServerMessage, { type: T }>[] {
    return this.received.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  }
}

/** Valid, distinct peer ids (base64url, 22 characters like the server's). */
export const PEER_IDS = [
  'alice-0123456789abcdef',
  'bob_0123456789abcdefgh',
  'carol-0123456789abcdef',
  'dave_0123456789abcdefg',
  'erin-0123456789abcdefg',
] as const;
