// Who may do what over HTTP. Changing anything (labels, sessions) needs the token, either as
// `Authorization: Bearer <token>` (scripts) or as a session cookie the login page gets for it.
// Cross-site request forgery: every change must also carry the X-Linesight-Request header
// (a page on another origin cannot add one without a CORS preflight, which we never approve)
// and, when the browser sends an Origin, it must be this server's. The session cookie is
// SameSite=Strict and HttpOnly besides. Pure apart from the HMAC.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export const CSRF_HEADER = "x-linesight-request";
export const SESSION_COOKIE = "linesight_session";
/** A labeler logs in once per shift or so. */
export const SESSION_TTL_MS = 12 * 3600 * 1000;

export interface Session {
  /** The name the person typed at login: stored with each label as labeled_by. */
  name: string;
  expires: number;
}

export class Auth {
  private readonly key: Buffer;

  constructor(private readonly token: string) {
    if (token.length < 16)
      throw new Error("the HTTP token must be at least 16 characters (e.g. `openssl rand -hex 16`)");
    // Cookies are signed with a key derived from the token: changing the token logs everyone out.
    this.key = createHmac("sha256", "linesight-session").update(token).digest();
  }

  tokenMatches(candidate: string): boolean {
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** name.expires.signature, all URL-safe; the name is whatever the labeler typed. */
  issue(name: string, now = Date.now()): { cookie: string; session: Session } {
    const session = { name, expires: now + SESSION_TTL_MS };
    const body = `${Buffer.from(name).toString("base64url")}.${session.expires}`;
    const value = `${body}.${this.sign(body)}`;
    return {
      cookie: `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}`,
      session,
    };
  }

  static clearCookie(): string {
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }

  /** The session of a request (cookie or bearer token), or null. A bearer token is "token". */
  sessionOf(headers: IncomingHttpHeaders, now = Date.now()): Session | null {
    const auth = headers.authorization;
    if (auth?.startsWith("Bearer ") && this.tokenMatches(auth.slice(7).trim())) {
      const who = headers["x-linesight-user"];
      return { name: typeof who === "string" && who ? who : "token", expires: Number.POSITIVE_INFINITY };
    }
    const value = cookieValue(headers.cookie, SESSION_COOKIE);
    if (!value) return null;
    const [name64, expires, sig] = value.split(".");
    if (!name64 || !expires || !sig) return null;
    const body = `${name64}.${expires}`;
    const expected = Buffer.from(this.sign(body));
    const got = Buffer.from(sig);
    if (expected.length !== got.length || !timingSafeEqual(expected, got)) return null;
    const exp = Number(expires);
    if (!(exp > now)) return null;
    return { name: Buffer.from(name64, "base64url").toString(), expires: exp };
  }

  private sign(body: string): string {
    return createHmac("sha256", this.key).update(body).digest("base64url");
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
  const n = name.trim();
  if (n.length < 1 || n.length > 64 || [...n].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127))
    throw new Error("name: 1 to 64 printable characters");
  return n;
}
