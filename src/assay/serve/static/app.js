// The assay dashboard: leaderboard, a form generated from /metadata, /predict + /explain for one row.
// No libraries, no network beyond this server.
"use strict";

const state = { meta: null, key: sessionStorage.getItem("assay-api-key") || null };
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

class ApiError extends Error {
  constructor(status, detail) { super(typeof detail === "string" ? detail : "request failed"); this.status = status; this.detail = detail; }
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.key) headers["X-API-Key"] = state.key;
  const res = await fetch(path, Object.assign({}, options, { headers }));
  if (res.status === 401) { showKeyBox(); throw new ApiError(401, "an API key is needed"); }
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw new ApiError(res.status, body && body.detail !== undefined ? body.detail : body);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(5);
  return String(v);
}

function showKeyBox() { $("key-box").hidden = false; }

// ---------------------------------------------------------------- header, leaderboard
function renderSummary(m) {
  document.title = `assay: ${m.target}`;
  $("title").textContent = `Predicting “${m.target}”`;
  const best = m.leaderboard_best ? `best: ${m.leaderboard_best.model} ${m.metric} ${fmt(m.leaderboard_best.score)}` : "";
  $("summary").textContent = `${m.task} · ${m.features.length} features · ${m.metric} ${fmt(m.cv_score)} (cross-validated) · `
    + `${best} · engine ${m.engine} · assay ${m.assay_version}`;
  const links = $("links");
  links.replaceChildren();
  if (m.report) {
    const a = el("a", { href: "/report", id: "report-link", target: "_blank", text: "Full report" });
    if (state.key) a.addEventListener("click", openReportWithKey);
    links.append(a);
  }
  links.append(el("a", { href: "/openapi.json", text: "OpenAPI schema" }));
}

async function openReportWithKey(ev) {
  ev.preventDefault();
  const res = await fetch("/report", { headers: { "X-API-Key": state.key } });
  const blob = await res.blob();
  window.open(URL.createObjectURL(blob), "_blank");
}

function renderLeaderboard(lb) {
  const thead = $("leaderboard").querySelector("thead");
  const tbody = $("leaderboard").querySelector("tbody");
  thead.replaceChildren(el("tr", {}, ...lb.columns.map((c) => el("th", { text: c.replace(/_/g, " ") }))));
  tbody.replaceChildren(...lb.rows.map((r) => el("tr", {}, ...r.map((v) => el("td", { text: fmt(v) })))));
  $("leaderboard-note").textContent = lb.n_total > lb.rows.length ? `top ${lb.rows.length} of ${lb.n_total} rows` : "";
}

// ---------------------------------------------------------------- the form
function renderForm(m) {
  const box = $("fields");
  box.replaceChildren();
  m.features.forEach((f, i) => {
    const id = `field-${i}`;
    let input;
    if (f.type === "boolean") {
      input = el("select", { id, name: f.name },
        el("option", { value: "", text: "(missing)" }), el("option", { value: "true", text: "true" }),
        el("option", { value: "false", text: "false" }));
    } else {
      input = el("input", { id, name: f.name, type: "text", autocomplete: "off" });
      if (f.type === "number") input.setAttribute("inputmode", "decimal");
      if (f.categories && f.categories.length) {
        const list = el("datalist", { id: `${id}-levels` }, ...f.categories.map((c) => el("option", { value: c })));
        box.append(list);
        input.setAttribute("list", `${id}-levels`);
        input.setAttribute("placeholder", f.categories.slice(0, 3).join(", ") + (f.categories.length > 3 ? ", …" : ""));
      } else if (f.type === "number") {
        input.setAttribute("placeholder", "number");
      } else if (f.kind === "datetime") {
        input.setAttribute("placeholder", "2024-01-31");
      }
    }
    input.dataset.type = f.type;
    const label = el("label", { for: id, text: `${f.name} (${f.kind.replace("_", " ")})` });
    box.append(el("div", { class: "field", "data-name": f.name }, label, input));
  });
}

function formRecord() {
  const rec = {};
  for (const input of $("fields").querySelectorAll("input, select")) {
    const raw = input.value.trim();
    if (raw === "") { rec[input.name] = null; continue; }
    if (input.dataset.type === "boolean") rec[input.name] = raw === "true";
    else if (input.dataset.type === "number" && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) rec[input.name] = Number(raw);
    else rec[input.name] = raw;    // the server checks it (a bad number comes back as a 422)
  }
  return rec;
}

function showError(err) {
  const box = $("error");
  box.replaceChildren();
  for (const f of $("fields").querySelectorAll(".field.bad")) f.classList.remove("bad");
  if (Array.isArray(err.detail)) {
    box.append(el("strong", { text: `The server rejected the row (${err.status}):` }));
    const ul = el("ul");
    for (const d of err.detail) {
      const loc = (d.loc || []).filter((p) => p !== "body");
      const field = loc.length ? String(loc[loc.length - 1]) : "";
      const shown = field ? `${field}: ${d.msg}` : d.msg;
      ul.append(el("li", { text: shown }));
      const holder = [...$("fields").querySelectorAll(".field")].find((x) => x.dataset.name === field);
      if (holder) holder.classList.add("bad");
    }
    box.append(ul);
  } else {
    box.textContent = `Error ${err.status || ""}: ${typeof err.detail === "string" ? err.detail : err.message}`;
  }
  box.hidden = false;
}

// ---------------------------------------------------------------- results
function renderPrediction(pred, m) {
  const label = pred.predictions[0];
  $("prediction").textContent = `${m.target} = ${fmt(label)}`;
  const probs = $("probabilities");
  probs.replaceChildren();
  if (pred.probabilities) {
    for (const [cls, p] of Object.entries(pred.probabilities[0])) {
      const bar = el("div", { class: "bar" });
      bar.style.width = `${(100 * p).toFixed(1)}%`;
      probs.append(el("div", { class: "prob" }, el("span", { text: cls }), el("div", {}, bar), el("span", { text: (100 * p).toFixed(1) + "%" })));
    }
  }
  const ul = $("warnings");
  ul.replaceChildren(...(pred.warnings || []).map((w) => el("li", { text: w.message })));
}

function chosenOutput(ex, m) {
  if (m.task === "multiclass") return String(ex.predictions[0]);
  return ex.output_names[0];
}

function renderExplanation(ex, m) {
  const out = chosenOutput(ex, m);
  const values = ex.rows[0].values[out];
  const feats = ex.rows[0].features;
  const items = Object.entries(values).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 12);
  const base = ex.base_values[out];
  const total = base + Object.values(values).reduce((s, v) => s + v, 0);
  $("explanation-note").textContent = `SHAP contributions to the ${ex.output_space}${m.task === "multiclass" ? ` (class ${out})` : ""}: `
    + `base ${fmt(base)} + contributions = ${fmt(total)}. Red pushes up, blue down.`;
  const rowH = 24, labelW = 230, barW = 300, valueW = 70, pad = 6;
  const width = labelW + barW + valueW, height = items.length * rowH + 2 * pad;
  const maxAbs = Math.max(1e-12, ...items.map(([, v]) => Math.abs(v)));
  const mid = labelW + barW / 2;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", "100%");
  svg.style.maxWidth = `${width}px`;
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "top feature contributions");
  const mk = (tag, attrs, text) => {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    svg.append(n);
    return n;
  };
  mk("line", { x1: mid, x2: mid, y1: 0, y2: height, stroke: "#999" });
  items.forEach(([name, v], i) => {
    const y = pad + i * rowH;
    const w = (Math.abs(v) / maxAbs) * (barW / 2 - 4);
    const shown = feats[name] === null ? "missing" : fmt(feats[name]);
    const label = `${name} = ${shown}`;
    mk("text", { x: labelW - 6, y: y + 16, "text-anchor": "end" }, label.length > 30 ? label.slice(0, 29) + "…" : label);
    mk("rect", { class: "contribution", x: v >= 0 ? mid : mid - w, y: y + 4, width: Math.max(w, 1), height: rowH - 8,
                 fill: v >= 0 ? "#c0392b" : "#2e6fb7", "data-feature": name });
    mk("text", { x: width - 4, y: y + 16, "text-anchor": "end" }, (v >= 0 ? "+" : "") + v.toPrecision(3));
  });
  $("explanation").replaceChildren(svg);
}

async function score(ev) {
  ev.preventDefault();
  const m = state.meta;
  const button = $("score-button");
  button.disabled = true;
  $("error").hidden = true;
  const body = JSON.stringify(formRecord());
  const opts = { method: "POST", headers: { "Content-Type": "application/json" }, body };
  try {
    const pred = await api("/predict", opts);
    renderPrediction(pred, m);
    $("result").hidden = false;
    $("explanation").replaceChildren(el("p", { class: "muted", text: "explaining…" }));
    const ex = await api("/explain", opts);
    renderExplanation(ex, m);
    for (const w of ex.warnings || []) {
      if (w.type === "no_background") $("warnings").append(el("li", { text: w.message }));
    }
  } catch (err) {
    $("result").hidden = true;
    showError(err);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- start
async function start() {
  try {
    const meta = await api("/metadata");
    state.meta = meta;
    $("key-box").hidden = true;
    renderSummary(meta);
    renderForm(meta);
    renderLeaderboard(await api("/leaderboard"));
  } catch (err) {
    if (err.status !== 401) { $("summary").textContent = `cannot load the model's metadata: ${err.message}`; }
  }
}

$("score-form").addEventListener("submit", score);
$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.key = $("key-input").value;
  sessionStorage.setItem("assay-api-key", state.key);
  start();
});
start();
