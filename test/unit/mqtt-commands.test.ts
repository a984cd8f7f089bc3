import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import {
  COMMAND_NAMES,
  CommandError,
  type CommandHandlers,
  CommandRouter,
  commandNameOf,
  redactedConfig,
  responseTopicAllowed,
} from "../../src/mqtt/commands.js";
import { modelCommandHandlers } from "../../src/mqtt/model-commands.js";
import { commandReplyPayloadSchema } from "../../src/mqtt/payload-schemas.js";
import { topicMatches } from "../../src/mqtt/publisher.js";

const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));

function handlers(calls: string[] = []): CommandHandlers {
  const called = <T>(name: string, result: T): T => {
    calls.push(name);
    return result;
  };
  return {
    ping: () => called("ping", { uptime_s: 1, version: "0.0.0" }),
    get_config: () => called("get_config", { device: { id: "x" } }),
    get_stats: () => called("get_stats", { health: null }),
    set_threshold: (a) => called("set_threshold", { threshold: a.threshold, uncertain_band: a.uncertain_band ?? null }),
    pause: () => called("pause", { paused: true }),
    resume: () => called("resume", { paused: false }),
    snapshot: async () => {
      calls.push("snapshot");
      throw new CommandError("paused", "inspection is paused");
    },
    ...modelCommandHandlers(null),
  };
}

function router(opts: ConstructorParameters<typeof CommandRouter>[1] = {}, calls: string[] = []) {
  let t = 0;
  const r = new CommandRouter(handlers(calls), { now: () => t, ...opts });
  return { r, advance: (ms: number) => (t += ms), calls };
}

describe("CommandRouter", () => {
  it("dispatches a valid request and echoes its id", async () => {
    const { r } = router();
    const reply = await r.handle("ping", enc({ id: "abc" }));
    expect(reply).toEqual({
      schema: 1,
      id: "abc",
      command: "ping",
      ok: true,
      result: { uptime_s: 1, version: "0.0.0" },
    });
    expect(commandReplyPayloadSchema.safeParse(reply).success).toBe(true);
  });

  it("takes an empty payload as {}", async () => {
    const { r } = router();
    expect(await r.handle("pause", new Uint8Array())).toMatchObject({ ok: true, id: null, result: { paused: true } });
  });

  it.each([
    ["garbage bytes", new Uint8Array([0xff, 0xfe, 0x00, 0x80]), "bad_json"],
    ["invalid JSON", enc("{not json"), "bad_json"],
    ["too large", new Uint8Array(64 * 1024 + 1).fill(0x20), "too_large"],
    ["a JSON array", enc([1, 2]), "invalid_args"],
    ["JSON null", enc("null"), "invalid_args"],
    ["an unknown key", enc({ id: "1", nope: true }), "invalid_args"],
    ["a non-string id", enc({ id: 5 }), "invalid_args"],
  ])("refuses %s", async (_what, payload, code) => {
    const { r, calls } = router();
    const reply = await r.handle("ping", payload);
    expect(reply.ok).toBe(false);
    if (!reply.ok) expect(reply.error.code).toBe(code);
    expect(commandReplyPayloadSchema.safeParse(reply).success).toBe(true);
    expect(calls).toEqual([]);
  });

  it("refuses an unknown command, echoing the id", async () => {
    const { r } = router();
    const reply = await r.handle("reboot", enc({ id: "r1" }));
    expect(reply).toMatchObject({ ok: false, id: "r1", command: "reboot", error: { code: "unknown_command" } });
  });

  it.each([
    [{ threshold: 0.5 }, true],
    [{ threshold: 0 }, true],
    [{ threshold: 1, uncertain_band: 0.05 }, true],
    [{ threshold: 1.5 }, false],
    [{ threshold: -0.1 }, false],
    [{ threshold: "0.5" }, false],
    [{}, false],
    [{ threshold: 0.5, uncertain_band: -1 }, false],
    [{ threshold: 0.5, uncertain_band: 0.9 }, false],
    [{ threshold: 0.5, extra: 1 }, false],
  ])("validates set_threshold %j", async (args, ok) => {
    const { r } = router();
    const reply = await r.handle("set_threshold", enc(args));
    expect(reply.ok).toBe(ok);
    if (!reply.ok) expect(reply.error.code).toBe("invalid_args");
  });

  it.each(COMMAND_NAMES.filter((n) => n !== "set_threshold"))("%s takes no arguments besides id", async (name) => {
    const { r } = router();
    const reply = await r.handle(name, enc({ id: "x", arg: 1 }));
    expect(reply).toMatchObject({ ok: false, id: "x", error: { code: "invalid_args" } });
  });

  it("turns a handler's CommandError into its code, and any other throw into internal", async () => {
    const { r } = router();
    expect(await r.handle("snapshot", enc({ id: "s" }))).toMatchObject({
      ok: false,
      id: "s",
      error: { code: "paused" },
    });
    const broken = new CommandRouter({
      ...handlers(),
      ping: () => {
        throw new Error("boom");
      },
    });
    expect(await broken.handle("ping", enc({}))).toMatchObject({
      ok: false,
      error: { code: "internal", message: "boom" },
    });
  });

  it("rate-limits with a token bucket and recovers", async () => {
    const { r, advance, calls } = router({ ratePerS: 50, burst: 50 });
    const replies = await Promise.all(Array.from({ length: 1000 }, (_, i) => r.handle("ping", enc({ id: `${i}` }))));
    expect(replies.filter((x) => x.ok)).toHaveLength(50);
    const limited = replies.filter((x) => !x.ok);
    expect(limited).toHaveLength(950);
    expect(limited.every((x) => !x.ok && x.error.code === "rate_limited")).toBe(true);
    // Small rate-limited requests still get their id echoed.
    expect(limited[0]?.id).toBe("50");
    expect(calls).toHaveLength(50);
    advance(100); // 5 tokens
    const after = await Promise.all(Array.from({ length: 10 }, () => r.handle("ping", enc({}))));
    expect(after.filter((x) => x.ok)).toHaveLength(5);
  });

  it("names the command after the topic's last segment", () => {
    expect(commandNameOf("linesight/line-7/cmd/ping")).toBe("ping");
    expect(commandNameOf("linesight/all/cmd/set_threshold")).toBe("set_threshold");
  });
});

describe("redactedConfig", () => {
  it("masks the broker URL's password and leaves the config untouched", () => {
    const config = configSchema.parse({
      device: { id: "d" },
      model: { path: "/m" },
      storage: { path: "/s.db" },
      mqtt: { url: "mqtt://user:s3cret@broker:1883", password_file: "/etc/pw" },
    });
    const out = redactedConfig(config);
    expect(JSON.stringify(out)).not.toContain("s3cret");
    expect(out.mqtt.url).toBe("mqtt://user:***@broker:1883");
    expect(config.mqtt.url).toBe("mqtt://user:s3cret@broker:1883");
  });
});

describe("MQTT 5 response topics", () => {
  const ok = (t: string) => responseTopicAllowed(t, "linesight/cam-1", "linesight/all");
  it("answers on the caller's own topics and on this device's reply topics", () => {
    expect(ok("scada/replies/42")).toBe(true);
    expect(ok("linesight/cam-1/cmd/ping/reply")).toBe(true);
  });
  it("never publishes over the device's telemetry, into command topics, on wildcards or $ topics", () => {
    for (const t of [
      "linesight/cam-1/state",
      "linesight/cam-1/health",
      "linesight/cam-1/cmd/pause",
      "linesight/cam-1",
      "linesight/all/cmd/pause",
      "a/+/b",
      "a/#",
      "$SYS/x",
      "",
      "x".repeat(600),
    ])
      expect(ok(t), t).toBe(false);
  });
});

describe("requests above mqtt.max_message_kb", () => {
  it("get a too_large reply without an id, within the rate limit", () => {
    let t = 0;
    const r = new CommandRouter(handlers([]), { now: () => t, ratePerS: 2, burst: 2 });
    const first = r.tooLarge("ping", 10_000_000, 8_388_608);
    expect(first).toMatchObject({ id: null, command: "ping", ok: false, error: { code: "too_large" } });
    expect(commandReplyPayloadSchema.safeParse(first).success).toBe(true);
    expect(r.tooLarge("ping", 10_000_000, 8_388_608)).not.toBeNull();
    expect(r.tooLarge("ping", 10_000_000, 8_388_608)).toBeNull(); // a flood gets no flood of replies
    t += 1000;
    expect(r.tooLarge("ping", 10_000_000, 8_388_608)).not.toBeNull();
  });

  it("are matched to the command filters by MQTT's rules", () => {
    expect(topicMatches("linesight/all/cmd/+", "linesight/all/cmd/ping")).toBe(true);
    expect(topicMatches("linesight/all/cmd/+", "linesight/all/cmd/ping/reply")).toBe(false);
    expect(topicMatches("linesight/all/cmd/+", "linesight/all/cmd")).toBe(false);
    expect(topicMatches("linesight/#", "linesight/x/cmd/ping")).toBe(true);
    expect(topicMatches("linesight/d1/cmd/+", "linesight/d2/cmd/ping")).toBe(false);
  });
});

describe("model_install", () => {
  const seen: { bytes: number; first: number; downgrade: boolean }[] = [];
  function installRouter(installMaxBytes: number) {
    const h = handlers();
    h.model_install = async (a) => {
      seen.push({ bytes: a.bundle.byteLength, first: a.bundle[0] ?? -1, downgrade: a.allow_downgrade });
      return { installed: "m@1.0.0" };
    };
    return new CommandRouter(h, { installMaxBytes });
  }

  it("takes the raw bundle bytes above the 64 KiB command limit, up to its own limit", async () => {
    const r = installRouter(200_000);
    const bundle = Buffer.alloc(150_000, 0x62); // a tar starts with its first file's name ("bundle.json")
    expect(await r.handle("model_install", bundle)).toMatchObject({
      ok: true,
      id: null,
      result: { installed: "m@1.0.0" },
    });
    expect(seen.at(-1)).toEqual({ bytes: 150_000, first: 0x62, downgrade: false });
    const over = await r.handle("model_install", Buffer.alloc(200_001, 0x62));
    expect(over).toMatchObject({ ok: false, error: { code: "too_large" } });
    expect(!over.ok && over.error.message).toMatch(/model\.max_bundle_mb/);
    // Other commands keep the 64 KiB limit.
    expect(await r.handle("ping", Buffer.alloc(70_000, 0x20))).toMatchObject({ error: { code: "too_large" } });
  });

  it("takes a JSON envelope with the bundle in base64, its id and allow_downgrade", async () => {
    const r = installRouter(200_000);
    const reply = await r.handle(
      "model_install",
      enc({ id: "i-1", bundle_base64: Buffer.from("bundle").toString("base64"), allow_downgrade: true }),
    );
    expect(reply).toMatchObject({ ok: true, id: "i-1" });
    expect(seen.at(-1)).toEqual({ bytes: 6, first: 0x62, downgrade: true });
    expect(await r.handle("model_install", enc({ id: "i-2", bundle_base64: "not base64!" }))).toMatchObject({
      id: "i-2",
      error: { code: "invalid_args" },
    });
    expect(await r.handle("model_install", new Uint8Array())).toMatchObject({ error: { code: "invalid_args" } });
  });

  it("every model command is refused with no_store on a device without a model store", async () => {
    const { r } = router();
    for (const name of ["model_status", "model_gate", "model_promote", "model_rollback", "model_discard"])
      expect(await r.handle(name, enc({ id: name }))).toMatchObject({ id: name, error: { code: "no_store" } });
    expect(await r.handle("model_install", Buffer.from("bundle.json"))).toMatchObject({ error: { code: "no_store" } });
  });
});
