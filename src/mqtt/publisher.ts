// Publishes linesight's topics to the fleet broker without ever holding up inspection: start()
// returns at once, publish() never blocks or throws. QoS 1 messages (state, health, drift, events)
// go through the outbox and leave it only on PUBACK, so nothing measured during an outage is lost;
// decisions (QoS 0) are dropped and counted when they cannot go at once. See topics.ts.
import type { Duplex } from "node:stream";
import { connect, type MqttClient } from "mqtt";
import type { Logger } from "pino";
import { UserFacingError } from "../errors.js";
import { MemoryOutbox, type Outbox } from "../store/outbox.js";
import { Backoff } from "./backoff.js";
import type { OversizedPublish } from "./packet-size-filter.js";
import { redactUrl } from "./redact.js";
import { sizeGuardedStream } from "./size-guarded-stream.js";
import {
  checkPrefix,
  encodePayload,
  type PayloadOf,
  type PublishTopic,
  TOPICS,
  type TopicName,
  topicFor,
} from "./topics.js";

export interface MqttPublisherOptions {
  /** e.g. mqtt://broker.local:1883 or mqtts://…; credentials belong in username/password. */
  url: string;
  clientId: string;
  /** Topic prefix, e.g. linesight/<device id>. */
  prefix: string;
  username?: string;
  password?: string;
  keepaliveS: number;
  logger: Logger;
  /** How long one connection attempt may take (TCP + CONNACK). Default 10 s. */
  connectTimeoutMs?: number;
  /** Where QoS 1 messages wait for their PUBACK. Default: in memory (lost on exit). */
  outbox?: Outbox<TopicName>;
  /** Reconnect delays. Default 1 s doubling to 30 s. */
  reconnect?: { minMs?: number; maxMs?: number };
  /** 4 = MQTT 3.1.1 (default), 5 = MQTT 5 (commands may carry a response topic). */
  protocolVersion?: 4 | 5;
  /** For mqtts:// and wss://: PEM contents, not paths. Without `ca` the system's CAs are trusted. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean };
  /** Retained messages outside the prefix (Home Assistant discovery), sent on every connect. */
  announcements?: { topic: string; body: string }[];
  /**
   * Largest MQTT packet accepted from the broker (whole packet, bytes); larger messages are skipped
   * as they stream in, never buffered, and counted. MQTT 5 also announces it in CONNECT, so the
   * broker does not send them at all. Default DEFAULT_MAX_PACKET_BYTES.
   */
  maxPacketBytes?: number;
}

/** 8 MiB: room for a signed model bundle of a few MB (base64 in JSON), far below a Pi's memory. */
export const DEFAULT_MAX_PACKET_BYTES = 8 * 1024 * 1024;

/** MQTT 5 request/response properties of a command, when the sender set them. */
export interface CommandResponseTo {
  topic: string;
  correlationData?: Buffer;
}

export interface MqttStats {
  /** Messages that will never be sent: decisions while disconnected or congested, events past the outbox bound. */
  dropped: number;
  /** QoS 1 messages waiting in the outbox, including those sent and not yet acknowledged. */
  queued: number;
  /** Their payload bytes. */
  queuedBytes: number;
  /** Successful connections so far (the first one included). */
  connects: number;
  /** Incoming messages above the packet size limit, skipped unread (never buffered whole). */
  oversized: number;
}

/** QoS 0 bytes waiting in the socket beyond which decisions are dropped: a slow broker must not grow memory. */
const MAX_BUFFERED_BYTES = 256 * 1024;
/** QoS 1 messages awaiting PUBACK beyond which the rest wait in the outbox and decisions are dropped. */
const MAX_INFLIGHT = 100;
/** stop() returns within this, broker or not: shutdown (and systemd's stop timeout) must not hang on MQTT. */
const STOP_BUDGET_MS = 1500;
const PROTOCOLS = new Set(["mqtt:", "mqtts:", "tcp:", "ssl:", "ws:", "wss:"]);
const TIMEOUT = Symbol("timeout");

export class MqttPublisher {
  private online = false;
  private stopping: Promise<void> | null = null;
  /** Last encoded body of each retained topic, sent again on connect if the broker may have lost it. */
  private readonly latest = new Map<TopicName, string>();
  /** Highest outbox id handed to mqtt.js on this connection. */
  private sentUpTo = 0;
  /** Outbox ids sent on this connection and not yet acknowledged. */
  private readonly inflightIds = new Set<number>();
  /** Bumped on every connect and close: acknowledgements from an older connection are ignored. */
  private generation = 0;
  private droppedCount = 0;
  private connectCount = 0;
  private lastError: string | null = null;
  private congested = false;
  private warnedOverflow = false;
  /** outbox.dropped at the last connect: overflow is reported once per outage. */
  private overflowBaseline = 0;
  private warnedEncode = false;
  private oversizedCount = 0;
  private lastOversizedWarning = Number.NEGATIVE_INFINITY;
  private commands: {
    filters: string[];
    onMessage: (topic: string, payload: Buffer, responseTo: CommandResponseTo | null) => void;
    onOversized: ((topic: string, bytes: number, limit: number) => void) | undefined;
  } | null = null;

  private constructor(
    private readonly client: MqttClient,
    private readonly prefix: string,
    private readonly outbox: Outbox<TopicName>,
    private readonly backoff: Backoff,
    private readonly log: Logger,
    private readonly safeUrl: string,
    private announcements: { topic: string; body: string }[],
  ) {}

  /**
   * Starts connecting in the background and returns at once: the daemon keeps inspecting while
   * the broker is down or unreachable. Throws only for configuration errors (bad URL or prefix).
   */
  static start(opts: MqttPublisherOptions): MqttPublisher {
    const prefixProblem = checkPrefix(opts.prefix);
    if (prefixProblem) throw new UserFacingError(prefixProblem);
    const safeUrl = redactUrl(opts.url);
    let protocol: string;
    try {
      protocol = new URL(opts.url).protocol;
    } catch {
      throw new UserFacingError("mqtt.url is not a valid URL; expected e.g. mqtt://broker.local:1883");
    }
    if (!PROTOCOLS.has(protocol)) {
      throw new UserFacingError(
        `mqtt.url ${safeUrl} has an unsupported scheme; use mqtt://, mqtts://, ws:// or wss://`,
      );
    }

    const log = opts.logger.child({ component: "mqtt" });
    const backoff = new Backoff(opts.reconnect?.minMs, opts.reconnect?.maxMs);
    const maxPacketBytes = opts.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
    const protocolVersion = opts.protocolVersion ?? 4;
    const client = connect(opts.url, {
      clientId: opts.clientId,
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
      protocolVersion,
      // MQTT 5: the broker must not send us anything larger (it drops it instead).
      ...(protocolVersion === 5 ? { properties: { maximumPacketSize: maxPacketBytes } } : {}),
      // The stream is wrapped below before the first connection is made.
      manualConnect: true,
      ...(opts.tls?.ca ? { ca: opts.tls.ca } : {}),
      ...(opts.tls?.cert ? { cert: opts.tls.cert } : {}),
      ...(opts.tls?.key ? { key: opts.tls.key } : {}),
      rejectUnauthorized: opts.tls?.rejectUnauthorized ?? true,
      clean: true,
      keepalive: opts.keepaliveS,
      connectTimeout: opts.connectTimeoutMs ?? 10_000,
      reconnectPeriod: backoff.next(),
      // Wrong credentials or ACLs get fixed on the broker side: keep retrying (with backoff) rather than give up.
      reconnectOnConnackError: true,
      // While disconnected we decide what to keep (see publish); mqtt.js must not buffer behind our back.
      queueQoSZero: false,
      // Command subscriptions are made again on every connect (clean session), see onConnect.
      resubscribe: false,
      will: { topic: topicFor(opts.prefix, "status"), payload: Buffer.from("offline"), qos: 1, retain: true },
    });
    const publisher = new MqttPublisher(
      client,
      opts.prefix,
      opts.outbox ?? new MemoryOutbox<TopicName>(),
      backoff,
      log,
      safeUrl,
      opts.announcements ?? [],
    );
    publisher.guardPacketSize(maxPacketBytes);
    publisher.listen();
    client.connect();
    log.info({ url: safeUrl, clientId: opts.clientId, topics: `${opts.prefix}/#` }, "connecting to MQTT broker");
    return publisher;
  }

  /** True between a successful connect and the loss of that connection. */
  get connected(): boolean {
    return this.online;
  }

  stats(): MqttStats {
    return {
      dropped: this.droppedCount + this.outbox.dropped,
      queued: this.outbox.size,
      queuedBytes: this.outbox.bytes,
      connects: this.connectCount,
      oversized: this.oversizedCount,
    };
  }

  /**
   * Wraps every connection mqtt.js makes so packets above `maxPacketBytes` are skipped as they
   * stream in (mqtt.js's parser would buffer them whole first, and under MQTT 5 then disconnect).
   * mqtt.js has no public hook for this: its stream builder is swapped before the first connect.
   */
  private guardPacketSize(maxPacketBytes: number): void {
    const c = this.client as unknown as { streamBuilder?: (client: MqttClient) => Duplex };
    const build = c.streamBuilder;
    if (typeof build !== "function")
      throw new Error("mqtt.js has no streamBuilder: the packet size guard needs updating");
    c.streamBuilder = (client) =>
      sizeGuardedStream(build(client), {
        maxPacketBytes,
        acknowledge: true,
        disconnect: false,
        onOversized: (p) => this.onOversized(p, maxPacketBytes),
      });
  }

  private onOversized(p: OversizedPublish, limit: number): void {
    this.oversizedCount++;
    const c = this.commands;
    if (c?.onOversized && !this.stopping && c.filters.some((f) => topicMatches(f, p.topic))) {
      try {
        c.onOversized(p.topic, p.bytes, limit);
      } catch (err) {
        this.log.error({ err, topic: p.topic.slice(0, 256) }, "oversized command handler failed");
      }
    }
    // One line a minute at most: a flood of them must not flood the journal.
    const now = performance.now();
    if (now - this.lastOversizedWarning < 60_000) return;
    this.lastOversizedWarning = now;
    this.log.warn(
      { topic: p.topic.slice(0, 256), bytes: p.bytes, limit, oversized: this.oversizedCount },
      "MQTT message above mqtt.max_message_kb skipped unread (counted in health mqtt.oversized)",
    );
  }

  /**
   * Sends, keeps or drops `payload` on topic `name` per its offline policy. Never blocks, never
   * throws: a frame's decision must not wait on the network.
   */
  publish<K extends PublishTopic>(name: K, payload: PayloadOf<K>): void {
    if (this.stopping) return;
    try {
      const spec = TOPICS[name];
      switch (spec.offline) {
        case "drop":
          if (this.canSendDroppable()) {
            this.client.publish(topicFor(this.prefix, name), encodePayload(name, payload), {
              qos: spec.qos,
              retain: spec.retain,
            });
          } else {
            this.droppedCount++;
          }
          return;
        case "queue": {
          const body = encodePayload(name, payload);
          if (spec.retain) this.latest.set(name, body);
          this.outbox.push({ name, body });
          this.noteOverflow();
          break;
        }
        case "birth":
          return;
      }
      this.flush();
    } catch (err) {
      // E.g. a payload JSON.stringify cannot encode: a bug, but never one that stops inspection.
      this.droppedCount++;
      if (!this.warnedEncode) {
        this.warnedEncode = true;
        this.log.error(
          { err, topic: name },
          "could not queue an MQTT message (encoding or outbox database failed); dropped (further failures counted, not logged)",
        );
      }
    }
  }

  /**
   * Subscribes (QoS 1) to `filters` on every connect and hands each message to `onMessage`, which
   * must not throw. Call once.
   */
  subscribeCommands(
    filters: string[],
    onMessage: (topic: string, payload: Buffer, responseTo: CommandResponseTo | null) => void,
    /** A message on one of `filters` above the size limit, skipped unread. */
    onOversized?: (topic: string, bytes: number, limit: number) => void,
  ): void {
    this.commands = { filters, onMessage, onOversized };
    this.client.on("message", (topic, payload, packet) => {
      if (this.stopping) return;
      try {
        const props = packet.properties;
        const responseTo = props?.responseTopic
          ? {
              topic: props.responseTopic,
              ...(props.correlationData ? { correlationData: Buffer.from(props.correlationData) } : {}),
            }
          : null;
        onMessage(topic, payload, responseTo);
      } catch (err) {
        this.log.error({ err, topic }, "command handler failed");
      }
    });
    if (this.online) this.subscribe();
  }

  /**
   * Publishes a command reply (QoS 1, not retained) on `topic` if connected; otherwise it is
   * dropped and counted: the caller asked over this connection and will ask again.
   */
  /** Replaces the retained announcements (e.g. after a model change) and sends them now if connected. */
  setAnnouncements(list: { topic: string; body: string }[]): void {
    this.announcements = list;
    if (this.online && !this.stopping) this.publishAnnouncements();
  }

  private publishAnnouncements(): void {
    for (const a of this.announcements) this.client.publish(a.topic, a.body, { qos: 1, retain: true });
  }

  publishReply(topic: string, body: string, correlationData?: Buffer): void {
    if (this.stopping || !this.online) {
      this.droppedCount++;
      return;
    }
    const properties = correlationData ? { properties: { correlationData } } : {};
    this.client.publish(topic, body, { qos: 1, retain: false, ...properties }, (err) => {
      if (err) this.droppedCount++;
    });
  }

  private subscribe(): void {
    const c = this.commands;
    if (!c) return;
    this.client.subscribe(c.filters, { qos: 1 }, (err, granted) => {
      const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
      if (err || refused.length > 0) {
        this.log.warn(
          { err: err?.message, refused },
          "could not subscribe to the command topics; remote commands will not work (check the broker's ACL)",
        );
      } else {
        this.log.info({ topics: c.filters }, "listening for commands");
      }
    });
  }

  /**
   * Publishes `offline` (if connected), disconnects cleanly and resolves within ~2 s whatever the
   * broker does. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown().catch((err: unknown) => {
      // Shutdown goes on whatever happened here: the daemon still has a database to close.
      this.log.error({ err }, "error while stopping the MQTT publisher");
    });
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const deadline = Date.now() + STOP_BUDGET_MS;
    const wasOnline = this.online;
    if (wasOnline) {
      // A clean DISCONNECT discards the will, so say offline ourselves; keep time for the DISCONNECT.
      const acked = await within(
        deadline - Date.now() - 400,
        new Promise<boolean>((resolve) => this.send("status", "offline", (err) => resolve(!err))),
      );
      if (acked !== true) this.log.warn("the broker did not acknowledge the offline status in time");
    }
    this.online = false;
    // Not connected: nothing to say goodbye to, just drop the socket and the reconnect timer.
    const ended = await within(
      deadline - Date.now(),
      new Promise<void>((resolve) => this.client.end(!wasOnline, {}, () => resolve())),
    );
    if (ended === TIMEOUT) {
      // end() waits for PUBACKs that a stuck broker never sends; cut the connection instead.
      this.client.stream?.destroy();
      this.log.warn("MQTT broker did not answer in time; connection closed without a clean disconnect");
    }
    this.log.info({ ...this.stats() }, "MQTT publisher stopped");
  }

  private listen(): void {
    this.client.on("connect", () => this.onConnect());
    this.client.on("close", () => this.onClose());
    this.client.on("error", (err) => this.onError(err));
    // mqtt.js retries every reconnectPeriod (fixed); lengthen it as each attempt starts.
    this.client.on("reconnect", () => {
      this.client.options.reconnectPeriod = this.backoff.next();
      this.log.debug({ url: this.safeUrl, nextRetryMs: this.client.options.reconnectPeriod }, "MQTT reconnecting");
    });
  }

  private onConnect(): void {
    if (this.stopping) return;
    this.online = true;
    this.connectCount++;
    this.lastError = null;
    this.warnedOverflow = false;
    this.overflowBaseline = this.outbox.dropped;
    this.backoff.reset();
    this.client.options.reconnectPeriod = this.backoff.next();
    this.generation++;
    this.sentUpTo = 0;
    this.inflightIds.clear();
    this.log.info(
      { url: this.safeUrl, connects: this.connectCount, queued: this.outbox.size, dropped: this.stats().dropped },
      this.connectCount === 1 ? "MQTT connected" : "MQTT reconnected",
    );
    this.send("status", "online");
    this.publishAnnouncements();
    this.subscribe();
    // The broker may have restarted without its retained values: restore each one that the
    // outbox is not about to replace anyway.
    for (const [name, body] of this.latest) if (!this.outbox.has(name)) this.send(name, body);
    this.flush();
  }

  private onClose(): void {
    const was = this.online;
    this.online = false;
    this.generation++;
    // mqtt.js would resend unacknowledged messages itself on reconnect, from memory; the outbox
    // still holds them (durably) and replays them in order, so take them back from mqtt.js.
    for (const id of Object.keys(this.client.outgoing)) this.client.removeOutgoingMessage(Number(id));
    this.inflightIds.clear();
    if (was && !this.stopping) {
      this.log.warn(
        { url: this.safeUrl, retryInMs: this.client.options.reconnectPeriod },
        "MQTT connection lost; retrying (decisions dropped; state, health, drift and events kept in the outbox until reconnected)",
      );
    }
  }

  private onError(err: Error & { code?: string | number }): void {
    if (this.stopping) return;
    // A broker that is down for hours fails every attempt the same way: say so once, not every 30 s.
    const repeated = err.message === this.lastError;
    this.lastError = err.message;
    const fields = {
      url: this.safeUrl,
      err: err.message,
      code: err.code,
      retryInMs: this.client.options.reconnectPeriod,
      ...hintFor(err),
    };
    if (repeated) this.log.debug(fields, "MQTT connection attempt failed");
    else this.log.warn(fields, "MQTT connection failed; inspection continues, retrying in the background");
  }

  /** Sends outbox messages in order, keeping at most MAX_INFLIGHT unacknowledged. */
  private flush(): void {
    if (!this.online || this.stopping) return;
    while (this.inflightIds.size < MAX_INFLIGHT) {
      const batch = this.outbox.next(this.sentUpTo, MAX_INFLIGHT - this.inflightIds.size);
      if (batch.length === 0) break;
      for (const m of batch) {
        this.sentUpTo = m.id;
        this.inflightIds.add(m.id);
        const generation = this.generation;
        this.send(m.name, m.body, (err) => {
          // After a close the row stays in the outbox and is replayed on the next connection.
          if (generation !== this.generation) return;
          this.inflightIds.delete(m.id);
          if (!err) {
            this.outbox.remove(m.id);
          } else if (this.client.connected) {
            // Refused by the broker itself (an MQTT 5 PUBACK reason code): resending will not help.
            this.outbox.remove(m.id);
            this.droppedCount++;
            this.log.warn({ err: err.message, topic: m.name }, "the MQTT broker refused a message; dropped");
          }
          this.flush();
        });
      }
    }
  }

  private send(name: TopicName, body: string, done?: (err?: Error) => void): void {
    const spec = TOPICS[name];
    this.client.publish(topicFor(this.prefix, name), body, { qos: spec.qos, retain: spec.retain }, done);
  }

  /** Whether a QoS 0 message can go now without buffering behind a disconnected or slow broker. */
  private canSendDroppable(): boolean {
    if (!this.online) return false;
    const buffered = this.client.stream?.writableLength ?? 0;
    const congested = buffered > MAX_BUFFERED_BYTES || this.inflight() > MAX_INFLIGHT;
    if (congested !== this.congested) {
      this.congested = congested;
      if (congested) {
        this.log.warn(
          { bufferedBytes: buffered, inflight: this.inflight() },
          "MQTT broker is not keeping up; dropping decisions",
        );
      } else {
        this.log.info("MQTT broker keeping up again; publishing decisions");
      }
    }
    return !congested;
  }

  private noteOverflow(): void {
    if (!this.warnedOverflow && this.outbox.dropped > this.overflowBaseline) {
      this.warnedOverflow = true;
      this.log.warn(
        { dropped: this.outbox.dropped },
        "MQTT outbox full; dropping the oldest queued messages until reconnected",
      );
    }
  }

  /** QoS 1 messages handed to mqtt.js and not yet acknowledged (kept across reconnects). */
  private inflight(): number {
    return Object.keys(this.client.outgoing).length;
  }
}

/** Whether `topic` matches an MQTT topic filter (levels, `+` and a trailing `#`). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length || (f[i] !== "+" && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

/** What to check for errors that retrying alone will not fix. */
function hintFor(err: Error & { code?: string | number }): { hint?: string } {
  // CONNACK 4/5 (MQTT 3.1.1), 134/135 (MQTT 5): the broker is up but refuses us.
  if (err.code === 4 || err.code === 5 || err.code === 134 || err.code === 135)
    return {
      hint: "the broker refused the login: check mqtt.username, the password file and the broker's ACL for this client id",
    };
  const code = String(err.code ?? "");
  if (/CERT|SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/.test(code) || /certificate/i.test(err.message))
    return {
      hint: "the broker's TLS certificate is not trusted: set mqtt.tls.ca_file to the CA that signed it, and check that the URL's host name is in the certificate",
    };
  if (code === "ERR_SSL_WRONG_VERSION_NUMBER" || /wrong version number/i.test(err.message))
    return { hint: "TLS to a port that does not speak TLS (or the reverse): check mqtts:// vs mqtt:// and the port" };
  if (/alert|handshake/i.test(err.message))
    return {
      hint: "the TLS handshake failed: the broker may require a client certificate (mqtt.tls.cert_file and key_file) or refuse this one",
    };
  return {};
}

/** `p`'s value, or TIMEOUT if it takes longer than `ms`. */
async function within<T>(ms: number, p: Promise<T>): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), Math.max(0, ms));
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
