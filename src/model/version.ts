// Model versions (semver-like MAJOR.MINOR.PATCH[-pre][+build]) and rollback protection. Pure.
import { UserFacingError } from "../errors.js";

export const VERSION_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/;

export interface ModelVersion {
  major: number;
  minor: number;
  patch: number;
  pre: string[];
  text: string;
}

export class VersionError extends UserFacingError {}

export function parseVersion(text: string): ModelVersion {
  const m = VERSION_PATTERN.exec(text);
  if (!m || text.length > 64)
    throw new VersionError(`model version "${text}" is not MAJOR.MINOR.PATCH (e.g. 1.4.0 or 2.0.0-rc.1)`);
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split(".") : [], text };
}

/** Semver precedence: negative when a < b; build metadata is ignored. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  for (const k of ["major", "minor", "patch"] as const) if (x[k] !== y[k]) return x[k] - y[k];
  // A pre-release sorts before its release.
  if (x.pre.length === 0 || y.pre.length === 0) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.min(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i] as string;
    const q = y.pre[i] as string;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1; // numeric identifiers sort first
    return p < q ? -1 : 1;
  }
  return x.pre.length - y.pre.length;
}

/**
 * Rollback protection: the reason to refuse `candidate` next to the `active` version, or null.
 * An older version (a replayed old bundle, or a mistake) needs `allowDowngrade`.
 */
export function downgradeRefusal(candidate: string, active: string | null, allowDowngrade: boolean): string | null {
  if (active === null || allowDowngrade) return null;
  if (compareVersions(candidate, active) < 0)
    return `version ${candidate} is older than the active model's ${active}; refused as a rollback (ask for a downgrade explicitly to install it)`;
  return null;
}
