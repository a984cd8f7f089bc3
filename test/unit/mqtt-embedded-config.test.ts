// The embedded broker is never open to the network without a login unless the config says so
// (issue 14, item 5); the message size limit has a default with room for a model bundle (item 2).
import { describe, expect, it } from "vitest";
import { configSchema, isLoopbackHost } from "../../src/config/schema.js";
import { configProblems } from "../helpers/config.js";

const base = { device: { id: "d" }, model: { path: "/m" }, storage: { path: "/s.db" } };
const problems = (mqtt: object) => configProblems({ ...base, mqtt }).join("\n");

describe("mqtt.embedded login", () => {
  it("refuses a non-loopback embedded broker without a login, naming the key and the fixes", () => {
    for (const host of ["0.0.0.0", "::", "192.168.1.20", "linesight.local"]) {
      const p = problems({ embedded: { host } });
      expect(p, host).toContain("mqtt.embedded.host");
      expect(p).toContain("mqtt.embedded.username");
      expect(p).toContain("mqtt.embedded.password_file");
      expect(p).toContain("allow_anonymous: true");
    }
  });

  it("accepts it with a login, or with allow_anonymous: true said out loud", () => {
    expect(problems({ embedded: { host: "0.0.0.0", username: "ops", password_file: "/etc/linesight/broker" } })).toBe(
      "",
    );
    expect(problems({ embedded: { host: "0.0.0.0", username: "ops", password_credential: "broker" } })).toBe("");
    expect(problems({ embedded: { host: "0.0.0.0", allow_anonymous: true } })).toBe("");
  });

  it("loopback stays anonymous by default (the demo); an external broker ignores the embedded section", () => {
    for (const host of ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
      expect(problems({ embedded: { host } })).toBe("");
    expect(problems({ url: "mqtt://broker:1883", embedded: { host: "0.0.0.0" } })).toBe("");
  });

  it("half a login, two password sources or a login with allow_anonymous are errors", () => {
    expect(problems({ embedded: { username: "ops" } })).toMatch(/mqtt\.embedded\.password_file.*needs a password/);
    expect(problems({ embedded: { password_file: "/p" } })).toMatch(/mqtt\.embedded\.username/);
    expect(problems({ embedded: { username: "ops", password_file: "/p", password_credential: "c" } })).toMatch(
      /mqtt\.embedded\.password_credential.*not both/,
    );
    expect(problems({ embedded: { username: "ops", password_file: "/p", allow_anonymous: true } })).toMatch(
      /mqtt\.embedded\.allow_anonymous/,
    );
  });

  it("knows loopback addresses", () => {
    expect(isLoopbackHost("127.0.0.1")).toBe(true);
    expect(isLoopbackHost("0.0.0.0")).toBe(false);
    expect(isLoopbackHost("::")).toBe(false);
  });
});

describe("mqtt.max_message_kb", () => {
  it("defaults to 8 MiB and keeps room for ordinary 64 KiB commands", () => {
    const c = configSchema.parse(base);
    expect(c.mqtt.max_message_kb).toBe(8192);
    expect(problems({ max_message_kb: 32 })).toContain("mqtt.max_message_kb");
    expect(problems({ max_message_kb: 64 })).toBe("");
  });
});
