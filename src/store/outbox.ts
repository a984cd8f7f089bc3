// Where QoS 1 messages wait until the broker acknowledges them. Every state, health, drift and
// event message is appended here first and deleted on PUBACK, so an outage, a broker restart or a
// daemon killed mid-outage loses nothing: the publisher replays what is left, oldest first.
// SqliteOutbox (outbox-store.ts) is the durable one, which the daemon writes from a worker thread
// (ThreadedOutbox, threaded-outbox.ts); MemoryOutbox is for tests
// and tools that do not need to survive a restart. Names are the sender's (MQTT: topic names).

export interface OutboxMessage<N extends string = string> {
  name: N;
  /** Encoded payload, as it goes on the wire. */
  body: string;
}

export interface OutboxEntry<N extends string = string> extends OutboxMessage<N> {
  /** Increases with every push; delivery order. */
  id: number;
}

export interface OutboxLimits {
  /** Most messages kept; beyond it the oldest are dropped and counted. */
  maxMessages: number;
  /** Most payload bytes kept; beyond it the oldest are dropped and counted. */
  maxBytes: number;
}

export interface Outbox<N extends string = string> {
  /** Appends at the end; while over a limit, drops the oldest message and counts it. */
  push(m: OutboxMessage<N>): void;
  /** Up to `limit` of the oldest messages with an id above `afterId`, oldest first. */
  next(afterId: number, limit: number): OutboxEntry<N>[];
  /** Forgets a delivered message. Unknown ids (already dropped) are ignored. */
  remove(id: number): void;
  /** Whether any message for topic `name` is waiting. */
  has(name: N): boolean;
  readonly size: number;
  /** Payload bytes waiting. */
  readonly bytes: number;
  /** Messages dropped (oldest first) because a limit was reached, since this outbox was opened. */
  readonly dropped: number;
  close(): void;
}

export const DEFAULT_OUTBOX_LIMITS: OutboxLimits = { maxMessages: 20_000, maxBytes: 64 * 1024 * 1024 };

export function checkLimits(limits: OutboxLimits): void {
  if (!(limits.maxMessages >= 1))
    throw new RangeError(`outbox maxMessages must be at least 1, got ${limits.maxMessages}`);
  if (!(limits.maxBytes >= 1)) throw new RangeError(`outbox maxBytes must be at least 1, got ${limits.maxBytes}`);
}

export class MemoryOutbox<N extends string = string> implements Outbox<N> {
  private items: OutboxEntry<N>[] = [];
  private lastId = 0;
  private byteCount = 0;
  private droppedCount = 0;

  constructor(private readonly limits: OutboxLimits = DEFAULT_OUTBOX_LIMITS) {
    checkLimits(limits);
  }

  push(m: OutboxMessage<N>): void {
    this.items.push({ id: ++this.lastId, name: m.name, body: m.body });
    this.byteCount += Buffer.byteLength(m.body);
    // Oldest out first: during a long outage the newest messages say most about the present.
    while (this.items.length > this.limits.maxMessages || this.byteCount > this.limits.maxBytes) {
      const old = this.items.shift();
      if (!old) break;
      this.byteCount -= Buffer.byteLength(old.body);
      this.droppedCount++;
    }
  }

  next(afterId: number, limit: number): OutboxEntry<N>[] {
    const out: OutboxEntry<N>[] = [];
    for (const e of this.items) {
      if (out.length >= limit) break;
      if (e.id > afterId) out.push(e);
    }
    return out;
  }

  remove(id: number): void {
    const i = this.items.findIndex((e) => e.id === id);
    if (i < 0) return;
    const [e] = this.items.splice(i, 1);
    if (e) this.byteCount -= Buffer.byteLength(e.body);
  }

  has(name: N): boolean {
    return this.items.some((e) => e.name === name);
  }

  get size(): number {
    return this.items.length;
  }

  get bytes(): number {
    return this.byteCount;
  }

  get dropped(): number {
    return this.droppedCount;
  }

  close(): void {}
}
