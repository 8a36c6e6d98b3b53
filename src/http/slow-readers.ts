import type { Server } from "node:http";
import type { Socket } from "node:net";

/** A connection holding more unsent data than this is cut: no answer is this large (the answer cap is 16 MB). */
export const MAX_UNSENT_BYTES = 32 * 1024 * 1024;
/** A connection whose unsent data has not moved for this long is cut: its client stopped reading. */
export const SEND_STALL_MS = 30_000;
const SWEEP_MS = 1000;

interface Watched {
  /** Unsent bytes at the last sweep. */
  unsent: number;
  /** When the unsent data last shrank (or there was none). */
  movedAt: number;
}

/**
 * Cuts HTTP clients that ask and do not read: each holds what it was sent
 * in the server's memory until it reads or leaves. One sweep a second looks
 * at every open HTTP connection (WebSockets have their own limit, in
 * src/http/websocket.ts): one whose unsent data passes MAX_UNSENT_BYTES, or
 * has not shrunk for SEND_STALL_MS, is destroyed.
 */
export function cutSlowReaders(server: Server, options: { stallMs?: number; maxUnsent?: number } = {}): () => void {
  const stallMs = options.stallMs ?? SEND_STALL_MS;
  const maxUnsent = options.maxUnsent ?? MAX_UNSENT_BYTES;
  const watched = new Map<Socket, Watched>();
  const onConnection = (socket: Socket) => {
    watched.set(socket, { unsent: 0, movedAt: Date.now() });
    socket.once("close", () => watched.delete(socket));
  };
  const onUpgrade = (_request: unknown, socket: Socket) => watched.delete(socket);
  server.on("connection", onConnection);
  server.on("upgrade", onUpgrade);
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [socket, state] of watched) {
      const unsent = socket.writableLength;
      if (unsent === 0 || unsent < state.unsent) state.movedAt = now;
      state.unsent = unsent;
      if (unsent > maxUnsent || (unsent > 0 && now - state.movedAt > stallMs)) {
        watched.delete(socket);
        socket.destroy();
      }
    }
  }, SWEEP_MS);
  sweep.unref();
  return () => {
    clearInterval(sweep);
    server.off("connection", onConnection);
    server.off("upgrade", onUpgrade);
  };
}
