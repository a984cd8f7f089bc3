import { describe, expect, it } from "vitest";
import {
  Auth,
  BadUserHeaderError,
  checkLabelerName,
  forgeryProblem,
  MAX_SESSIONS,
  SESSION_TTL_MS,
  WrongTokenError,
} from "../../src/http/auth.js";

const TOKEN = "0123456789abcdef0123";
/** How Node hands over a header's UTF-8 bytes. */
const latin1 = (s: string) => Buffer.from(s, "utf8").toString("latin1");

describe("sessions", () => {
  it("a login cookie names the labeler and expires", () => {
    const auth = new Auth(TOKEN);
    const { cookie } = auth.issue("Ann Müller", 1000);
    expect(cookie).toMatch(/HttpOnly; SameSite=Strict/);
    expect(cookie).not.toMatch(/Secure/);
    const value = cookie.split(";")[0] as string;
    expect(auth.sessionOf({ cookie: value }, 2000)).toEqual({ name: "Ann Müller", expires: 1000 + SESSION_TTL_MS });
    expect(auth.sessionOf({ cookie: value }, 1000 + SESSION_TTL_MS)).toBeNull();
  });

  it("an unknown or altered cookie is refused; another token (a restart) logs everyone out", () => {
    const auth = new Auth(TOKEN);
    const value = auth.issue("ann").cookie.split(";")[0] as string;
    expect(auth.sessionOf({ cookie: `${value}x` })).toBeNull();
    expect(auth.sessionOf({ cookie: "linesight_session=Ym9zcw.99999999999999.abc" })).toBeNull();
    expect(new Auth(`${TOKEN}x`).sessionOf({ cookie: value })).toBeNull();
  });

  it("logout ends the session on the server: a copy of the cookie stops working", () => {
    const auth = new Auth(TOKEN);
    const value = auth.issue("ann").cookie.split(";")[0] as string;
    const copy = { cookie: value };
    expect(auth.sessionOf(copy)?.name).toBe("ann");
    auth.end({ cookie: value });
    expect(auth.sessionOf(copy)).toBeNull();
  });

  it("keeps a bounded number of sessions, the oldest going first", () => {
    const auth = new Auth(TOKEN);
    const first = auth.issue("first").cookie.split(";")[0] as string;
    for (let i = 0; i < MAX_SESSIONS; i++) auth.issue(`u${i}`);
    expect(auth.sessionCount).toBe(MAX_SESSIONS);
    expect(auth.sessionOf({ cookie: first })).toBeNull();
  });

  it("marks the cookie Secure for use behind a TLS proxy", () => {
    const auth = new Auth(TOKEN, { secureCookie: true });
    expect(auth.issue("ann").cookie).toMatch(/; Secure;/);
    expect(auth.clearCookie()).toMatch(/; Secure;.*Max-Age=0/);
  });

  it("compares the token by fixed-length digests, any length in", () => {
    const auth = new Auth(TOKEN);
    expect(auth.tokenMatches(TOKEN)).toBe(true);
    for (const t of ["", "0", TOKEN.slice(0, -1), `${TOKEN}0`, "x".repeat(10_000), TOKEN.toUpperCase()])
      expect(auth.tokenMatches(t)).toBe(false);
  });

  it("accepts the bearer token for scripts, with a name checked like a login name", () => {
    const auth = new Auth(TOKEN);
    const bearer = { authorization: `Bearer ${TOKEN}` };
    expect(auth.sessionOf(bearer)?.name).toBe("token");
    expect(auth.sessionOf({ ...bearer, "x-linesight-user": "cron" })?.name).toBe("cron");
    expect(auth.sessionOf({ ...bearer, "x-linesight-user": "  cron  " })?.name).toBe("cron");
    // UTF-8 bytes arrive as latin1 text.
    expect(auth.sessionOf({ ...bearer, "x-linesight-user": latin1("Jürgen") })?.name).toBe("Jürgen");
    for (const bad of ["x".repeat(65), "   ", "a\tb", "evil\u202Eadmin", latin1("evil\u202Eadmin"), ["a", "b"]])
      expect(() => auth.sessionOf({ ...bearer, "x-linesight-user": bad }), String(bad)).toThrow(BadUserHeaderError);
    expect(() => auth.sessionOf({ authorization: "Bearer nope" })).toThrow(WrongTokenError);
    expect(() => new Auth("short")).toThrow(/at least 16/);
  });
});

describe("cross-site request forgery", () => {
  const ok = { host: "pi.local:8080", "x-linesight-request": "1" };
  it("needs the custom header and a same-origin Origin when one is sent", () => {
    expect(forgeryProblem(ok)).toBeNull();
    expect(forgeryProblem({ ...ok, origin: "http://pi.local:8080" })).toBeNull();
    expect(forgeryProblem({ host: "pi.local:8080" })).toMatch(/missing header/);
    expect(forgeryProblem({ ...ok, origin: "http://evil.example" })).toMatch(/another origin/);
    expect(forgeryProblem({ ...ok, origin: "null" })).toMatch(/opaque origin/);
    expect(forgeryProblem({ ...ok, "sec-fetch-site": "cross-site" })).toMatch(/cross-site/);
  });
});

describe("labeler names", () => {
  it("are trimmed, short and printable", () => {
    expect(checkLabelerName("  Ann ")).toBe("Ann");
    expect(() => checkLabelerName("")).toThrow(/1 to 64/);
    expect(() => checkLabelerName("a\nb")).toThrow(/printable/);
    expect(() => checkLabelerName(3)).toThrow(/your name/);
    expect(() => checkLabelerName("ann\u200Bboss")).toThrow(/printable/);
    expect(() => checkLabelerName("\u202Enna")).toThrow(/printable/);
    expect(checkLabelerName("Ame\u0301lie")).toBe("Amélie");
  });
});
