// One redaction rule for everything that shows config or command lines (issue 14, item 1).
import { describe, expect, it } from "vitest";
import { describeCommand, ffmpegCommand, urlWithPassword } from "../../src/camera/commands.js";
import { LineTail } from "../../src/camera/line-tail.js";
import { isSecretKey, redactArgs, redactConfig, redactText } from "../../src/config/redact.js";
import { configSchema } from "../../src/config/schema.js";
import { redactedConfig } from "../../src/mqtt/commands.js";
import { configProblems } from "../helpers/config.js";

const base = { device: { id: "d" }, model: { path: "/m" }, storage: { path: "/s.db" } };

describe("isSecretKey", () => {
  it("names secrets in any spelling", () => {
    for (const k of [
      "password",
      "user-pw",
      "proxy-pw",
      "passwd",
      "apiKey",
      "api_key",
      "token",
      "secret",
      "credential",
      "Authorization",
      "--password",
      "client.secret",
    ])
      expect(isSecretKey(k), k).toBe(true);
  });
  it("leaves references to secrets and ordinary keys readable", () => {
    for (const k of [
      "password_file",
      "password_credential",
      "key_file",
      "token_file",
      "key_credential",
      "keepalive_s",
      "monkey",
      "user-id",
      "location",
      "url",
      "passthrough",
    ])
      expect(isSecretKey(k), k).toBe(false);
  });
});

describe("redactText", () => {
  it("masks user info in any URL, keeping the user when there is a password", () => {
    expect(redactText("rtsp://admin:secret@cam:554/s")).toBe("rtsp://admin:***@cam:554/s");
    expect(redactText("go to https://ghp_abc123@host/x now")).toBe("go to https://***@host/x now");
    expect(redactText("rtsp://admin:p@ss@cam/s")).toBe("rtsp://admin:***@cam/s");
    expect(redactText("rtsp://cam/s user@example")).toBe("rtsp://cam/s user@example");
  });
  it("masks secret name=value pairs: GStreamer properties, URL parameters, options", () => {
    expect(redactText("rtspsrc location=rtsp://cam/s user-id=op user-pw=hunter2 ! fakesink")).toBe(
      "rtspsrc location=rtsp://cam/s user-id=op user-pw=*** ! fakesink",
    );
    expect(redactText("rtsp://cam/s?channel=1&token=abc&x=2")).toBe("rtsp://cam/s?channel=1&token=***&x=2");
    expect(redactText("--password=abc")).toBe("--password=***");
    expect(redactText(`proxy-pw="two words" next`)).toBe("proxy-pw=*** next");
    expect(redactText("Authorization: Basic YWRtaW4=")).toBe("Authorization: ***");
  });
});

describe("redactArgs", () => {
  it("masks the value after a secret option and leaves others", () => {
    expect(redactArgs(["--awb", "auto", "--password", "x1", "--token=x2", "-key", "x3"])).toEqual([
      "--awb",
      "auto",
      "--password",
      "***",
      "--token=***",
      "-key",
      "***",
    ]);
  });
});

describe("get_config's redaction", () => {
  const config = configSchema.parse({
    ...base,
    camera: {
      source: "ffmpeg",
      ffmpeg: { input: "rtsp", url: "rtsp://admin:s1@cam/stream?auth=s2" },
      gstreamer: {
        element: "custom",
        pipeline: "rtspsrc location=rtsp://u:s3@cam/s proxy-pw=s4",
        properties: { "user-pw": "s5", "user-id": "operator" },
      },
      libcamera: { extra_args: ["--password", "s6", "--awb", "auto"] },
    },
    mqtt: { url: "mqtt://dev:s7@broker:1883", password_file: "/etc/linesight/mqtt-password" },
  });

  it("shows no secret anywhere in the config and keeps everything else", () => {
    const out = redactedConfig(config);
    const text = JSON.stringify(out);
    for (const s of ["s1", "s2", "s3", "s4", "s5", "s6", "s7"]) expect(text).not.toMatch(new RegExp(`\\b${s}\\b`));
    expect(out.camera.ffmpeg.url).toBe("rtsp://admin:***@cam/stream?auth=***");
    expect(out.camera.gstreamer.properties).toEqual({ "user-pw": "***", "user-id": "operator" });
    expect(out.camera.libcamera.extra_args).toEqual(["--password", "***", "--awb", "auto"]);
    expect(out.mqtt.url).toBe("mqtt://dev:***@broker:1883");
    expect(out.mqtt.password_file).toBe("/etc/linesight/mqtt-password");
    expect(out.mqtt.keepalive_s).toBe(config.mqtt.keepalive_s);
    expect(out.decision).toEqual(config.decision);
  });

  it("is a copy: the running config keeps its values", () => {
    redactConfig(config);
    expect(config.camera.ffmpeg.url).toBe("rtsp://admin:s1@cam/stream?auth=s2");
  });
});

describe("camera password from a file", () => {
  it("is inserted, percent-encoded, after the URL's user only in the command, and masked when described", () => {
    expect(urlWithPassword("rtsp://admin@cam:554/s/1", "p@ss/w:rd")).toBe("rtsp://admin:p%40ss%2Fw%3Ard@cam:554/s/1");
    const f = configSchema.parse({ ...base, camera: { ffmpeg: { input: "rtsp", url: "rtsp://admin@cam/s" } } }).camera
      .ffmpeg;
    const cmd = ffmpegCommand(f, { ffmpegPassword: "hunter2" });
    expect(cmd.args).toContain("rtsp://admin:hunter2@cam/s");
    expect(describeCommand(cmd)).toContain("rtsp://admin:***@cam/s");
    expect(describeCommand(cmd)).not.toContain("hunter2");
    expect(ffmpegCommand(f).args).toContain("rtsp://admin@cam/s");
  });

  it("the config says what is wrong and how to fix it", () => {
    const problems = (ffmpeg: object) =>
      configProblems({ ...base, camera: { source: "ffmpeg", ffmpeg: { input: "rtsp", ...ffmpeg } } }).join("\n");
    expect(problems({ url: "rtsp://cam/s", password_file: "/p" })).toMatch(
      /camera\.ffmpeg\.url.*needs the user name in the URL: rtsp:\/\/USER@host/,
    );
    expect(problems({ url: "rtsp://a:b@cam/s", password_file: "/p" })).toMatch(
      /camera\.ffmpeg\.url.*remove ":password"/,
    );
    expect(problems({ url: "rtsp://a@cam/s", password_file: "/p", password_credential: "cam" })).toMatch(
      /password_credential.*not both/,
    );
    expect(problems({ url: "rtsp://a@cam/s", password_credential: "cam" })).toBe("");
    expect(configProblems({ ...base, camera: { ffmpeg: { input: "v4l2", password_file: "/p" } } }).join("\n")).toMatch(
      /camera\.ffmpeg\.password_file.*only with input: rtsp/,
    );
  });
});

describe("the capture program's stderr", () => {
  it("is kept redacted: ffmpeg repeats the camera URL in its errors", () => {
    const tail = new LineTail();
    tail.push("rtsp://admin:hunter2@cam/s: Server returned 401 Unauthorized\nrtsp://admin:hunter3@cam");
    expect(tail.get()).toEqual(["rtsp://admin:***@cam/s: Server returned 401 Unauthorized", "rtsp://admin:***@cam"]);
  });
});
