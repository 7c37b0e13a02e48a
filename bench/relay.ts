/**
 * The bare WebSocket relay that benchmarks use as their baseline: it forwards
 * each frame, untouched, to the other open sockets on the same URL path. No
 * validation, no identity, no limits: the least a signaling server can do.
 *
 * - `startRelay()` runs it in this process (bench/ttff.ts, where the load is tiny).
 * - `startRelayProcess()` runs it in a child Node process of its own, so that a
 *   benchmark that loads it heavily does not share an event loop with its
 *   clients and can read the relay's memory and CPU from /proc
 *   (bench/signaling.ts).
 * - `node --import tsx bench/relay.ts --serve [--port N]` is that child: it
 *   prints `listening <port>` on stdout once it accepts connections.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';

export interface Relay {
  /** `ws://127.0.0.1:<port>`; append any path: sockets on the same path form a room. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface RelayProcess extends Relay {
  process: ChildProcess;
}

/** Forwards each frame to the other open sockets of the same URL path. */
export async function startRelay(options: { port?: number } = {}): Promise<Relay> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: options.port ?? 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const rooms = new Map<string, Set<WebSocket>>();
  server.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const path = request.url ?? '/';
    const room = rooms.get(path) ?? new Set<WebSocket>();
    rooms.set(path, room);
    room.add(socket);
    socket.on('message', (data, isBinary) => {
      for (const other of room) if (other !== socket && other.readyState === WebSocket.OPEN) other.send(data, { binary: isBinary });
    });
    socket.on('close', () => {
      room.delete(socket);
      if (!room.size) rooms.delete(path);
    });
  });
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

const SELF = fileURLToPath(import.meta.url);

/** The same relay in a child Node process (with tsx, as this file is TypeScript). */
export async function startRelayProcess(): Promise<RelayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--serve'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let output = '';
  child.stderr?.on('data', (d) => (output += d));
  const port = await new Promise<number>((resolve, reject) => {
    let line = '';
    const timer = setTimeout(() => reject(new Error(`relay process did not start within 15 s\n${output}`)), 15_000);
    child.stdout?.on('data', (d) => {
      line += d;
      const match = /listening (\d+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay process exited with ${code}\n${output}`));
    });
  });
  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

if (process.argv[1] === SELF && process.argv.includes('--serve')) {
  const at = process.argv.indexOf('--port');
  const relay = await startRelay({ port: at > 0 ? Number(process.argv[at + 1]) : 0 });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => void relay.stop().finally(() => process.exit(0)));
  }
  process.stdout.write(`listening ${relay.port}\n`);
}
