// A small in-process MQTT broker (aedes) for when no broker is configured, so a demo or a bench
// setup is observable with any client: mosquitto_sub -h localhost -t 'linesight/#' -v
// With a login configured it accepts only that user (the config refuses a broker open to the
// network without one); packets above the size limit disconnect their sender unread.
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { Aedes, type AuthenticateError } from "aedes";
import type { Logger } from "pino";
import { UserFacingError } from "../errors.js";
import { DEFAULT_MAX_PACKET_BYTES } from "./publisher.js";
import { sizeGuardedStream } from "./size-guarded-stream.js";

export interface BrokerLogin {
  username: string;
  password: string;
}

export interface EmbeddedBroker {
  /** Where clients connect, e.g. mqtt://127.0.0.1:1883. */
  url: string;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(opts: {
  host: string;
  port: number;
  logger: Logger;
  /** The only login accepted; null: anyone who reaches the port may connect. */
  login?: BrokerLogin | null;
  /** Largest packet a client may send (bytes); a larger one disconnects it. */
  maxPacketBytes?: number;
}): Promise<EmbeddedBroker> {
  const log = opts.logger.child({ component: "mqtt-broker" });
  const login = opts.login ?? null;
  const maxPacketBytes = opts.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  const warnAtMostEveryMinute = minuteLimiter();
  const aedes = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      if (!login || loginMatches(login, username, password)) return done(null, true);
      if (warnAtMostEveryMinute())
        log.warn(
          { client: client?.id?.slice(0, 128), username: username?.slice(0, 128) },
          "embedded MQTT broker refused a login",
        );
      const err = new Error("bad user name or password") as AuthenticateError;
      err.returnCode = 4;
      done(err, null);
    },
  });
  aedes.on("clientError", (client, err) => log.debug({ client: client.id, err: err.message }, "MQTT client error"));
  aedes.on("connectionError", (_client, err) => log.debug({ err: err.message }, "MQTT connection error"));

  // Tracked so close() does not wait on clients that never hang up.
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    aedes.handle(
      sizeGuardedStream(socket, {
        maxPacketBytes,
        acknowledge: false,
        disconnect: true,
        onOversized: (p) => {
          if (warnAtMostEveryMinute())
            log.warn(
              { topic: p.topic.slice(0, 256), bytes: p.bytes, limit: maxPacketBytes, remote: socket.remoteAddress },
              "embedded MQTT broker disconnected a client that sent a message above mqtt.max_message_kb",
            );
        },
      }),
    );
  });

  try {
    await listen(server, opts.host, opts.port);
  } catch (err) {
    await closeAedes(aedes);
    throw explainListenError(err as NodeJS.ErrnoException, opts.host, opts.port);
  }
  // The server may run on port 0 (tests); report the port actually bound.
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  const url = `mqtt://${connectHost(opts.host)}:${port}`;
  log.info(
    { url, listen: `${opts.host}:${port}`, login: login ? login.username : "anonymous", maxPacketBytes },
    "embedded MQTT broker listening",
  );

  let closing: Promise<void> | null = null;
  return {
    url,
    close() {
      closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        await closeAedes(aedes);
        for (const s of sockets) s.destroy();
        await serverClosed;
        log.info({ url }, "embedded MQTT broker closed");
      })();
      return closing;
    },
  };
}

/** Constant time in the password (compares digests), so its length does not leak either. */
function loginMatches(login: BrokerLogin, username: string | undefined, password: Buffer | undefined): boolean {
  const digest = (b: Buffer | string) => createHash("sha256").update(b).digest();
  const passOk = timingSafeEqual(digest(password ?? Buffer.alloc(0)), digest(login.password));
  return passOk && password !== undefined && username === login.username;
}

function minuteLimiter(): () => boolean {
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    const now = performance.now();
    if (now - last < 60_000) return false;
    last = now;
    return true;
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function closeAedes(aedes: Aedes): Promise<void> {
  return new Promise((resolve) => aedes.close(() => resolve()));
}

function explainListenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  switch (err.code) {
    case "EADDRINUSE":
      return new UserFacingError(
        `cannot start the embedded MQTT broker: port ${port} on ${host} is already in use, ` +
          "probably by another MQTT broker (e.g. mosquitto) or another linesight. " +
          `To publish to that broker, set mqtt.url (e.g. mqtt://${connectHost(host)}:${port}); ` +
          "to run the embedded broker anyway, set mqtt.embedded.port to a free port.",
      );
    case "EACCES":
      return new UserFacingError(
        `cannot start the embedded MQTT broker: not allowed to listen on port ${port} ` +
          "(ports below 1024 need privileges); set mqtt.embedded.port to 1883 or another port above 1023.",
      );
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
      return new UserFacingError(
        `cannot start the embedded MQTT broker: ${host} is not an address of this machine; ` +
          "set mqtt.embedded.host to 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces).",
      );
    default:
      return new UserFacingError(`cannot start the embedded MQTT broker on ${host}:${port}: ${err.message}`);
  }
}

/** A host clients can connect to: wildcard listen addresses are reachable via loopback. */
function connectHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}
