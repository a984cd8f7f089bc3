#!/usr/bin/env node
// Writes docs/mqtt-schemas/<topic>.schema.json from the zod payload schemas, using the compiled
// dist/ (`npm run mqtt:schemas` builds first). `--check` only reports stale files and exits 1.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { check: { type: "boolean", default: false } } });
const compiled = join(root, "dist/src/mqtt/json-schemas.js");
if (!existsSync(compiled)) {
  console.error(`${compiled} does not exist: run \`npm run build\` first (or \`npm run mqtt:schemas\`)`);
  process.exit(1);
}
const { JSON_SCHEMA_DIR, jsonSchemaFiles } = await import(pathToFileURL(compiled).href);

const dir = join(root, JSON_SCHEMA_DIR);
const files = jsonSchemaFiles();
const stale = [];
for (const [name, text] of files) {
  const path = join(dir, name);
  if (!existsSync(path) || readFileSync(path, "utf8") !== text) stale.push(name);
}
// A topic that no longer exists must not leave its schema behind.
const orphans = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".schema.json") && !files.has(f)) : [];

if (values.check) {
  for (const f of [...stale, ...orphans]) console.error(`${JSON_SCHEMA_DIR}/${f} is stale`);
  if (stale.length + orphans.length > 0) {
    console.error("regenerate with `npm run mqtt:schemas`");
    process.exit(1);
  }
  console.log(`${JSON_SCHEMA_DIR}: ${files.size} schemas up to date`);
} else {
  mkdirSync(dir, { recursive: true });
  for (const name of stale) writeFileSync(join(dir, name), files.get(name));
  for (const f of orphans) rmSync(join(dir, f));
  const changed = stale.length + orphans.length;
  console.log(`${JSON_SCHEMA_DIR}: ${files.size} schemas, ${changed === 0 ? "none changed" : `${changed} updated`}`);
}
