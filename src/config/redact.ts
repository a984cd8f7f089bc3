// One rule for everything linesight shows of its configuration or of a command line (get_config
// over MQTT, logs, `linesight check`): whatever may carry a secret is masked, wherever it sits.
//   - user info in any URL, in any string (rtsp://admin:secret@cam -> rtsp://admin:***@cam)
//   - values of keys named like a secret (password, pw, token, secret, key, credential, auth, ...),
//     as config keys, GStreamer properties (user-pw=...), URL query parameters (?token=...) or
//     command-line options (--password x, --password=x)
// Keys that name where a secret is kept (password_file, key_credential) are references, not
// secrets, and stay readable. Pure: no I/O.

export const MASK = "***";

const SECRET_WORDS = new Set([
  "password",
  "passwd",
  "passphrase",
  "pass",
  "pw",
  "pwd",
  "secret",
  "token",
  "key",
  "apikey",
  "credential",
  "credentials",
  "auth",
  "authorization",
  "cookie",
  "signature",
  "sig",
]);
/** Last words of a key that holds where a secret is, not the secret. */
const REFERENCE_WORDS = new Set(["file", "credential", "path"]);

function words(key: string): string[] {
  return key
    .split(/[-_.\s]+|(?<=[a-z0-9])(?=[A-Z])/)
    .map((w) => w.toLowerCase())
    .filter(Boolean);
}

/** Whether a key, property, parameter or option name (any case, - _ . or camelCase) names a secret. */
export function isSecretKey(key: string): boolean {
  const w = words(key);
  if (!w.some((x) => SECRET_WORDS.has(x))) return false;
  const last = w[w.length - 1] as string;
  return !(w.length > 1 && REFERENCE_WORDS.has(last));
}

// scheme://userinfo@ : greedy up to the last '@' before the path, so a raw '@' in a password is covered.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#"'<>]*)@/gi;
// name=value, with the value quoted or up to a separator (space, &, ;, ',', !, quote).
const NAME_VALUE = /(^|[\s?&;,!("'])(-{0,2}[A-Za-z][\w.-]*)=("[^"]*"|'[^']*'|[^\s&;,!"')]*)/g;
const AUTH_HEADER = /\b((?:proxy-)?authorization|cookie|x-api-key)(\s*:\s*)[^\r\n'"]*/gi;

/** A URL with its password masked (user kept); unparsable input is not echoed at all. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = MASK;
    return redactText(u.toString());
  } catch {
    return "<unparsable URL>";
  }
}

/** `text` with every secret-looking part masked: URL user info, secret name=value pairs, auth headers. */
export function redactText(text: string): string {
  return text
    .replace(URL_USERINFO, (_m, scheme: string, info: string) => {
      const colon = info.indexOf(":");
      return colon >= 0 ? `${scheme}${info.slice(0, colon)}:${MASK}@` : `${scheme}${MASK}@`;
    })
    .replace(NAME_VALUE, (m, pre: string, name: string) => (isSecretKey(name) ? `${pre}${name}=${MASK}` : m))
    .replace(AUTH_HEADER, (_m, name: string, sep: string) => `${name}${sep}${MASK}`);
}

/** A command line's arguments with secrets masked: the value after `--password`, and redactText on each. */
export function redactArgs(args: readonly string[]): string[] {
  const out = args.map(redactText);
  for (let i = 0; i < out.length - 1; i++) {
    const m = /^-{1,2}([A-Za-z][\w-]*)$/.exec(out[i] as string);
    if (m && isSecretKey(m[1] as string)) out[++i] = MASK;
  }
  return out;
}

/** A deep copy of `value` (a config, or any part of one) with every secret masked. */
export function redactConfig<T>(value: T): T {
  return walk(value, false) as T;
}

function walk(v: unknown, secret: boolean): unknown {
  if (v === null || v === undefined || typeof v === "boolean") return v;
  if (secret && (typeof v === "string" || typeof v === "number" || typeof v === "bigint")) return MASK;
  if (typeof v === "string") return redactText(v);
  if (Array.isArray(v)) {
    if (!secret && v.every((x) => typeof x === "string")) return redactArgs(v as string[]);
    return v.map((x) => walk(x, secret));
  }
  if (typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, secret || isSecretKey(k))]));
  }
  return v;
}
