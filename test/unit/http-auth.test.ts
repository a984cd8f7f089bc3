import { describe, expect, it } from "vitest";
import { Auth, checkLabelerName, forgeryProblem, SESSION_TTL_MS } from "../../src/http/auth.js";

const TOKEN = "0123456789abcdef0123";

describe("sessions", () => {
  it("a login cookie names the labeler and expires", () => {
    const auth = new Auth(TOKEN);
    const { cookie } = auth.issue("Ann Müller", 1000);
    expect(cookie).toMatch(/HttpOnly; SameSite=Strict/);
    const value = cookie.split(";")[0] as string;
    expect(auth.sessionOf({ cookie: value }, 2000)).toEqual({ name: "Ann Müller", expires: 1000 + SESSION_TTL_MS });
    expect(auth.sessionOf({ cookie: value }, 1000 + SESSION_TTL_MS)).toBeNull();
  });

  it("a forged or re-signed cookie is refused; a new token logs everyone out", () => {
    const auth = new Auth(TOKEN);
    const value = auth.issue("ann").cookie.split(";")[0] as string;
    const [name, body, sig] = (value.split("=")[1] ?? "").split(".") as [string, string, string];
    const renamed = `linesight_session=${Buffer.from("boss").toString("base64url")}.${body}.${sig}`;
    expect(auth.sessionOf({ cookie: renamed })).toBeNull();
    expect(auth.sessionOf({ cookie: `linesight_session=${name}.${Number(body) + 1e9}.${sig}` })).toBeNull();
    expect(new Auth(`${TOKEN}x`).sessionOf({ cookie: value })).toBeNull();
  });

  it("accepts the bearer token for scripts, and nothing shorter than 16 characters", () => {
    const auth = new Auth(TOKEN);
    expect(auth.sessionOf({ authorization: `Bearer ${TOKEN}` })?.name).toBe("token");
    expect(auth.sessionOf({ authorization: `Bearer ${TOKEN}`, "x-linesight-user": "cron" })?.name).toBe("cron");
    expect(auth.sessionOf({ authorization: "Bearer nope" })).toBeNull();
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
  });
});
