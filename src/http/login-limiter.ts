// Failed token attempts per client: a few are free (people mistype), then each further one
// makes the client wait twice as long, up to a limit. Pure: the clock is passed in.
import { isIP } from "node:net";

export interface LoginLimiterOptions {
  /** Wrong tokens a client may send (in a row) before it has to wait. */
  freeFailures: number;
  /** The first wait; each further failure doubles it. */
  firstBlockMs: number;
  maxBlockMs: number;
  /** A client's failures are forgotten this long after its last one. */
  forgetAfterMs: number;
  /** Clients tracked at most (the oldest is forgotten first): memory stays bounded under a flood. */
  maxClients: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimiterOptions = {
  freeFailures: 5,
  firstBlockMs: 10_000,
  maxBlockMs: 15 * 60_000,
  forgetAfterMs: 15 * 60_000,
  maxClients: 10_000,
};

interface Record {
  failures: number;
  last: number;
  blockedUntil: number;
}

export class LoginLimiter {
  private readonly clients = new Map<string, Record>();

  constructor(private readonly opts: LoginLimiterOptions = DEFAULT_LOGIN_LIMITS) {}

  /** How long this client must still wait before its token is checked again; 0 when it may try. */
  waitMs(client: string, now: number): number {
    const r = this.clients.get(client);
    if (!r) return 0;
    if (now - r.last > this.opts.forgetAfterMs && now >= r.blockedUntil) {
      this.clients.delete(client);
      return 0;
    }
    return Math.max(0, r.blockedUntil - now);
  }

  /** Counts a wrong token; returns the wait it causes (0 while the client may still try). */
  failed(client: string, now: number): number {
    let r = this.clients.get(client);
    if (r && now - r.last > this.opts.forgetAfterMs && now >= r.blockedUntil) r = undefined;
    if (!r) {
      if (this.clients.size >= this.opts.maxClients) this.clients.delete(this.clients.keys().next().value as string);
      r = { failures: 0, last: now, blockedUntil: 0 };
    }
    this.clients.delete(client); // re-inserted: the map stays in order of last failure
    r.failures++;
    r.last = now;
    const over = r.failures - this.opts.freeFailures + 1;
    if (over > 0) {
      const wait = Math.min(this.opts.maxBlockMs, this.opts.firstBlockMs * 2 ** Math.min(over - 1, 30));
      r.blockedUntil = now + wait;
    }
    this.clients.set(client, r);
    return Math.max(0, r.blockedUntil - now);
  }

  /** The right token: the client's earlier failures are forgotten. */
  succeeded(client: string): void {
    this.clients.delete(client);
  }

  /** Clients that must wait right now. */
  blocked(now: number): number {
    let n = 0;
    for (const r of this.clients.values()) if (r.blockedUntil > now) n++;
    return n;
  }
}

/**
 * Who the client is: the peer's address, or, when the peer is a trusted reverse proxy, the
 * nearest address in X-Forwarded-For that is not one of the trusted proxies.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: ReadonlySet<string>,
): string {
  const addr = normalizeAddress(peer ?? "unknown");
  if (!trusted.has(addr) || forwardedFor === undefined) return addr;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
    .split(",")
    .map((h) => normalizeAddress(h.trim()))
    .filter((h) => h);
  for (let i = hops.length - 1; i >= 0; i--) if (!trusted.has(hops[i] as string)) return hops[i] as string;
  return addr;
}

/**
 * What the limit counts per: an IPv4 address, or an IPv6 /64 (one machine can take any number
 * of addresses in its /64, so a per-address limit would not hold it).
 */
export function limitKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = "", tail] = address.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/** IPv4 seen through an IPv6 socket (::ffff:1.2.3.4) is the same client as 1.2.3.4. */
export function normalizeAddress(a: string): string {
  const s = a.toLowerCase();
  return s.startsWith("::ffff:") && s.includes(".") ? s.slice(7) : s;
}
