import { describe, expect, it } from "vitest";
import { clientAddress, LoginLimiter, limitKey } from "../../src/http/login-limiter.js";

const opts = { freeFailures: 3, firstBlockMs: 1000, maxBlockMs: 8000, forgetAfterMs: 60_000, maxClients: 3 };

describe("failed logins per client", () => {
  it("a few are free, then each one doubles the wait, up to the limit", () => {
    const l = new LoginLimiter(opts);
    expect([l.failed("a", 0), l.failed("a", 0)]).toEqual([0, 0]);
    expect(l.waitMs("a", 0)).toBe(0);
    expect(l.failed("a", 0)).toBe(1000);
    expect(l.waitMs("a", 500)).toBe(500);
    expect(l.blocked(500)).toBe(1);
    expect(l.failed("a", 1000)).toBe(2000);
    expect(l.failed("a", 3000)).toBe(4000);
    expect(l.failed("a", 7000)).toBe(8000);
    expect(l.failed("a", 15_000)).toBe(8000);
    expect(l.waitMs("b", 15_000)).toBe(0); // other clients are not affected
  });

  it("forgets a client after the right token or a quiet while", () => {
    const l = new LoginLimiter(opts);
    for (let i = 0; i < 3; i++) l.failed("a", 0);
    l.succeeded("a");
    expect(l.waitMs("a", 0)).toBe(0);
    for (let i = 0; i < 3; i++) l.failed("b", 0);
    expect(l.waitMs("b", 61_000)).toBe(0);
    expect(l.failed("b", 61_000)).toBe(0);
  });

  it("tracks a bounded number of clients", () => {
    const l = new LoginLimiter(opts);
    for (const c of ["a", "b", "c", "d"]) for (let i = 0; i < 3; i++) l.failed(c, 0);
    expect(l.waitMs("a", 1)).toBe(0); // the oldest was let go
    expect(l.waitMs("d", 1)).toBe(999);
  });
});

describe("the client's address", () => {
  const trusted = new Set(["127.0.0.1"]);
  it("is the peer, unless the peer is a trusted proxy", () => {
    expect(clientAddress("::ffff:10.0.0.9", "1.2.3.4", trusted)).toBe("10.0.0.9");
    expect(clientAddress("127.0.0.1", undefined, trusted)).toBe("127.0.0.1");
    expect(clientAddress("127.0.0.1", "6.6.6.6, 10.0.0.9", trusted)).toBe("10.0.0.9");
    expect(clientAddress("::ffff:127.0.0.1", "10.0.0.9, 127.0.0.1", trusted)).toBe("10.0.0.9");
  });
});

describe("what the limit counts per", () => {
  it("is an IPv4 address, or an IPv6 /64 (a machine may take any address in it)", () => {
    expect(limitKey("10.0.0.9")).toBe("10.0.0.9");
    expect(limitKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(limitKey("2001:db8:1:2:bbbb:cccc:dddd:eeee")).toBe("2001:db8:1:2::/64");
    expect(limitKey("fe80::1")).toBe("fe80:0:0:0::/64");
    expect(limitKey("::1")).toBe("0:0:0:0::/64");
  });
});
