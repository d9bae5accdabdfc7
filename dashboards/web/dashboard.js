// blobrl dashboard: status from /api/status, live events from /ws/updates, charts with plotly.js
// (served by the API from the installed plotly package, no CDN) drawn by charts.js from the
// /api/history/* series. Plain JS, no build step.
"use strict";

const TOKEN_KEY = "blobrl.apiToken";
const $ = (id) => document.getElementById(id);
const ui = { state: "unknown", status: null, metrics: null, backoff: 1000, socket: null, charts: false };

// ---- formatting -----------------------------------------------------------------------------
const fmtInt = (n) => (n == null ? "–" : Number(n).toLocaleString("en-US"));
const fmtNum = (n, d = 1) => (n == null ? "–" : Number(n).toFixed(d));
const fmtPct = (x) => (x == null ? "–" : (100 * x).toFixed(1) + "%");
function fmtDuration(s) {
  if (s == null) return "–";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
}
function fmtBytes(b) {
  if (!b) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return `${b.toFixed(1)} ${units[i]}`;
}
function touched(timestamp) {
  const t = timestamp ? new Date(timestamp * 1000) : new Date();
  $("last-update").textContent = t.toLocaleTimeString();
}

// ---- status -----------------------------------------------------------------------------------
function showState(state) {
  ui.state = state;
  const badge = $("state");
  badge.textContent = state;
  badge.dataset.state = state;
  badge.className = "badge state-" + state;
  const allowed = {
    start: ["idle", "paused"], pause: ["running"], resume: ["paused", "pausing"],
    stop: ["idle", "running", "pausing", "paused"],
  };
  for (const [command, states] of Object.entries(allowed)) {
    $("btn-" + command).disabled = !states.includes(state);
  }
}

function showStatus(s) {
  ui.status = s;
  showState(s.error ? "error" : s.state);
  if (s.error) message("error: " + s.error, true);
  const pct = Math.max(0, Math.min(1, s.progress || 0));
  $("progress-bar").style.width = (100 * pct).toFixed(2) + "%";
  $("progress-text").textContent = fmtPct(pct);
  $("iteration").textContent = `${Math.min(s.iteration, s.iterations)} / ${s.iterations}`;
  $("iteration").dataset.iteration = s.iteration;
  $("iteration-games").textContent = `${fmtInt(s.iteration_games)} / ${fmtInt(s.iteration_games_total)}`;
  $("games").textContent = `${fmtInt(s.games_played)} / ${fmtInt(s.games_total)}`;
  $("games-per-min").textContent = fmtNum(s.games_per_min);
  $("eta").textContent = s.state === "running" ? fmtDuration(s.eta_s) : "–";
  $("trained").textContent = `${s.trained_iterations} (weights v${s.weights_version})`;
  $("mcts").textContent = `${s.determinizations} × ${s.simulations}`;
  $("lr").textContent = s.lr ? Number(s.lr).toExponential(2) : "–";
  $("buffer").textContent = fmtInt(s.buffer_positions);
  $("actors").textContent = fmtInt(s.actors);
  if (ui.charts) Charts.stats("rate-stats", Charts.rate(history.throughput, s).stats);  // "now"
  touched(s.timestamp);
}

function showConfig(c) {
  const p = c.phase;
  $("phase").textContent = `${p.index} (iterations ${p.first}–${p.last}, ${fmtInt(p.games_per_iteration)} games each)`;
  $("mcts").textContent = `${p.determinizations} × ${p.simulations}`;
  $("root").textContent = p.root;
  if (c.learning_rate) $("lr").textContent = Number(c.learning_rate).toExponential(2);
}

function showMetrics(m) {
  ui.metrics = m;
  ["elo-chart", "buffer-chart"].forEach(draw);  // the fixed opponents' ratings, the reuse target
  $("policy-accuracy").textContent = fmtPct(m.policy_accuracy);
  $("value-error").textContent = fmtNum(m.value_calibration_error, 3);
  $("batch").textContent = fmtNum(m.inference_batch_size);
  $("gpu").textContent = fmtBytes(m.gpu_memory_bytes);
}

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

async function refresh() {
  try { showStatus(await getJSON("/api/status")); } catch (e) { /* offline: the indicator says so */ }
}
async function refreshDetails() {
  try { showConfig(await getJSON("/api/config")); } catch (e) { /* next time */ }
  try { showMetrics(await getJSON("/api/metrics")); } catch (e) { /* next time */ }
}

// ---- charts -----------------------------------------------------------------------------------
// Each chart is redrawn whole from its history endpoint (a 500-iteration run is a few thousand
// points): after the events that change it, at most once a second per endpoint.
const CHART_CONFIG = { displaylogo: false, displayModeBar: false, responsive: true };
const history = { elo: [], loss: [], steps: [], gauntlet: [], throughput: [] };
const CHARTS = {
  "elo-chart": () => Charts.elo(history.elo, ui.metrics),
  "gauntlet-chart": () => Charts.gauntlet(history.gauntlet, "score"),
  "exact-chart": () => Charts.gauntlet(history.gauntlet, "exact_rate"),
  "rate-chart": () => Charts.rate(history.throughput, ui.status),
  "time-chart": () => Charts.times(history.throughput),
  "buffer-chart": () => Charts.buffer(history.throughput, ui.metrics),
  "steps-chart": () => Charts.losses(history.steps, "step", "training step", true),
  "loss-chart": () => Charts.losses(history.loss, "iteration", "iteration", false),
};
// Which charts each series feeds.
const FEEDS = {
  elo: ["elo-chart"], gauntlet: ["gauntlet-chart", "exact-chart"], steps: ["steps-chart"],
  loss: ["loss-chart"], throughput: ["rate-chart", "time-chart", "buffer-chart"],
};

function initCharts() {
  if (!window.Plotly || typeof Charts === "undefined") {
    for (const id of Object.keys(CHARTS)) $(id).textContent = "charts need plotly (pip install plotly)";
    return;
  }
  ui.charts = true;
  for (const id of Object.keys(CHARTS)) draw(id);
  // The theme follows the system: redraw in the new colours when it changes.
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    for (const id of Object.keys(CHARTS)) draw(id);
  });
}

function draw(id) {
  if (!ui.charts) return;
  const { traces, layout, stats } = CHARTS[id]();
  Plotly.react(id, traces, layout, CHART_CONFIG);
  Charts.stats(id.replace("-chart", "-stats"), stats);
}

const pending = {};
function refreshSeries(name, delay = 1000) {  // at most one fetch per series per ``delay``
  if (pending[name]) return;
  pending[name] = setTimeout(async () => {
    pending[name] = null;
    try {
      history[name] = await getJSON("/api/history/" + name);
      FEEDS[name].forEach(draw);
    } catch (e) { /* next event */ }
  }, delay);
}

function fillHistory() {
  for (const name of Object.keys(history)) refreshSeries(name, 0);
}

// ---- live updates -----------------------------------------------------------------------------
function setConnection(kind, text) {
  const el = $("connection");
  el.className = "connection " + kind;
  el.textContent = text;
}

function connect() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = token ? "?token=" + encodeURIComponent(token) : "";
  setConnection("connecting", "connecting");
  const socket = new WebSocket(`${scheme}//${location.host}/ws/updates${query}`);
  ui.socket = socket;
  socket.onopen = () => {
    ui.backoff = 1000;
    setConnection("online", "live");
    fillHistory();
    refreshDetails();
  };
  socket.onmessage = (event) => onUpdate(JSON.parse(event.data));
  socket.onclose = (event) => {
    ui.socket = null;
    if (event.code === 1008) message("the live feed needs the API token (use a control button)", true);
    const delay = ui.backoff;
    ui.backoff = Math.min(ui.backoff * 2, 30000);
    setConnection("offline", `offline, retry in ${Math.round(delay / 1000)}s`);
    setTimeout(connect, delay);
  };
}

let statusTimer = null;
function soon(fn, ms) {  // at most one status refresh per ms while events stream in
  if (statusTimer) return;
  statusTimer = setTimeout(() => { statusTimer = null; fn(); }, ms);
}

function onUpdate(update) {
  const d = update.data || {};
  touched(update.timestamp);
  switch (update.type) {
    case "status": showStatus(d); break;
    case "state": showState(d.state); soon(refresh, 200); break;
    case "games":
      if (ui.status) $("games").textContent = `${fmtInt(d.games_played)} / ${fmtInt(ui.status.games_total)}`;
      soon(refresh, 500);
      break;
    case "iteration":
      ["loss", "steps", "throughput"].forEach((name) => refreshSeries(name));
      soon(refresh, 100);
      refreshDetails();
      break;
    case "evaluation": case "gauntlet":
      ["elo", "throughput", ...(update.type === "gauntlet" ? ["gauntlet"] : [])].forEach((name) => refreshSeries(name));
      refreshDetails();
      break;
    case "phase": refreshDetails(); soon(refresh, 100); break;
    case "error": showState("error"); message("error: " + (d.message || "unknown"), true); break;
  }
}

// ---- control ----------------------------------------------------------------------------------
function message(text, isError = false) {
  const el = $("control-message");
  el.textContent = text;
  el.className = "message" + (isError ? " error" : "");
}

function askToken() {
  const dialog = $("token-dialog");
  return new Promise((resolve) => {
    $("token-input").value = "";
    dialog.onclose = () => resolve(dialog.returnValue === "ok" ? $("token-input").value : null);
    dialog.showModal();
  });
}

async function post(command, retried = false) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = token ? { Authorization: "Bearer " + token } : {};
  let response;
  try {
    response = await fetch("/api/control/" + command, { method: "POST", headers });
  } catch (e) {
    message(`${command}: the API is not reachable`, true);
    return;
  }
  if (response.status === 401 && !retried) {
    const entered = await askToken();
    if (!entered) { message(`${command}: a token is needed`, true); return; }
    sessionStorage.setItem(TOKEN_KEY, entered);
    if (ui.socket) ui.socket.close();  // reconnect the live feed with the token
    return post(command, true);
  }
  const body = await response.json().catch(() => ({}));
  if (response.ok) {
    message(body.message || command);
    showState(body.state);
  } else if (response.status === 409) {
    message(`${command} refused: ${body.message} (state ${body.state})`, true);
    showState(body.state);
  } else {
    message(`${command}: ${body.detail || response.status}`, true);
  }
  refresh();
}

function setup() {
  for (const button of document.querySelectorAll("button[data-command]")) {
    button.addEventListener("click", () => post(button.dataset.command));
  }
  document.addEventListener("keydown", (event) => {
    if (event.code !== "Space" || event.target.closest("input, textarea, dialog")) return;
    event.preventDefault();
    if (ui.state === "running") post("pause");
    else if (ui.state === "paused" || ui.state === "pausing") post("resume");
  });
  showState("unknown");
  initCharts();
  refresh();
  refreshDetails();
  connect();
  setInterval(() => { if (document.visibilityState === "visible") refresh(); }, 5000);
  setInterval(() => { if (document.visibilityState === "visible") refreshDetails(); }, 15000);
}

setup();
