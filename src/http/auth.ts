// Who may do what over HTTP. Changing anything (labels, sessions) needs the token, either as
// `Authorization: Bearer <token>` (scripts) or as a session cookie the login page gets for it.
// Sessions live in this process (an opaque random id in the cookie): logging out ends one
// for good, even where the cookie was copied; a restart logs everyone out.
// Cross-site request forgery: every change must also carry the X-Linesight-Request header
// (a page on another origin cannot add one without a CORS preflight, which we never approve)
// and, when the browser sends an Origin, it must be this server's. The session cookie is
// SameSite=Strict and HttpOnly besides.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export const CSRF_HEADER = "x-linesight-request";
export const USER_HEADER = "x-linesight-user";
export const SESSION_COOKIE = "linesight_session";
/** A labeler logs in once per shift or so. */
export const SESSION_TTL_MS = 12 * 3600 * 1000;
/** Sessions kept at most; the oldest goes first (a script logging in in a loop cannot grow memory). */
export const MAX_SESSIONS = 1000;

export interface Session {
  /** The name the person typed at login: stored with each label as labeled_by. */
  name: string;
  expires: number;
}

/** A request that carried a token, and it was wrong. */
export class WrongTokenError extends Error {
  constructor() {
    super("wrong token");
  }
}

/** A request whose X-Linesight-User header is not an acceptable labeler name. */
export class BadUserHeaderError extends Error {}

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

export class Auth {
  private readonly tokenDigest: Buffer;
  /** By the SHA-256 of the cookie's id: the map's own lookup never sees the secret. */
  private readonly sessions = new Map<string, Session>();
  private readonly cookieFlags: string;

  constructor(token: string, opts: { secureCookie?: boolean } = {}) {
    if (token.length < 16)
      throw new Error("the HTTP token must be at least 16 characters (e.g. `openssl rand -hex 16`)");
    this.tokenDigest = digest(token);
    this.cookieFlags = `Path=/; HttpOnly; SameSite=Strict${opts.secureCookie ? "; Secure" : ""}`;
  }

  /** Compares fixed-length digests, so neither the token's length nor its bytes show in the time taken. */
  tokenMatches(candidate: string): boolean {
    return timingSafeEqual(digest(candidate), this.tokenDigest);
  }

  issue(name: string, now = Date.now()): { cookie: string; session: Session } {
    for (const [k, s] of this.sessions) if (!(s.expires > now)) this.sessions.delete(k);
    while (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString("base64url");
    const session = { name, expires: now + SESSION_TTL_MS };
    this.sessions.set(digest(id).toString("hex"), session);
    return { cookie: `${SESSION_COOKIE}=${id}; ${this.cookieFlags}; Max-Age=${SESSION_TTL_MS / 1000}`, session };
  }

  /** Logout: the session of this cookie ends here, wherever else the cookie was copied to. */
  end(headers: IncomingHttpHeaders): void {
    const id = cookieValue(headers.cookie, SESSION_COOKIE);
    if (id) this.sessions.delete(digest(id).toString("hex"));
  }

  clearCookie(): string {
    return `${SESSION_COOKIE}=; ${this.cookieFlags}; Max-Age=0`;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Whether the request offers the token itself (a script), right or wrong. */
  static hasBearer(headers: IncomingHttpHeaders): boolean {
    return headers.authorization?.startsWith("Bearer ") === true;
  }

  /**
   * The session of a request (cookie or bearer token), or null. A bearer token is the name in
   * X-Linesight-User (checked like a login name), else "token". Throws WrongTokenError for a
   * wrong bearer token and BadUserHeaderError for an unacceptable name.
   */
  sessionOf(headers: IncomingHttpHeaders, now = Date.now()): Session | null {
    const auth = headers.authorization;
    if (auth?.startsWith("Bearer ")) {
      if (!this.tokenMatches(auth.slice(7).trim())) throw new WrongTokenError();
      return { name: userHeaderName(headers[USER_HEADER]) ?? "token", expires: Number.POSITIVE_INFINITY };
    }
    const id = cookieValue(headers.cookie, SESSION_COOKIE);
    if (!id) return null;
    const key = digest(id).toString("hex");
    const s = this.sessions.get(key);
    if (!s) return null;
    if (!(s.expires > now)) {
      this.sessions.delete(key);
      return null;
    }
    return s;
  }
}

/**
 * The labeler name a script sends in X-Linesight-User (UTF-8 bytes, which Node hands over as
 * latin1), checked exactly like a login name; null when there is none.
 */
export function userHeaderName(value: string | string[] | undefined): string | null {
  if (value === undefined || value === "") return null;
  if (Array.isArray(value)) throw new BadUserHeaderError(`${USER_HEADER}: send the header once`);
  let text = value;
  if ([...value].every((c) => c.charCodeAt(0) <= 0xff)) {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(value, "latin1"));
    } catch {
      // Not UTF-8: taken as the latin1 text it is.
    }
  }
  try {
    return checkLabelerName(text);
  } catch (err) {
    throw new BadUserHeaderError(`${USER_HEADER}: ${(err as Error).message.replace(/^name: /, "")}`);
  }
}

/**
 * Why a state-changing request must be refused as possibly forged, or null when it is fine.
 * Applies to every POST, including login (a forged login would make a person label as someone else).
 */
export function forgeryProblem(headers: IncomingHttpHeaders): string | null {
  if (headers[CSRF_HEADER] !== "1") return `missing header ${CSRF_HEADER}: 1 (sent by the linesight pages)`;
  const site = headers["sec-fetch-site"];
  if (site === "cross-site") return "cross-site request refused";
  const origin = headers.origin;
  if (origin !== undefined && origin !== "null") {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return `malformed Origin header "${origin}"`;
    }
    if (host !== headers.host) return `request from another origin (${origin}) refused`;
  } else if (origin === "null") {
    return "request from an opaque origin refused";
  }
  return null;
}

export function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** A labeler's name: printable, short, stored with every label they give. */
export function checkLabelerName(name: unknown): string {
  if (typeof name !== "string") throw new Error("name: expected your name (stored with each label you give)");
  const n = name.normalize("NFC").trim();
  // Control, format (bidi overrides, zero-width), separator-line, private and unassigned characters
  // could hide or disguise who labeled in the page, the CSV and the log.
  if (n.length < 1 || n.length > 64 || /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u.test(n))
    throw new Error("name: 1 to 64 printable characters");
  return n;
}
