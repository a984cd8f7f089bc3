// Labeling page: a queue of stored samples (filters in the URL), one keypress per label in the
// single view, a grid for batch labeling, undo, and the live accuracy estimate from audits.
import { api, el, estimate, pct } from "./common.js";

const $ = (id) => document.getElementById(id);
const PAGE = 60;
const GRID = 12;

const state = {
  choices: [], // [{ label, kind }]: the labels, then the defect label with each kind
  keys: new Map(), // key -> choice
  queue: [], // samples in order
  pos: 0,
  total: null,
  exhausted: false,
  mode: "single",
  selected: new Set(),
  cursor: 0,
  undo: [], // [{ sampleIds, labelIds, pos }]
  done: 0,
};
window.labelState = state; // for the browser test

function filterParams() {
  const f = new FormData($("filters"));
  const p = new URLSearchParams();
  for (const [k, v] of f) if (v && !(k === "labeled" && v === "any")) p.set(k, String(v));
  return p;
}

async function loadMore() {
  if (state.exhausted) return;
  const p = filterParams();
  p.set("limit", String(PAGE));
  const last = state.queue[state.queue.length - 1];
  if (last) p.set("before", String(last.id));
  const r = await api(`/api/samples?${p}`);
  if (r.total !== null) state.total = r.total;
  state.queue.push(...r.samples);
  if (r.samples.length < PAGE) state.exhausted = true;
}

async function reload() {
  Object.assign(state, { queue: [], pos: 0, total: null, exhausted: false, selected: new Set(), cursor: 0 });
  const p = filterParams();
  history.replaceState(null, "", `?${p}`);
  p.delete("labeled");
  $("export").href = `/api/export.tar?${p}`;
  await loadMore();
  show();
}

async function ensure(n) {
  while (state.queue.length < state.pos + n && !state.exhausted) await loadMore();
}

const imageUrl = (s) => `/api/samples/${s.id}/image.jpg`;

function show() {
  $("queue").textContent =
    state.total === null ? "" : `Sample ${Math.min(state.pos + 1, state.queue.length)} of ${state.total} in this queue`;
  $("done").textContent = `Labeled by you this visit: ${state.done}`;
  if (state.mode === "grid") return showGrid();
  const s = state.queue[state.pos];
  if (!s) {
    $("image").removeAttribute("src");
    $("info").replaceChildren(el("p", { class: "now" }, "Nothing (more) to label with these filters."));
    return;
  }
  $("image").src = imageUrl(s);
  $("image").dataset.id = String(s.id);
  // Warm the cache for the next few: a keypress should show the next picture at once.
  for (const n of state.queue.slice(state.pos + 1, state.pos + 4)) new Image().src = imageUrl(n);
  $("info").replaceChildren(
    el(
      "p",
      { class: "now" },
      `Model: ${s.predicted} ${s.score.toFixed(3)} (threshold ${s.threshold}) → ${s.action}${s.uncertain ? ", uncertain" : ""}`,
    ),
    ...(s.candidate_score === null
      ? []
      : [
          el(
            "p",
            { class: "now" },
            `Model on trial: ${s.candidate_score.toFixed(3)} (threshold ${s.candidate_threshold}) → ${s.candidate_action} · ${s.candidate_name} ${s.candidate_version}`,
          ),
        ]),
    el(
      "p",
      {},
      `#${s.id} · kept as ${s.reason} · ${new Date(s.captured_at).toLocaleString()} · ${s.model_name} ${s.model_version}`,
    ),
    el("p", {}, s.label ? `Labeled ${named(s.label, s.label_kind)} by ${s.labeled_by}` : "Not labeled yet"),
  );
}

function showGrid() {
  const page = state.queue.slice(state.pos, state.pos + GRID);
  $("grid").replaceChildren(
    ...page.map((s, i) => {
      const cls = [state.selected.has(s.id) ? "sel" : "", i === state.cursor ? "cur" : ""].join(" ").trim();
      const f = el(
        "figure",
        cls ? { class: cls } : {},
        el("img", { src: imageUrl(s), alt: `sample ${s.id}` }),
        el(
          "figcaption",
          {},
          `${s.predicted} ${s.score.toFixed(2)}${s.candidate_score === null ? "" : ` · trial ${s.candidate_score.toFixed(2)}`}${s.label ? ` · ${named(s.label, s.label_kind)}` : ""}`,
        ),
      );
      f.dataset.id = String(s.id);
      f.onclick = () => toggle(s.id);
      return f;
    }),
  );
  if (page.length === 0) $("grid").replaceChildren(el("p", {}, "Nothing (more) to label with these filters."));
}

function toggle(id) {
  if (state.selected.has(id)) state.selected.delete(id);
  else state.selected.add(id);
  show();
}

/** "defect (crack)", or the label alone. */
function named(label, kind) {
  return kind ? `${label} (${kind.replaceAll("_", " ")})` : label;
}

async function label(choice) {
  const name = named(choice.label, choice.kind);
  let ids;
  if (state.mode === "grid") {
    const page = state.queue.slice(state.pos, state.pos + GRID);
    ids = state.selected.size ? page.filter((s) => state.selected.has(s.id)).map((s) => s.id) : page.map((s) => s.id);
  } else {
    const s = state.queue[state.pos];
    ids = s ? [s.id] : [];
  }
  if (ids.length === 0) return;
  try {
    const r = await api("/api/labels", {
      sample_ids: ids,
      label: choice.label,
      ...(choice.kind ? { kind: choice.kind } : {}),
    });
    state.undo.push({ sampleIds: ids, labelIds: r.label_ids, pos: state.pos });
    for (const s of state.queue)
      if (ids.includes(s.id)) {
        s.label = choice.label;
        s.label_kind = choice.kind;
      }
    state.done += ids.length;
    message(`${ids.length === 1 ? `#${ids[0]}` : `${ids.length} samples`} labeled ${name}`);
    if (state.mode === "grid") {
      // Labeled ones leave the page; unselected ones stay for the next keypress.
      if (state.selected.size) {
        state.queue = state.queue.filter((s) => !(ids.includes(s.id) && state.queue.indexOf(s) >= state.pos));
        state.selected.clear();
      } else state.pos += ids.length;
      state.cursor = 0;
      await ensure(GRID);
    } else {
      state.pos++;
      await ensure(4);
    }
    show();
    refreshAccuracy();
  } catch (err) {
    failed(err);
  }
}

async function undo() {
  const last = state.undo.pop();
  if (!last) return;
  try {
    await api("/api/labels/undo", { label_ids: last.labelIds });
    state.done -= last.sampleIds.length;
    for (const s of state.queue)
      if (last.sampleIds.includes(s.id)) {
        s.label = null;
        s.label_kind = null;
      }
    if (state.mode === "single") state.pos = last.pos;
    message(`undone: ${last.sampleIds.length} label(s)`);
    show();
    refreshAccuracy();
  } catch (err) {
    state.undo.push(last);
    failed(err);
  }
}

/**
 * Keypresses are handled one after another, in order: a key pressed while the previous label
 * is being saved waits for it (and then applies to the next sample) instead of being lost.
 */
let pending = Promise.resolve();
function serial(action) {
  pending = pending.then(action).catch(failed);
}
/** For the browser test: resolves when every key pressed so far has been handled. */
window.labelIdle = () => pending;

async function move(delta) {
  if (state.mode === "grid") {
    const n = Math.min(GRID, state.queue.length - state.pos);
    state.cursor = Math.max(0, Math.min(n - 1, state.cursor + delta));
  } else {
    state.pos = Math.max(0, Math.min(state.queue.length, state.pos + delta));
    await ensure(4);
  }
  show();
}

function failed(err) {
  if (err.status === 401) {
    $("login").hidden = false;
    message("Your session ended: log in again.");
  } else message(`Not saved: ${err.message}`);
}

function message(text) {
  $("message").textContent = text;
}

let accuracyAsked = 0;

async function refreshAccuracy() {
  // Answers may arrive out of order: only the newest request's is shown.
  const asked = ++accuracyAsked;
  const a = await api("/api/audit").catch(() => null);
  if (asked !== accuracyAsked) return;
  const box = $("accuracy");
  if (!a || a.samples === 0) {
    box.replaceChildren(
      el("p", { class: "small" }, "Label audit samples (Reason: audit) to see the model's real accuracy."),
    );
    return;
  }
  const row = (k, e) => el("tr", {}, el("td", {}, k), el("td", {}, estimate(e)));
  box.replaceChildren(
    el("p", { class: "small" }, `Real accuracy from ${a.samples} audit sample(s) labeled by people (95% intervals):`),
    el(
      "table",
      {},
      row("accuracy", a.accuracy),
      row("false rejects", a.false_reject_rate),
      row("missed defects", a.missed_defect_rate),
      ...Object.entries(a.recall_by_kind ?? {}).map(([kind, e]) => row(`caught: ${kind.replaceAll("_", " ")}`, e)),
    ),
  );
  box.dataset.samples = String(a.samples);
  box.dataset.accuracy = a.accuracy.value === null ? "" : pct(a.accuracy.value);
}

function keyLegend() {
  const rows = [];
  for (const c of state.choices) {
    const keys = [...state.keys].filter(([, v]) => v === c).map(([k]) => k);
    rows.push(el("span", {}, ...keys.map((k) => el("kbd", {}, k))), el("span", {}, named(c.label, c.kind)));
  }
  const pairs = [
    ["s / Space", "skip"],
    ["u / Backspace", "undo"],
    ["← →", "previous / next"],
    ["v", "single / grid (batch) view"],
    ["x", "grid: select the dashed one"],
  ];
  for (const [k, t] of pairs) rows.push(el("span", {}, el("kbd", {}, k)), el("span", {}, t));
  $("keys").replaceChildren(...rows);
}

function onKey(e) {
  if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
  const action = actionFor(e);
  if (!action) return;
  e.preventDefault();
  serial(action);
}

/** What a key does, or null for keys the page leaves to the browser. */
function actionFor(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return (e.ctrlKey || e.metaKey) && e.key === "z" ? undo : null;
  const k = e.key.toLowerCase();
  const choice = state.keys.get(k);
  if (choice) return () => label(choice);
  if (k === "u" || k === "backspace") return undo;
  if (k === "s" || k === " ") return state.mode === "grid" ? nextGridPage : () => move(1);
  if (k === "arrowright") return () => move(1);
  if (k === "arrowleft") return () => move(-1);
  if (state.mode === "grid" && k === "arrowdown") return () => move(4);
  if (state.mode === "grid" && k === "arrowup") return () => move(-4);
  if (state.mode === "grid" && k === "x")
    return () => {
      const s = state.queue[state.pos + state.cursor];
      if (s) toggle(s.id);
    };
  if (k === "v") return switchView;
  return null;
}

async function nextGridPage() {
  state.pos += GRID;
  state.cursor = 0;
  state.selected.clear();
  await ensure(GRID);
  show();
}

async function switchView() {
  state.mode = state.mode === "grid" ? "single" : "grid";
  $("grid").hidden = state.mode !== "grid";
  $("single").hidden = state.mode === "grid";
  state.selected.clear();
  state.cursor = 0;
  await ensure(GRID);
  show();
}

async function start() {
  const params = new URLSearchParams(location.search);
  for (const [k, v] of params) {
    const input = $("filters").elements.namedItem(k);
    if (input) input.value = v;
  }
  const session = await api("/api/session");
  // Digits in order (good, defect, then the defect with each kind), and a letter where one is free.
  const defect = session.labels.find((l) => l !== session.good_label);
  state.choices = [
    ...session.labels.map((l) => ({ label: l, kind: null })),
    ...(session.defect_kinds ?? []).map((kind) => ({ label: defect, kind })),
  ].slice(0, 9);
  const reserved = new Set(["s", "u", "v", "x"]);
  state.choices.forEach((c, i) => {
    state.keys.set(String(i + 1), c);
    const first = (c.kind ?? c.label)[0]?.toLowerCase();
    if (first && !reserved.has(first) && !state.keys.has(first) && !/\d/.test(first)) state.keys.set(first, c);
  });
  keyLegend();
  $("who").textContent = session.name ? `labeling as ${session.name}` : "not logged in";
  $("login").hidden = Boolean(session.name);
  $("login").onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData($("login"));
    try {
      const r = await api("/api/session", { name: f.get("name"), token: f.get("token") });
      $("who").textContent = `labeling as ${r.name}`;
      $("login").hidden = true;
      $("login-error").textContent = "";
      $("login").reset();
      await reload().catch((e) => message(e.message));
    } catch (err) {
      $("login-error").textContent = err.message;
    }
  };
  $("filters").onchange = () => void reload();
  $("filters").onsubmit = (e) => e.preventDefault();
  document.addEventListener("keydown", onKey);
  try {
    await reload();
  } catch (err) {
    if (err.status === 401) message("Log in to see the samples.");
    else message(err.message);
  }
  await refreshAccuracy();
  document.body.dataset.ready = "1";
}

void start();
