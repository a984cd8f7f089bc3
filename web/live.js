// Live view: one EventSource, each message the whole screen's state (the server coalesces and
// rate-limits). The frame is fetched by sequence number; while one loads, only the newest
// waiting frame is fetched next, so a slow link shows fewer frames rather than falling behind.
import { el, estimate, pct } from "./common.js";

const $ = (id) => document.getElementById(id);
/** Decision-to-screen delays (ms), newest last: read by the browser test, shown nowhere. */
window.liveLatencies = [];

let loading = false;
let wanted = null;
let shownSeq = -1;

function showFrame(d) {
  if (loading) {
    wanted = d;
    return;
  }
  loading = true;
  const img = new Image();
  img.onload = () => {
    $("frame").src = img.src;
    paintVerdict(d);
    done();
  };
  img.onerror = () => {
    paintVerdict(d); // the frame was already replaced on the device: show the decision anyway
    done();
  };
  img.src = `/api/live/frame/${d.seq}.jpg`;
}

function done() {
  loading = false;
  if (wanted && wanted.seq !== shownSeq) {
    const next = wanted;
    wanted = null;
    showFrame(next);
  }
}

function paintVerdict(d) {
  shownSeq = d.seq;
  const v = $("verdict");
  const kind = d.uncertain ? "uncertain" : d.action;
  v.className = `verdict ${kind}`;
  v.dataset.seq = String(d.seq);
  v.replaceChildren(
    `${d.action === "reject" ? "REJECT" : "PASS"} · ${d.label}${d.uncertain ? " (uncertain)" : ""}`,
    el(
      "small",
      {},
      `score ${d.score.toFixed(3)} vs threshold ${d.threshold}${d.ood ? " · unlike the training data" : ""}`,
    ),
  );
  const delay = Date.now() - d.decidedAt;
  window.liveLatencies.push(delay);
  if (window.liveLatencies.length > 1000) window.liveLatencies.shift();
}

function render(s) {
  if (s.decision && s.decision.seq !== shownSeq) showFrame(s.decision);
  $("inspected").textContent = s.counters.inspected.toLocaleString();
  $("rejected").textContent = s.counters.rejected.toLocaleString();
  $("rate-min").textContent = pct(s.rates.minute.rate);
  $("rate-hour").textContent = pct(s.rates.hour.rate);
  $("expected").textContent =
    s.rates.expected === null ? "" : `The model expects about ${pct(s.rates.expected)} rejects on this line.`;
  $("speed").textContent =
    `${s.fps} parts/s` +
    (s.latency_ms ? ` · decision in ${s.latency_ms.p50.toFixed(0)} ms (p95 ${s.latency_ms.p95.toFixed(0)})` : "");
  $("status").replaceChildren(
    ...Object.values(s.status).map((l) => el("li", { class: l.light }, el("b", {}, l.title), l.text)),
  );
  // Thumbnails are reused by sequence number: a reject already shown is never fetched again.
  const strip = $("strip");
  const have = new Map([...strip.children].map((f) => [f.dataset.seq, f]));
  if ([...have.keys()].join() !== s.rejects.map((r) => String(r.seq)).join()) {
    strip.replaceChildren(
      ...s.rejects.map((r) => {
        const old = have.get(String(r.seq));
        if (old) return old;
        const f = el(
          "figure",
          {},
          el("img", { src: `/api/live/frame/${r.seq}.jpg`, alt: `reject ${r.seq}` }),
          el("figcaption", {}, `${new Date(r.capturedAt).toLocaleTimeString()} · ${r.score.toFixed(2)}`),
        );
        f.dataset.seq = String(r.seq);
        return f;
      }),
    );
  }
  const a = s.audit;
  $("audit").textContent =
    a && a.samples > 0
      ? `Checked by people (audit): accuracy ${estimate(a.accuracy)}, false rejects ${estimate(a.false_reject_rate)}, missed defects ${estimate(a.missed_defect_rate)}`
      : "";
}

function connect() {
  const conn = $("conn");
  const es = new EventSource("/api/live/events");
  es.onopen = () => {
    conn.textContent = "live";
    conn.className = "conn";
  };
  es.onmessage = (e) => render(JSON.parse(e.data));
  es.onerror = () => {
    conn.textContent = "disconnected: retrying…";
    conn.className = "conn down";
    if (es.readyState !== EventSource.CLOSED) return;
    // Refused rather than lost: viewing needs the token on this device (http.read_only_open: false).
    fetch("/api/live", { credentials: "same-origin" })
      .then((r) => {
        if (r.status === 401) conn.textContent = "viewing needs the token: log in on the Label page";
      })
      .catch(() => {});
    setTimeout(connect, 3000);
  };
}

connect();
