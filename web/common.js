// Shared by both pages: API calls with the anti-forgery header, and number formatting.
export async function api(path, body) {
  const init =
    body === undefined
      ? {}
      : {
          method: "POST",
          headers: { "content-type": "application/json", "x-linesight-request": "1" },
          body: JSON.stringify(body),
        };
  const res = await fetch(path, { credentials: "same-origin", ...init });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(data.error || `HTTP ${res.status}`), { status: res.status });
  return data;
}

export const pct = (x, digits = 1) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(digits)}%`);

/** "2.1% (0.8–5.0%, n=140)" */
export function estimate(e) {
  if (!e || e.n === 0) return "no samples yet";
  return `${pct(e.value)} (${pct(e.low)}–${pct(e.high)}, n=${e.n})`;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}
