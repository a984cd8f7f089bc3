import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { builtinConfig, loadConfig, parseConfig } from "../../src/config/load.js";
import { readSecret } from "../../src/config/secrets.js";
import { configProblems } from "../helpers/config.js";

const ROOT = join(import.meta.dirname, "../..");

const problems = configProblems;

describe("configuration", () => {
  it("fills every default from a minimal file", () => {
    const { config } = parseConfig({ device: { id: "cam-1" } }, "test.yaml", "/etc/linesight");
    expect(config.camera.replay.fps).toBe(10);
    expect(config.mqtt.url).toBeNull();
    expect(config.mqtt.embedded.port).toBe(1883);
    expect(config.storage.max_mb).toBe(1024);
    expect(config.decision.uncertain_action).toBe("reject");
  });

  it("names an unknown key and suggests the close one", () => {
    expect(problems({ device: { id: "a" }, decision: { treshold: 0.3 } })).toEqual([
      expect.stringContaining('decision.treshold: unknown key; did you mean "threshold"?'),
    ]);
  });

  it("lists every problem at once with its key path and the value it got", () => {
    const p = problems({
      device: { id: "bad id!" },
      mqtt: { embedded: { port: 70000 } },
      camera: { replay: { fps: "fast" } },
    });
    expect(p).toHaveLength(3);
    expect(p.join("\n")).toMatch(/device\.id: .*MQTT topic level.*got "bad id!"/);
    expect(p.join("\n")).toMatch(/mqtt\.embedded\.port: .*got 70000/);
    expect(p.join("\n")).toMatch(/camera\.replay\.fps: .*got "fast"/);
  });

  it("requires device.id in a file", () => {
    expect(problems({})).toEqual([expect.stringMatching(/^device: required, but missing/)]);
  });

  it("refuses an inline password and says where secrets go", () => {
    expect(problems({ device: { id: "a" }, mqtt: { password: "hunter2" } })[0]).toMatch(
      /mqtt\.password: secrets are not allowed.*password_file/,
    );
  });

  it("refuses both a password file and a credential", () => {
    expect(problems({ device: { id: "a" }, mqtt: { password_file: "p", password_credential: "c" } })[0]).toMatch(
      /mqtt\.password_credential: set either/,
    );
  });

  it("checks MQTT TLS settings: a key needs its certificate, TLS needs mqtts://, MQTT 5 needs a real broker", () => {
    const mqtt = (m: object) => problems({ device: { id: "a" }, mqtt: m });
    expect(mqtt({ url: "mqtts://b:8883", tls: { cert_file: "c.pem" } }).join("\n")).toMatch(
      /mqtt\.tls\.key_file: cert_file needs its private key/,
    );
    expect(mqtt({ url: "mqtts://b:8883", tls: { key_file: "k.pem" } }).join("\n")).toMatch(
      /mqtt\.tls\.cert_file: a client key needs its certificate/,
    );
    expect(mqtt({ url: "mqtt://b:1883", tls: { ca_file: "ca.pem" } }).join("\n")).toMatch(
      /mqtt\.url: mqtt\.tls is set but the URL is not mqtts:\/\//,
    );
    expect(mqtt({ protocol_version: 5 }).join("\n")).toMatch(/mqtt\.protocol_version: the embedded broker/);
    expect(mqtt({ protocol_version: 3 }).join("\n")).toMatch(/mqtt\.protocol_version/);
    expect(mqtt({ outbox: { max_messages: 1 } }).join("\n")).toMatch(/mqtt\.outbox\.max_messages/);
    expect(
      mqtt({ url: "mqtts://b:8883", tls: { ca_file: "ca.pem", cert_file: "c.pem", key_credential: "mqtt-key" } }),
    ).toEqual([]);
  });

  it("resolves relative paths against the config file's directory", () => {
    const { config } = parseConfig(
      { device: { id: "a" }, model: { path: "models/x" }, storage: { path: "/abs/db" } },
      "t",
      "/etc/linesight",
    );
    expect(config.model.path).toBe("/etc/linesight/models/x");
    expect(config.storage.path).toBe("/abs/db");
    const tls = parseConfig(
      {
        device: { id: "a" },
        mqtt: { url: "mqtts://b:8883", tls: { ca_file: "certs/ca.pem" }, outbox: { path: "q.db" } },
      },
      "t",
      "/etc/linesight",
    ).config.mqtt;
    expect(tls.tls.ca_file).toBe("/etc/linesight/certs/ca.pem");
    expect(tls.outbox.path).toBe("/etc/linesight/q.db");
  });

  it("reports YAML syntax errors with their line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cfg-"));
    writeFileSync(join(dir, "c.yaml"), "device:\n  id: a\n  site: [unclosed\n");
    await expect(loadConfig(join(dir, "c.yaml"))).rejects.toThrow(/line \d+/);
  });

  it("says how to fix a missing file", async () => {
    await expect(loadConfig("/nonexistent/linesight.yaml")).rejects.toThrow(
      /file not found; copy config\/linesight.example.yaml/,
    );
  });

  it("parses the shipped example config", async () => {
    const { config } = await loadConfig(join(ROOT, "config/linesight.example.yaml"));
    expect(config.device.id).toBe("line1-cam1");
  });

  it("has valid built-in demo defaults pointing into the package", () => {
    const { config } = builtinConfig(ROOT);
    expect(config.model.path).toBe(join(ROOT, "models/round-parts"));
    expect(config.storage.path).toBe(join(ROOT, "data/linesight.db"));
  });
});

describe("secrets", () => {
  it("reads a file without its trailing newline, or a systemd credential", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sec-"));
    writeFileSync(join(dir, "pw"), "s3cret\n");
    expect(await readSecret({ file: join(dir, "pw") })).toBe("s3cret");
    process.env.CREDENTIALS_DIRECTORY = dir;
    try {
      expect(await readSecret({ credential: "pw" })).toBe("s3cret");
    } finally {
      delete process.env.CREDENTIALS_DIRECTORY;
    }
    await expect(readSecret({ credential: "pw" })).rejects.toThrow(/LoadCredential=pw/);
  });
});
