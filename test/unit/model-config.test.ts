// The model.* keys for signed bundles, the store and the gate.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { configProblems } from "../helpers/config.js";

describe("model store configuration", () => {
  it("defaults leave today's behaviour: no store, the folder at model.path", () => {
    const { model } = parseConfig({ device: { id: "a" } }, "t", "/etc/linesight").config;
    expect(model).toMatchObject({
      store: null,
      trusted_keys: [],
      allow_unsigned: false,
      keep_versions: 3,
      max_bundle_mb: 7,
    });
    expect(model.gate).toEqual({
      max_missed_defect_increase: 0.005,
      max_false_reject_increase: 0.01,
      significance: 0.05,
      min_defects: 30,
      min_good: 100,
      too_few_labels: "refuse",
      max_samples: 5000,
    });
  });

  it("resolves the store and every trusted key against the config file's directory", () => {
    const { model } = parseConfig(
      { device: { id: "a" }, model: { store: "models", trusted_keys: ["keys/2026.pub", "/abs/2027.pub"] } },
      "t",
      "/etc/linesight",
    ).config;
    expect(model.store).toBe("/etc/linesight/models");
    expect(model.trusted_keys).toEqual(["/etc/linesight/keys/2026.pub", "/abs/2027.pub"]);
  });

  it("says how to fix a store that could never accept a bundle, and bad gate values", () => {
    expect(configProblems({ device: { id: "a" }, model: { store: "/var/lib/linesight/models" } })).toEqual([
      expect.stringMatching(
        /^model\.trusted_keys: model\.store is set but no key is trusted, .*linesight model keygen.*model\.allow_unsigned: true/,
      ),
    ]);
    expect(configProblems({ device: { id: "a" }, model: { store: "/s", allow_unsigned: true } })).toEqual([]);
    expect(configProblems({ device: { id: "a" }, model: { keep_versions: 1 } })[0]).toMatch(/^model\.keep_versions: /);
    expect(configProblems({ device: { id: "a" }, model: { gate: { too_few_labels: "maybe" } } })[0]).toMatch(
      /^model\.gate\.too_few_labels: /,
    );
  });
});

describe("model bundles over MQTT", () => {
  const base = { device: { id: "a" }, model: { store: "/s", allow_unsigned: true } };
  it("refuses an mqtt.max_message_kb too small for model.max_bundle_mb, naming both keys", () => {
    expect(configProblems({ ...base, model: { ...base.model, max_bundle_mb: 32 } })).toEqual([
      expect.stringMatching(
        /^mqtt\.max_message_kb: 8192 KiB is too small for a model bundle of model\.max_bundle_mb \(32 MB\).*at least 32772/,
      ),
    ]);
    expect(
      configProblems({ ...base, model: { ...base.model, max_bundle_mb: 32 }, mqtt: { max_message_kb: 32772 } }),
    ).toEqual([]);
  });

  it("the defaults fit, and without a store nothing is checked", () => {
    expect(configProblems(base)).toEqual([]);
    expect(configProblems({ device: { id: "a" }, model: { max_bundle_mb: 100 } })).toEqual([]);
  });
});
