// Server-sent events to the live view. The pipeline only marks the board dirty; the hub sends
// at most `maxRateHz` messages per second (the newest state, coalesced), built once for all
// clients. A client whose socket has not taken the previous messages (writableLength above a
// small bound) is skipped for that message: it gets fewer updates, never a growing buffer, and
// never slows the others or the pipeline.
import type { ServerResponse } from "node:http";

/** Unsent bytes a client may have before it is skipped: a few messages' worth. */
const MAX_BACKLOG = 32 * 1024;
const HEARTBEAT_MS = 15_000;

export interface HubStats {
  clients: number;
  sent: number;
  skipped: number;
}

export class LiveHub {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private lastSent = 0;
  private readonly intervalMs: number;
  private readonly heartbeat: NodeJS.Timeout;
  private sent = 0;
  private skipped = 0;

  constructor(
    maxRateHz: number,
    private readonly build: () => string,
  ) {
    this.intervalMs = 1000 / maxRateHz;
    // Comments keep proxies and the browser from timing out an idle stream (a paused line).
    this.heartbeat = setInterval(() => this.writeAll(": ping\n\n"), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  add(res: ServerResponse): void {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write(`retry: 2000\ndata: ${this.build()}\n\n`);
    this.clients.add(res);
    res.on("close", () => this.clients.delete(res));
  }

  /** O(1): schedules one send, at once if the last one is old enough, else when it is. */
  markDirty(): void {
    if (this.timer || this.clients.size === 0) return;
    const wait = Math.max(0, this.lastSent + this.intervalMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.lastSent = performance.now();
      this.writeAll(`data: ${this.build()}\n\n`);
    }, wait);
  }

  stats(): HubStats {
    return { clients: this.clients.size, sent: this.sent, skipped: this.skipped };
  }

  close(): void {
    clearInterval(this.heartbeat);
    if (this.timer) clearTimeout(this.timer);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private writeAll(message: string): void {
    for (const res of this.clients) {
      if (res.writableLength > MAX_BACKLOG) {
        this.skipped++;
        continue;
      }
      res.write(message);
      this.sent++;
    }
  }
}
