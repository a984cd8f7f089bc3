import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { configProblems } from "../helpers/config.js";

const problems = (http: unknown): string[] => configProblems({ device: { id: "cam-1" }, http });

describe("http configuration", () => {
  it("defaults to the page on loopback, open for viewing, token generated", () => {
    const { config } = parseConfig({ device: { id: "cam-1" } }, "test.yaml", "/etc/linesight");
    expect(config.http).toEqual({
      enabled: true,
      host: "127.0.0.1",
      port: 8080,
      token_file: null,
      token_credential: null,
      read_only_open: true,
      live_max_rate_hz: 10,
      allowed_hosts: [],
      secure_cookie: false,
      trusted_proxies: [],
    });
  });

  it("resolves the token file against the config's directory", () => {
    const { config } = parseConfig(
      { device: { id: "cam-1" }, http: { token_file: "http-token" } },
      "test.yaml",
      "/etc/linesight",
    );
    expect(config.http.token_file).toBe("/etc/linesight/http-token");
  });

  it("names the key and the fix", () => {
    expect(problems({ token_file: "/a", token_credential: "b" })).toEqual([
      expect.stringMatching(/^http\.token_credential: set either token_file or token_credential, not both/),
    ]);
    expect(problems({ port: 70000 })[0]).toMatch(/^http\.port: /);
    expect(problems({ token: "secret" })[0]).toMatch(/^http\.token: secrets are not allowed .* token_file/);
    expect(problems({ prot: 80 })[0]).toMatch(/did you mean "port"/);
    expect(problems({ allowed_hosts: ["http://pi.local/"] })[0]).toMatch(
      /^http\.allowed_hosts\.0: expected a host name/,
    );
    expect(problems({ trusted_proxies: ["proxy.local"] })[0]).toMatch(
      /^http\.trusted_proxies\.0: expected an IP address/,
    );
    expect(problems({ allowed_hosts: ["line7.example", "*.plant.example", "10.0.0.5", "[fd00::1]"] })).toEqual([]);
  });
});
