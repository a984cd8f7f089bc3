// Which Host headers the operator server answers (DNS rebinding): a page on another site whose
// name is made to resolve to this device sends its own name as Host, so anything that is not
// one of this device's names or addresses is refused. Pure apart from deviceNames().
import { hostname, networkInterfaces } from "node:os";

/** The host part of a Host header, lower-cased, without port, brackets or a trailing dot; null if malformed. */
export function hostOf(header: string | undefined): string | null {
  if (!header) return null;
  const h = header.trim().toLowerCase();
  let host: string;
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    if (end < 0) return null;
    const rest = h.slice(end + 1);
    if (rest !== "" && !/^:\d{1,5}$/.test(rest)) return null;
    host = h.slice(1, end);
  } else {
    const colon = h.lastIndexOf(":");
    if (colon >= 0 && !/^\d{1,5}$/.test(h.slice(colon + 1))) return null;
    host = colon >= 0 ? h.slice(0, colon) : h;
  }
  host = host.replace(/\.$/, "");
  return host && /^[a-z0-9._:%-]+$/.test(host) ? host : null;
}

/**
 * A list of names: exact names and addresses, `*.example.com` for any name below example.com,
 * `*` for anything (switches the protection off, e.g. behind a proxy that rewrites Host).
 */
export class HostAllowList {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly any: boolean;

  constructor(patterns: Iterable<string>) {
    let any = false;
    for (const p of patterns) {
      const n = p.trim().toLowerCase().replace(/\.$/, "");
      if (n === "*") any = true;
      else if (n.startsWith("*.")) this.suffixes.push(n.slice(1));
      else this.exact.add(n.startsWith("[") && n.endsWith("]") ? n.slice(1, -1) : n);
    }
    this.any = any;
  }

  allows(host: string): boolean {
    return this.any || this.exact.has(host) || this.suffixes.some((s) => host.endsWith(s));
  }
}

/** Loopback, the machine's host name (also as name.local) and every address it has now. */
export function deviceNames(): string[] {
  const names = ["localhost", "127.0.0.1", "::1"];
  const name = hostname().toLowerCase();
  if (name) names.push(name, `${name}.local`, name.split(".")[0] as string);
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) names.push(a.address.toLowerCase().replace(/%.*$/, ""));
  return names;
}

/** Addresses change (DHCP, a cable plugged in): the device's own list is refreshed this often. */
const REFRESH_MS = 30_000;

/** The server's rule: configured names plus the device's own, re-read now and then. */
export class HostPolicy {
  private list: HostAllowList;
  private at: number;

  constructor(
    private readonly configured: readonly string[],
    private readonly own: () => string[] = deviceNames,
    private readonly now: () => number = Date.now,
  ) {
    this.at = now();
    this.list = this.build();
  }

  /** Null when the Host header is acceptable, else why not (for the 421 answer). */
  problem(header: string | undefined): string | null {
    const host = hostOf(header);
    if (host === null)
      return header ? `malformed Host header "${header.slice(0, 100)}"` : "missing Host header (use HTTP/1.1)";
    if (this.list.allows(host)) return null;
    if (this.now() - this.at > REFRESH_MS) {
      this.at = this.now();
      this.list = this.build();
      if (this.list.allows(host)) return null;
    }
    return `this device does not answer to "${host}": open it by its address or host name, or add "${host}" to http.allowed_hosts`;
  }

  private build(): HostAllowList {
    return new HostAllowList([...this.configured, ...this.own()]);
  }
}
