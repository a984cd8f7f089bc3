// Who logs in where: the daemon's client uses mqtt.username / password_file against a configured
// broker, and the embedded broker's login (mqtt.embedded.*) against the embedded one, which then
// accepts only that login. Reads the password files or systemd credentials.
import type { Config } from "../config/schema.js";
import { readSecret } from "../config/secrets.js";
import type { BrokerLogin } from "./embedded-broker.js";

export interface BrokerLogins {
  /** The one login the embedded broker accepts; null: anonymous (or no embedded broker). */
  embedded: BrokerLogin | null;
  /** What the daemon's own client sends in CONNECT. */
  client: { username?: string; password?: string };
}

export async function brokerLogins(mq: Config["mqtt"]): Promise<BrokerLogins> {
  const e = mq.embedded;
  if (mq.url === null && e.username) {
    const password = await readSecret({
      key: e.password_file ? "mqtt.embedded.password_file" : "mqtt.embedded.password_credential",
      file: e.password_file ?? undefined,
      credential: e.password_credential ?? undefined,
    });
    const embedded = { username: e.username, password };
    return { embedded, client: embedded };
  }
  const password =
    mq.password_file || mq.password_credential
      ? await readSecret({
          key: mq.password_file ? "mqtt.password_file" : "mqtt.password_credential",
          file: mq.password_file ?? undefined,
          credential: mq.password_credential ?? undefined,
        })
      : undefined;
  return {
    embedded: null,
    client: { ...(mq.username ? { username: mq.username } : {}), ...(password ? { password } : {}) },
  };
}
