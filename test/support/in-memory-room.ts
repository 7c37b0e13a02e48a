/**
 * In-memory signaling for unit tests and Storybook: sockets that talk to the
 * real room rules (`party/room.ts`) inside the page, with no server. Each
 * `InMemoryRooms` is one "server"; `socketFactory` plugs into the element's
 * `createSocket`.
 */
import { Room, type RoomOptions } from '../../party/room.ts';
import { randomId } from '../../src/random-id.ts';
import type { RoomAddress, SignalingSocket, SocketFactory } from '../../src/controllers/signaling-controller.ts';

type Listener = (event: Event) => void;

class InMemorySocket implements SignalingSocket {
  #listeners = new Map<string, Set<Listener>>();
  #open = false;
  /** Closed by the client, perhaps before it connected: it never connects then. */
  #closed = false;
  constructor(
    readonly room: Room,
    readonly latencyMs: number,
  ) {}

  addEventListener(type: string, listener: Listener): void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.#listeners.get(type)?.delete(listener);
  }

  /** Client → room. */
  send(data: string): void {
    if (this.#open) setTimeout(() => this.room.receive(this.serverSide, data), this.latencyMs);
  }

  /** Client closes. */
  close(code = 1000, reason = ''): void {
    this.#closed = true;
    if (!this.#open) return;
    this.#open = false;
    setTimeout(() => this.room.remove(this.serverSide), this.latencyMs);
    this.#emit(new CloseEvent('close', { code, reason }));
  }

  /** The room's view of this socket. */
  readonly serverSide = {
    send: (frame: string) => {
      if (this.#open) setTimeout(() => this.#emit(new MessageEvent('message', { data: frame })), this.latencyMs);
    },
    close: (code: number, reason: string) => {
      setTimeout(() => {
        if (!this.#open) return;
        this.#open = false;
        this.#emit(new CloseEvent('close', { code, reason }));
      }, this.latencyMs);
    },
  };

  connect(): void {
    // Closed before it connected (a widget that failed at once): the room never sees it.
    if (this.#closed) return;
    this.#open = true;
    this.#emit(new Event('open'));
    // As the real server: a full room answers room-full and closes; a locked one puts us in its lobby.
    void this.room.arrive(this.serverSide, randomId(16));
  }

  #emit(event: Event): void {
    for (const listener of this.#listeners.get(event.type) ?? []) listener(event);
  }
}

export class InMemoryRooms {
  readonly rooms = new Map<string, Room>();
  #ticker: ReturnType<typeof setInterval> | undefined;
  constructor(
    readonly options: RoomOptions & { latencyMs?: number } = {},
  ) {}

  /** The rooms' housekeeping (ring timeouts, heartbeats), as the server runs it: every 250 ms while any room has members. */
  #startTicking(): void {
    if (this.#ticker !== undefined) return;
    this.#ticker = setInterval(() => {
      let alive = false;
      for (const room of this.rooms.values()) alive = room.tick() || alive;
      if (alive) return;
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    }, 250);
  }

  room(address: RoomAddress): Room {
    const key = `${address.party}/${address.room}`;
    let room = this.rooms.get(key);
    if (!room) this.rooms.set(key, (room = new Room(this.options)));
    return room;
  }

  /** A `createSocket` for `<call-widget>`. */
  readonly socketFactory: SocketFactory = (address) => {
    const socket = new InMemorySocket(this.room(address), this.options.latencyMs ?? 1);
    setTimeout(() => {
      socket.connect();
      this.#startTicking();
    }, this.options.latencyMs ?? 1);
    return socket;
  };
}
