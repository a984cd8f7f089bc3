// Free TCP ports for tests that start real servers (brokers, daemons).
import { createServer } from "node:net";

/**
 * A TCP port that was free on `host` a moment ago (the OS picks it). Another process could take it
 * before the caller binds it, but the OS hands out ephemeral ports round-robin, so in practice it
 * stays free for the few milliseconds a test needs.
 */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("could not get a free port"))));
    });
  });
}
