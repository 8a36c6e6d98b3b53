import { createServer, connect, type Server, type Socket } from "node:net";
import { release, track } from "./resources.js";

/** Which statements lose their answer: every `every`th whose text matches, at most `times` in all. */
export interface AnswerLoss {
  match: RegExp;
  every: number;
  times?: number;
}

export interface TcpProxy {
  port: number;
  /** The database goes away: open connections are cut and new ones refused. */
  cut(): Promise<void>;
  /** The database is back, on the same port. */
  restore(): Promise<void>;
  /**
   * From now on, a matching statement's answer is lost after the server
   * committed it: its connection is cut once the server says the
   * transaction is over (ReadyForQuery, status idle), before the client
   * hears anything of it. null stops losing answers.
   */
  loseAnswers(loss: AnswerLoss | null): void;
  /** How many answers were lost so far. */
  lost(): number;
  close(): Promise<void>;
}

/** PostgreSQL's SSLRequest and GSSENCRequest codes: the server answers each with a single byte, outside the message framing. */
const ENCRYPTION_REQUESTS = new Set([80877103, 80877104]);

/** Splits a byte stream into the protocol's messages (a type byte, then a length that counts itself), as they complete. */
function framer(onMessage: (type: string, body: Buffer, raw: Buffer) => void, untyped: { first: boolean }) {
  let pending = Buffer.alloc(0);
  return (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (untyped.first) {
        // The client's first message (startup, or an encryption request) has no type byte.
        if (pending.length < 4) return;
        const length = pending.readInt32BE(0);
        if (pending.length < length) return;
        const raw = pending.subarray(0, length);
        pending = pending.subarray(length);
        const code = raw.readInt32BE(4);
        untyped.first = ENCRYPTION_REQUESTS.has(code);
        onMessage("", raw.subarray(4), raw);
        continue;
      }
      if (pending.length < 5) return;
      const length = pending.readInt32BE(1);
      if (pending.length < 1 + length) return;
      const raw = pending.subarray(0, 1 + length);
      pending = pending.subarray(1 + length);
      onMessage(String.fromCharCode(raw[0]), raw.subarray(5), raw);
    }
  };
}

const cString = (body: Buffer, from: number) => {
  const end = body.indexOf(0, from);
  return { text: body.toString("utf8", from, end), next: end + 1 };
};

/**
 * A TCP proxy in front of a PostgreSQL server, so a test can take "the
 * database" away from a service and give it back without touching the
 * server itself (shared by every test file), or make it lose the answers
 * of chosen statements after they committed: the worst moment for a client,
 * which cannot know whether what it sent took effect.
 */
export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  let loss: AnswerLoss | null = null;
  let seen = 0;
  let lostCount = 0;

  const relay = (client: Socket, upstream: Socket) => {
    /** The texts of this connection's prepared statements, by name ("" is the unnamed one). */
    const statements = new Map<string, string>();
    let armed = false;
    let held: Buffer[] = [];
    let awaitingEncryptionAnswer = false;
    const arm = (text: string | undefined) => {
      if (!loss || text === undefined || !loss.match.test(text)) return;
      seen += 1;
      if (seen % loss.every === 0 && (loss.times === undefined || lostCount < loss.times)) armed = true;
    };
    const fromClient = framer(
      (type, body, raw) => {
        if (type === "" && ENCRYPTION_REQUESTS.has(body.readInt32BE(0))) awaitingEncryptionAnswer = true;
        if (type === "Q") arm(cString(body, 0).text);
        if (type === "P") {
          const name = cString(body, 0);
          statements.set(name.text, cString(body, name.next).text);
        }
        if (type === "B") {
          const portal = cString(body, 0);
          arm(statements.get(cString(body, portal.next).text));
        }
        upstream.write(raw);
      },
      { first: true },
    );
    const fromServer = framer(
      (type, body, raw) => {
        if (!armed) return void client.write(raw);
        held.push(raw);
        if (type !== "Z") return;
        const status = String.fromCharCode(body[0]);
        if (status === "I") {
          // Committed (or ended) on the server: the client hears nothing of it.
          lostCount += 1;
          armed = false;
          held = [];
          client.destroy();
          upstream.destroy();
          return;
        }
        // Inside a transaction: let it go on to its COMMIT, whose answer is the one lost.
        for (const message of held) client.write(message);
        held = [];
        if (status === "E") armed = false;
      },
      { first: false },
    );
    client.on("data", fromClient);
    upstream.on("data", (chunk: Buffer) => {
      if (awaitingEncryptionAnswer) {
        // One byte ('N' or 'S') answers the request; the rest is framed.
        awaitingEncryptionAnswer = false;
        client.write(chunk.subarray(0, 1));
        chunk = chunk.subarray(1);
        if (chunk.length === 0) return;
      }
      fromServer(chunk);
    });
  };

  const listen = async () => {
    server = createServer((client) => {
      const upstream = connect(targetPort, targetHost);
      for (const socket of [client, upstream]) {
        // Messages are written one by one: without this, Nagle's algorithm holds small writes back for an ACK.
        socket.setNoDelay(true);
        sockets.add(socket);
        socket.on("error", () => undefined);
        socket.on("close", () => sockets.delete(socket));
      }
      relay(client, upstream);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => server!.listen(port, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
    track(server, "TCP proxy");
  };
  const stop = async () => {
    const closing = server;
    server = undefined;
    if (!closing) return;
    await new Promise<void>((resolve) => {
      closing.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
    release(closing);
  };
  await listen();
  return {
    get port() {
      return port;
    },
    cut: stop,
    restore: listen,
    loseAnswers(next) {
      loss = next;
      seen = 0;
    },
    lost: () => lostCount,
    close: stop,
  };
}
