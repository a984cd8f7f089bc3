// `linesight model install|status|promote|rollback|discard` talking to the running daemon over
// its broker's command topics (docs/models.md#6-on-a-running-device-over-mqtt): the daemon holds
// the model, so it must make the change (and swap between two frames). The daemon counts as
// running when its retained `<p>/status` says `online`; otherwise the CLI changes the store itself.
import { randomBytes } from "node:crypto";
import { connectAsync, type MqttClient } from "mqtt";
import type { Config } from "../config/schema.js";
import { brokerLogins } from "../mqtt/broker-logins.js";
import type { CommandReplyPayload } from "../mqtt/payloads.js";
import { readTlsFiles } from "../mqtt/tls-files.js";

/** How long to wait for the broker and for the retained status that says the daemon runs. */
const CONNECT_TIMEOUT_MS = 3000;
const STATUS_WAIT_MS = 1500;

export interface RunningDaemon {
  /** Sends a command and resolves with its reply. */
  request(name: string, args: object, timeoutMs: number): Promise<CommandReplyPayload>;
  /** Sends a bundle (a JSON envelope when it fits in one message, else its raw bytes). */
  install(bundle: Buffer, allowDowngrade: boolean, timeoutMs: number): Promise<CommandReplyPayload>;
  close(): Promise<void>;
}

/** The running daemon of this configuration, or null when it is not online (or no broker answers). */
export async function runningDaemon(config: Config): Promise<RunningDaemon | null> {
  const mq = config.mqtt;
  const host = mq.embedded.host === "0.0.0.0" ? "127.0.0.1" : mq.embedded.host;
  const url = mq.url ?? `mqtt://${host}:${mq.embedded.port}`;
  const prefix = mq.prefix ?? `linesight/${config.device.id}`;
  const tls = await readTlsFiles(mq.tls);
  let client: MqttClient;
  try {
    client = await connectAsync(url, {
      clientId: `linesight-cli-${randomBytes(4).toString("hex")}`,
      ...(await brokerLogins(mq)).client,
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
      rejectUnauthorized: tls.rejectUnauthorized,
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectPeriod: 0,
      clean: true,
    });
  } catch {
    return null;
  }
  const replies: { topic: string; reply: CommandReplyPayload }[] = [];
  const waiters = new Set<() => void>();
  let status: string | null = null;
  client.on("message", (topic, payload) => {
    if (topic === `${prefix}/status`) status = payload.toString();
    else {
      try {
        replies.push({ topic, reply: JSON.parse(payload.toString()) as CommandReplyPayload });
      } catch {
        return;
      }
    }
    for (const w of waiters) w();
  });
  await client.subscribeAsync([`${prefix}/status`, `${prefix}/cmd/+/reply`], { qos: 1 });
  const until = async (cond: () => boolean, ms: number): Promise<boolean> => {
    if (cond()) return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(ok);
      };
      const check = () => cond() && done(true);
      const timer = setTimeout(() => done(false), ms);
      waiters.add(check);
    });
  };
  await until(() => status !== null, STATUS_WAIT_MS);
  if (status !== "online") {
    await client.endAsync();
    return null;
  }
  const awaitReply = async (name: string, match: (r: CommandReplyPayload) => boolean, from: number, ms: number) => {
    const find = () => replies.slice(from).find((x) => x.topic === `${prefix}/cmd/${name}/reply` && match(x.reply));
    if (!(await until(() => find() !== undefined, ms)))
      throw new Error(`no reply to ${name} from the daemon within ${ms / 1000} s`);
    return (find() as { reply: CommandReplyPayload }).reply;
  };
  const request = async (name: string, args: object, timeoutMs: number) => {
    const id = `cli-${randomBytes(6).toString("hex")}`;
    const from = replies.length;
    await client.publishAsync(`${prefix}/cmd/${name}`, JSON.stringify({ id, ...args }), { qos: 1 });
    return awaitReply(name, (r) => r.id === id, from, timeoutMs);
  };
  return {
    request,
    async install(bundle, allowDowngrade, timeoutMs) {
      const envelopeBytes = Math.ceil(bundle.length / 3) * 4 + 1024;
      // The envelope carries an id (and allow_downgrade); raw bytes never downgrade.
      if (envelopeBytes <= mq.max_message_kb * 1024)
        return request(
          "model_install",
          { bundle_base64: bundle.toString("base64"), ...(allowDowngrade ? { allow_downgrade: true } : {}) },
          timeoutMs,
        );
      // Raw bytes carry no id: the next model_install reply is this one's.
      const from = replies.length;
      await client.publishAsync(`${prefix}/cmd/model_install`, bundle, { qos: 1 });
      return awaitReply("model_install", () => true, from, timeoutMs);
    },
    close: () => client.endAsync(),
  };
}
