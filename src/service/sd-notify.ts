// systemd's notify protocol (sd_notify(3)): READY=1, STATUS=..., WATCHDOG=1, STOPPING=1 as
// datagrams to the unix socket in $NOTIFY_SOCKET. A no-op when not started by systemd.
import { createRequire } from "node:module";
import type { Logger } from "pino";

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  close(): void;
  on(event: "error", listener: (err: Error) => void): void;
}

const require = createRequire(import.meta.url);

export class SdNotifier {
  private socket: DgramSocket | null = null;

  constructor(
    private readonly path: string | undefined,
    private readonly logger: Logger,
  ) {
    if (!path) return;
    if (path.startsWith("@")) {
      // The socket library cannot address the abstract namespace; systemd itself uses a path.
      logger.warn({ notifySocket: path }, "abstract NOTIFY_SOCKET is not supported; systemd notifications disabled");
      this.path = undefined;
      return;
    }
    const dgram = require("unix-dgram") as { createSocket(type: "unix_dgram"): DgramSocket };
    this.socket = dgram.createSocket("unix_dgram");
    this.socket.on("error", (err) => logger.warn({ err: err.message }, "sd_notify socket error"));
  }

  get enabled(): boolean {
    return this.socket !== null;
  }

  notify(fields: Record<string, string | number>): void {
    if (!this.socket || !this.path) return;
    const text = Object.entries(fields)
      .map(([k, v]) => `${k}=${String(v).replace(/\n/g, " ")}`)
      .join("\n");
    const buf = Buffer.from(text);
    this.socket.send(buf, 0, buf.length, this.path, (err) => {
      if (err) this.logger.warn({ err: err.message }, "sd_notify send failed");
    });
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }
}
