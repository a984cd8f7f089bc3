// Plain node:http requests where fetch() cannot go: a chosen Host header, a chosen local
// address (another "client" on 127.0.0.2), the raw response.
import { request } from "node:http";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function rawRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: opts.method ?? "GET", headers: opts.headers ?? {}, localAddress: opts.localAddress, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    // A Buffer: Node would otherwise send the headers in the string body's encoding (UTF-8), not byte for byte.
    req.end(opts.body === undefined ? undefined : Buffer.from(opts.body));
  });
}
