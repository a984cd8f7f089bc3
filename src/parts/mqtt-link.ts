// The daemon's MQTT connection: the embedded broker when none is configured (so the demo is
// observable), the durable outbox, and the publisher. Opened before the other parts, closed
// after them, so the last health report and `offline` still go out.
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import { brokerLogins } from "../mqtt/broker-logins.js";
import { startEmbeddedBroker } from "../mqtt/embedded-broker.js";
import { MqttPublisher } from "../mqtt/publisher.js";
import { readTlsFiles } from "../mqtt/tls-files.js";
import type { TopicName } from "../mqtt/topics.js";
import { ThreadedOutbox } from "../store/threaded-outbox.js";
import type { Part } from "./part.js";

export interface MqttLink extends Part {
  publisher: MqttPublisher;
  /** The broker's URL (it may carry credentials: log it through redactUrl). */
  url: string;
  prefix: string;
  /** Whether linesight runs the broker itself. */
  embedded: boolean;
}

export async function openMqttLink(
  config: Config,
  announcements: { topic: string; body: string }[],
  logger: Logger,
): Promise<MqttLink> {
  const mq = config.mqtt;
  const logins = await brokerLogins(mq);
  const maxPacketBytes = mq.max_message_kb * 1024;
  let broker: { url: string; close(): Promise<void> } | null = null;
  let url = mq.url;
  if (!url) {
    try {
      broker = await startEmbeddedBroker({
        host: mq.embedded.host,
        port: mq.embedded.port,
        login: logins.embedded,
        maxPacketBytes,
        logger,
      });
      url = broker.url;
    } catch (err) {
      // Most often another broker already owns the port: use it rather than refuse to inspect.
      const host = mq.embedded.host === "0.0.0.0" ? "127.0.0.1" : mq.embedded.host;
      url = `mqtt://${host}:${mq.embedded.port}`;
      logger.warn(
        { err: (err as Error).message, url },
        "embedded MQTT broker not started; connecting to the port anyway",
      );
    }
  }
  const prefix = mq.prefix ?? `linesight/${config.device.id}`;
  const outbox = openOutbox(config, logger);
  const publisher = MqttPublisher.start({
    url,
    clientId: mq.client_id ?? `linesight-${config.device.id}`,
    prefix,
    ...logins.client,
    maxPacketBytes,
    keepaliveS: mq.keepalive_s,
    protocolVersion: mq.protocol_version,
    tls: await readTlsFiles(mq.tls),
    outbox,
    announcements,
    logger,
  });
  return {
    name: "mqtt",
    publisher,
    url,
    prefix,
    embedded: broker !== null,
    async stop() {
      await publisher.stop();
      outbox.close();
      await broker?.close();
    },
  };
}

/** The durable MQTT outbox; messages left by the previous run are replayed once connected. */
function openOutbox(config: Config, logger: Logger): ThreadedOutbox<TopicName> {
  const o = config.mqtt.outbox;
  const path = o.path ?? join(dirname(config.storage.path), "outbox.db");
  // Written by a worker thread: a slow disk must not stall frame decisions (docs/performance.md).
  const outbox = ThreadedOutbox.open<TopicName>(path, {
    maxMessages: o.max_messages,
    maxBytes: o.max_mb * 1024 * 1024,
  });
  outbox.onError = (err) =>
    logger.error(
      { path, err },
      "MQTT outbox: its database cannot be written; messages are still sent, but would not survive a restart",
    );
  const oldest = outbox.oldestQueuedAt();
  if (outbox.size > 0 && oldest !== null) {
    logger.info(
      { path, queued: outbox.size, bytes: outbox.bytes, oldest: new Date(oldest).toISOString() },
      "MQTT outbox holds messages from before the restart; they are sent first, in order, once connected",
    );
  }
  return outbox;
}
