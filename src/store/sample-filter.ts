// Filters of the labeling page and of `linesight samples export`, parsed from query strings or
// CLI options and turned into one SQL WHERE clause. Pure. Values are always bound parameters.
import { SAMPLE_REASONS, type SampleReason } from "./types.js";

export interface SampleFilter {
  /** Any of these reasons; empty = all. */
  reasons: SampleReason[];
  /** What the line did; null = either. */
  action: "pass" | "reject" | null;
  /** Only uncertain (true) or only confident (false) decisions; null = both. */
  uncertain: boolean | null;
  labeled: "any" | "labeled" | "unlabeled";
  /** Newest human label equals this; implies labeled. */
  label: string | null;
  /** captured_at range, ms since epoch; `to` exclusive. */
  from: number | null;
  to: number | null;
  /** Only samples not exported yet. */
  notExported: boolean;
}

export const NO_FILTER: SampleFilter = {
  reasons: [],
  action: null,
  uncertain: null,
  labeled: "any",
  label: null,
  from: null,
  to: null,
  notExported: false,
};

export class FilterError extends Error {
  override readonly name = "FilterError";
}

/** The newest label of sample `s`: a person may relabel, the last word counts. */
export const LATEST_LABEL_JOIN = "LEFT JOIN labels AS l ON l.id = (SELECT max(id) FROM labels WHERE sample_id = s.id)";

export function filterToSql(f: SampleFilter): { where: string; params: (string | number)[] } {
  const parts: string[] = [];
  const params: (string | number)[] = [];
  if (f.reasons.length > 0) {
    parts.push(`s.reason IN (${f.reasons.map(() => "?").join(", ")})`);
    params.push(...f.reasons);
  }
  if (f.action) {
    parts.push("s.action = ?");
    params.push(f.action);
  }
  if (f.uncertain !== null) {
    parts.push("s.uncertain = ?");
    params.push(f.uncertain ? 1 : 0);
  }
  if (f.label !== null) {
    parts.push("l.label = ?");
    params.push(f.label);
  } else if (f.labeled === "labeled") parts.push("l.id IS NOT NULL");
  else if (f.labeled === "unlabeled") parts.push("l.id IS NULL");
  if (f.from !== null) {
    parts.push("s.captured_at >= ?");
    params.push(f.from);
  }
  if (f.to !== null) {
    parts.push("s.captured_at < ?");
    params.push(f.to);
  }
  if (f.notExported) parts.push("s.exported_at IS NULL");
  return { where: parts.length ? `WHERE ${parts.join(" AND ")}` : "", params };
}

/**
 * From key/value pairs (URL query or CLI options): reason=reject,audit decision=reject|pass|uncertain
 * labeled=yes|no label=good from=2026-11-01 to=2026-11-02 (dates or ISO times; `to` is exclusive,
 * a bare date means the whole day) not_exported=1. Unknown values are errors naming the key.
 */
export function parseFilter(get: (key: string) => string | null | undefined): SampleFilter {
  const f: SampleFilter = { ...NO_FILTER, reasons: [] };
  const reason = get("reason");
  if (reason) {
    for (const r of reason
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean)) {
      if (!(SAMPLE_REASONS as readonly string[]).includes(r))
        throw new FilterError(`reason: unknown reason "${r}"; expected any of ${SAMPLE_REASONS.join(", ")}`);
      f.reasons.push(r as SampleReason);
    }
  }
  const decision = get("decision");
  if (decision) {
    if (decision === "pass" || decision === "reject") f.action = decision;
    else if (decision === "uncertain") f.uncertain = true;
    else if (decision === "confident") f.uncertain = false;
    else throw new FilterError(`decision: expected pass, reject, uncertain or confident, got "${decision}"`);
  }
  const labeled = get("labeled");
  if (labeled) {
    if (["yes", "true", "1", "labeled"].includes(labeled)) f.labeled = "labeled";
    else if (["no", "false", "0", "unlabeled"].includes(labeled)) f.labeled = "unlabeled";
    else if (labeled === "any") f.labeled = "any";
    else throw new FilterError(`labeled: expected yes, no or any, got "${labeled}"`);
  }
  const label = get("label");
  if (label) f.label = label;
  const from = get("from");
  if (from) f.from = parseTime("from", from, false);
  const to = get("to");
  if (to) f.to = parseTime("to", to, true);
  const ne = get("not_exported");
  if (ne && ["yes", "true", "1"].includes(ne)) f.notExported = true;
  return f;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

function parseTime(key: string, text: string, endOfDay: boolean): number {
  // A bare date is local midnight (what a person at the line means); `to` takes the whole day.
  const ms = DATE_ONLY.test(text) ? new Date(`${text}T00:00:00`).getTime() : Date.parse(text);
  if (!Number.isFinite(ms))
    throw new FilterError(`${key}: expected a date (2026-11-24) or an ISO time (2026-11-24T08:00), got "${text}"`);
  return DATE_ONLY.test(text) && endOfDay ? ms + 86_400_000 : ms;
}
