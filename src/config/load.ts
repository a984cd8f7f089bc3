// Reads, validates and resolves the YAML configuration; every problem is reported at once with
// its key path and what is expected.
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { UserFacingError } from "../errors.js";
import { type Config, configSchema, PATH_KEYS } from "./schema.js";

export interface LoadedConfig {
  config: Config;
  /** The file it came from, or a description of the built-in defaults. */
  source: string;
}

export class ConfigError extends UserFacingError {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(
      `${source}: ${problems.length} problem(s) in the configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`,
    );
  }
}

const SECRET_KEY = /pass(word)?|secret|token/i;

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** The object schema's keys at a path (unwrapping defaults, nullables and refinements). */
function keysAt(path: readonly PropertyKey[]): string[] {
  let s: unknown = configSchema;
  const unwrap = (x: unknown): unknown => {
    let cur = x as { def?: { innerType?: unknown; in?: unknown }; shape?: unknown };
    while (cur && !cur.shape && cur.def && (cur.def.innerType || cur.def.in)) {
      cur = (cur.def.innerType ?? cur.def.in) as typeof cur;
    }
    return cur;
  };
  s = unwrap(s);
  for (const key of path) {
    const shape = (s as { shape?: Record<string, unknown> }).shape;
    if (!shape) return [];
    s = unwrap(shape[String(key)]);
  }
  const shape = (s as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const k of path) v = v && typeof v === "object" ? (v as Record<string, unknown>)[String(k)] : undefined;
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  const text = JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function problemsOf(error: z.ZodError, raw: unknown): string[] {
  const out: string[] = [];
  for (const issue of error.issues) {
    const at = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const full = at ? `${at}.${key}` : key;
        if (SECRET_KEY.test(key) && !key.endsWith("_file") && !key.endsWith("_credential")) {
          out.push(
            `${full}: secrets are not allowed in the config file (it gets copied and logged); put it in a file readable only by the service and set ${key}_file, or use a systemd credential with ${key}_credential`,
          );
          continue;
        }
        const known = keysAt(issue.path);
        const close = known
          .map((k) => ({ k, d: editDistance(k, key) }))
          .filter((x) => x.d <= Math.max(2, Math.floor(key.length / 3)))
          .sort((a, b) => a.d - b.d)[0];
        out.push(
          `${full}: unknown key${close ? `; did you mean "${close.k}"?` : ""} (known here: ${known.join(", ") || "none"})`,
        );
      }
      continue;
    }
    const got = valueAt(raw, issue.path);
    const message = issue.code === "invalid_type" && got === undefined ? "required, but missing" : issue.message;
    out.push(`${at || "(top level)"}: ${message}${got === undefined ? "" : `, got ${describe(got)}`}`);
  }
  return out;
}

function resolvePaths(config: Config, baseDir: string): Config {
  const copy = structuredClone(config) as Record<string, Record<string, unknown>>;
  for (const keyPath of PATH_KEYS) {
    let holder: Record<string, unknown> = copy;
    for (const k of keyPath.slice(0, -1)) holder = holder[k] as Record<string, unknown>;
    const last = keyPath[keyPath.length - 1] as string;
    const v = holder[last];
    if (typeof v === "string" && !isAbsolute(v)) holder[last] = resolve(baseDir, v);
    // A list of paths (model.trusted_keys): each resolved the same way.
    if (Array.isArray(v))
      holder[last] = v.map((p) => (typeof p === "string" && !isAbsolute(p) ? resolve(baseDir, p) : p));
  }
  return copy as unknown as Config;
}

/** Validates already-parsed YAML. Pure apart from path resolution against `baseDir`. */
export function parseConfig(raw: unknown, source: string, baseDir: string): LoadedConfig {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(source, ["(top level): expected a mapping of sections (device:, camera:, ...)"]);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, problemsOf(result.error, raw));
  return { config: resolvePaths(result.data, baseDir), source };
}

export async function loadConfig(file: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [
      code === "ENOENT"
        ? "file not found; copy config/linesight.example.yaml there and edit it, or pass --config"
        : `cannot read the file (${code ?? (err as Error).message})`,
    ]);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return `${pos ? `line ${pos.line}, column ${pos.col}` : "YAML"}: ${e.message.split("\n")[0]}`;
      }),
    );
  }
  return parseConfig(doc.toJS(), file, dirname(resolve(file)));
}

/** The demo: bundled footage and model, a database under data/, the embedded broker. */
export function builtinConfig(packageRoot: string): LoadedConfig {
  return parseConfig(
    {
      device: { id: "demo", site: "demo", line: "demo" },
      camera: { replay: { path: "footage/round-parts" } },
      model: { path: "models/round-parts" },
      storage: { path: "data/linesight.db", max_mb: 256 },
      // The bundled footage is 40% defective parts so the demo shows rejects; a real line has far fewer.
      drift: { defect_prevalence: 0.4 },
    },
    "built-in demo defaults (no --config and no /etc/linesight/config.yaml)",
    packageRoot,
  );
}
