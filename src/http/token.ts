// The HTTP token: from http.token_file / http.token_credential, or, when neither is set, a
// random one the daemon creates once next to the database (mode 0600) so a first start works
// and the person at the device can read it; it is never logged.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { readSecret, SecretError } from "../config/secrets.js";

export interface TokenSource {
  token: string;
  /** Where it came from, for the log and the banner: a path or credential name, never the token. */
  from: string;
  generated: boolean;
}

export async function httpToken(
  cfg: { token_file: string | null; token_credential: string | null },
  databasePath: string,
): Promise<TokenSource> {
  if (cfg.token_file || cfg.token_credential) {
    const token = await readSecret({
      file: cfg.token_file ?? undefined,
      credential: cfg.token_credential ?? undefined,
    });
    const from = cfg.token_file ?? `credential ${cfg.token_credential}`;
    if (token.length < 16)
      throw new SecretError(`http token from ${from} is too short: use at least 16 characters (openssl rand -hex 16)`);
    return { token, from, generated: false };
  }
  const path = join(dirname(databasePath), "http-token");
  if (existsSync(path)) {
    const token = readFileSync(path, "utf8").trim();
    if (token.length >= 16) return { token, from: path, generated: false };
  }
  const token = randomBytes(16).toString("hex");
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return { token, from: path, generated: true };
}
