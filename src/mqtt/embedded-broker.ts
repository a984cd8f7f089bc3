// A small in-process MQTT broker (aedes) for when no broker is configured, so a demo or a bench
// setup is observable with any client: mosquitto_sub -h localhost -t 'linesight/#' -v
import { createServer, type Server, type Socket } from "node:net";
import { Aedes } from "aedes";
import type { Logger } from "pino";
import { UserFacingError } from "../errors.js";

export interface EmbeddedBroker {
  /** Where clients connect, e.g. mqtt://127.0.0.1:1883. */
  url: string;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(opts: {
  host: string;
  port: number;
  logger: Logger;
}): Promise<EmbeddedBroker> {
  const log = opts.logger.child({ component: "mqtt-broker" });
  const aedes = await Aedes.createBroker();
  aedes.on("clientError", (client, err) => log.debug({ client: client.id, err: err.message }, "MQTT client error"));
  aedes.on("connectionError", (_client, err) => log.debug({ err: err.message }, "MQTT connection error"));

  // Tracked so close() does not wait on clients that never hang up.
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    aedes.handle(socket);
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
  log.info({ url, listen: `${opts.host}:${port}` }, "embedded MQTT broker listening");

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
