import { describe, expect, it } from "vitest";
import { deviceNames, HostAllowList, HostPolicy, hostOf } from "../../src/http/allowed-hosts.js";

describe("Host headers", () => {
  it("are reduced to the host: no port, no brackets, no trailing dot, lower case", () => {
    expect(hostOf("Pi.Local:8080")).toBe("pi.local");
    expect(hostOf("pi.local.")).toBe("pi.local");
    expect(hostOf("[::1]:8080")).toBe("::1");
    expect(hostOf("[FE80::1]")).toBe("fe80::1");
    expect(hostOf("10.0.0.7")).toBe("10.0.0.7");
    expect(hostOf(undefined)).toBeNull();
    expect(hostOf("")).toBeNull();
    expect(hostOf("evil.example:80x")).toBeNull();
    expect(hostOf("[::1")).toBeNull();
    expect(hostOf("a b")).toBeNull();
  });
});

describe("the allowed hosts", () => {
  it("take exact names, *.domain and *", () => {
    const l = new HostAllowList(["Line7.Factory.Example", "*.plant.example", "[fd00::5]"]);
    expect(l.allows("line7.factory.example")).toBe(true);
    expect(l.allows("cam.plant.example")).toBe(true);
    expect(l.allows("plant.example.evil")).toBe(false);
    expect(l.allows("evilplant.example")).toBe(false);
    expect(l.allows("fd00::5")).toBe(true);
    expect(l.allows("rebind.attacker.example")).toBe(false);
    expect(new HostAllowList(["*"]).allows("anything.example")).toBe(true);
  });

  it("include the device's loopback names, host name and addresses by default", () => {
    const names = deviceNames();
    expect(names).toEqual(expect.arrayContaining(["localhost", "127.0.0.1", "::1"]));
    const policy = new HostPolicy([]);
    for (const h of ["localhost:8080", "127.0.0.1:8080", "[::1]:8080", names[3] as string])
      expect(policy.problem(h), h).toBeNull();
  });

  it("refuse any other name, saying which key accepts it, and notice new addresses", () => {
    let own = ["localhost"];
    let now = 0;
    const policy = new HostPolicy(
      ["screen.example"],
      () => own,
      () => now,
    );
    expect(policy.problem("screen.example:8080")).toBeNull();
    expect(policy.problem("rebind.example:8080")).toMatch(/does not answer to "rebind.example".*http\.allowed_hosts/);
    expect(policy.problem(undefined)).toMatch(/missing Host/);
    own = ["localhost", "10.1.2.3"];
    expect(policy.problem("10.1.2.3")).not.toBeNull(); // not re-read yet
    now = 60_000;
    expect(policy.problem("10.1.2.3")).toBeNull();
  });
});
