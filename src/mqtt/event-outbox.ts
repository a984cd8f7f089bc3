// Where messages with the "queue" policy (events) wait while the broker cannot take them.
// In memory and bounded for now. The seam for the durable SQLite outbox planned for a later issue:
// implement EventOutbox over a table and pass it as MqttPublisher.start({ outbox }). The publisher
// calls shift() when it hands a message to mqtt.js (which keeps it until PUBACK, across reconnects,
// for as long as the process lives); a durable outbox would delete the row on PUBACK instead.
import type { TopicName } from "./topics.js";

export interface OutboxMessage {
  name: TopicName;
  /** Encoded payload, as it goes on the wire. */
  body: string;
}

export interface EventOutbox {
  /** Adds at the end; when full, drops the oldest message and counts it. */
  push(m: OutboxMessage): void;
  /** Removes and returns the oldest message. */
  shift(): OutboxMessage | undefined;
  readonly size: number;
  /** Messages dropped because the outbox was full. */
  readonly dropped: number;
}

export class MemoryEventOutbox implements EventOutbox {
  private items: OutboxMessage[] = [];
  private droppedCount = 0;

  constructor(readonly capacity = 500) {
    if (!(capacity >= 1)) throw new RangeError(`outbox capacity must be at least 1, got ${capacity}`);
  }

  push(m: OutboxMessage): void {
    // Oldest first out: during a long outage the newest events say most about the present.
    if (this.items.length >= this.capacity) {
      this.items.shift();
      this.droppedCount++;
    }
    this.items.push(m);
  }

  shift(): OutboxMessage | undefined {
    return this.items.shift();
  }

  get size(): number {
    return this.items.length;
  }

  get dropped(): number {
    return this.droppedCount;
  }
}
