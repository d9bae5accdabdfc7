// blobrl play page: a person plays a checkpoint through /api/play (sessions on the server).
// The server is the referee: every click is sent as it is, and a move the rules refuse comes
// back as a 409 whose reason is shown here. Plain JS, no build step.
"use strict";

const TOKEN_KEY = "blobrl.apiToken";  // shared with the dashboard (same origin)
const SESSION_KEY = "blobrl.playSession";
const BID_BASE = 52;
const SUITS = ["clubs", "diamonds", "hearts", "spades"];
const $ = (id) => document.getElementById(id);
const ui = { state: null, busy: false, deals: [] };

// ---- the API ----------------------------------------------------------------------------------
function askToken() {
  const dialog = $("token-dialog");
  return new Promise((resolve) => {
    $("token-input").value = "";
    dialog.onclose = () => resolve(dialog.returnValue === "ok" ? $("token-input").value : null);
    dialog.showModal();
  });
}

// {ok, status, body}; a 401 asks for the token once and tries again.
async function api(method, path, body, retried = false) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = token ? { Authorization: "Bearer " + token } : {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch("/api/play" + path, {
      method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    return { ok: false, status: 0, body: { detail: "the API is not reachable" } };
  }
  if (response.status === 401 && !retried) {
    const entered = await askToken();
    if (entered) {
      sessionStorage.setItem(TOKEN_KEY, entered);
      return api(method, path, body, true);
    }
  }
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, body: data };
}

function reason(result) {
  const d = result.body && result.body.detail;
  if (Array.isArray(d)) return d.map((e) => e.msg).join("; ");  // a 422 from validation
  return d || `HTTP ${result.status}`;
}

// ---- setup ------------------------------------------------------------------------------------
async function loadCheckpoints() {
  const result = await api("GET", "/checkpoints");
  const select = $("checkpoint");
  select.innerHTML = "";
  if (!result.ok) {
    select.add(new Option("unavailable", ""));
    setupMessage(reason(result), true);
    return;
  }
  const list = result.body;
  for (const c of list.checkpoints) {
    const label = c.best ? `best model${c.iteration != null ? ` (iteration ${c.iteration})` : ""}`
      : `iteration ${c.iteration}`;
    select.add(new Option(label, c.name, c.name === list.default, c.name === list.default));
  }
  if (!list.checkpoints.length) {
    select.add(new Option("no checkpoint yet", ""));
    setupMessage(list.run_dir ? `${list.run_dir} has no checkpoint yet` : "the API has no run directory", true);
  }
  $("deal").disabled = !list.checkpoints.length;
}

function fillDealSizes() {
  const players = $("players"), cards = $("cards");
  for (let n = 3; n <= 8; n++) players.add(new Option(String(n), String(n), n === 4, n === 4));
  const refill = () => {
    const n = Number(players.value), keep = Number(cards.value) || 5;
    const most = Math.min(12, Math.floor(52 / n));
    cards.innerHTML = "";
    for (let c = 1; c <= most; c++) {
      const chosen = c === Math.min(keep, most);
      cards.add(new Option(String(c), String(c), chosen, chosen));
    }
  };
  players.addEventListener("change", refill);
  refill();
}

function setupMessage(text, isError = false) {
  const el = $("setup-message");
  el.textContent = text;
  el.className = "message" + (isError ? " error" : "");
}

function newSessionRequest() {
  const request = {
    players: Number($("players").value),
    cards: Number($("cards").value),
    full_game: $("mode").value === "game",
  };
  if ($("checkpoint").value) request.checkpoint = $("checkpoint").value;
  if ($("search").value) request.search = $("search").value;
  if ($("seed").value !== "") request.seed = Number($("seed").value);
  return request;
}

async function deal() {
  if (ui.busy) return;
  const previous = ui.state && ui.state.session_id;
  const result = await busy(() => api("POST", "/sessions", newSessionRequest()));
  if (!result.ok) { setupMessage(reason(result), true); return; }
  setupMessage("");
  if (previous) api("DELETE", "/sessions/" + previous);  // its memory on the server
  sessionStorage.setItem(SESSION_KEY, result.body.session_id);
  render(result.body);
}

// ---- moves ------------------------------------------------------------------------------------
async function busy(work) {
  ui.busy = true;
  $("thinking").hidden = false;
  document.body.dataset.busy = "true";
  try { return await work(); } finally {
    ui.busy = false;
    $("thinking").hidden = true;
    document.body.dataset.busy = "false";
  }
}

async function move(action) {
  if (ui.busy || !ui.state) return;
  const id = ui.state.session_id;
  const result = await busy(() => api("POST", `/sessions/${id}/moves`, { action }));
  if (result.ok) { message(""); render(result.body); return; }
  // Refused: the state on the server did not change; show why and keep the table as it is.
  message(`Not allowed: ${reason(result)}`, true);
  document.body.dataset.refusals = String(Number(document.body.dataset.refusals || 0) + 1);
  if (result.status === 404) forget();
}

async function nextRound() {
  if (ui.busy || !ui.state) return;
  const result = await busy(() => api("POST", `/sessions/${ui.state.session_id}/next`));
  if (result.ok) { message(""); render(result.body); } else message(reason(result), true);
}

function forget() {
  sessionStorage.removeItem(SESSION_KEY);
  ui.state = null;
  $("table").hidden = true;
  $("side").hidden = true;
  document.body.dataset.phase = "none";
  setupMessage("that game is no longer on the server: deal a new one", true);
}

function message(text, isError = false) {
  const el = $("message");
  el.textContent = text;
  el.className = "message" + (isError ? " error" : "");
}

// ---- drawing ----------------------------------------------------------------------------------
function cardElement(card, tag = "span") {
  const el = document.createElement(tag);
  el.className = `playing-card suit-${SUITS[card.suit]}`;
  el.textContent = card.name;
  el.dataset.card = card.id;
  return el;
}

const seatName = (s, seat) => (s.seats[seat] ? s.seats[seat].name : `Seat ${seat}`);

function render(s) {
  ui.state = s;
  document.body.dataset.phase = s.phase;
  document.body.dataset.moves = String(s.moves.length);
  document.body.dataset.finished = String(s.finished);
  $("table").hidden = false;
  $("side").hidden = false;
  $("trump").textContent = s.turned_up ? `${s.trump_name} (turned up ${s.turned_up.name})` : s.trump_name;
  $("dealer").textContent = seatName(s, s.dealer);
  $("agent").textContent = s.agent;
  $("round-box").hidden = !s.game;
  if (s.game) $("round").textContent = `${s.game.round} of ${s.game.rounds} (${s.cards} cards)`;
  renderStatus(s);
  renderSeats(s);
  renderTrick(s);
  renderBids(s);
  renderHand(s);
  renderResult(s);
  renderLog(s);
  refreshView();
}

function renderStatus(s) {
  let text;
  if (s.finished) text = s.game && s.game.over ? "The game is over." : "The hand is over.";
  else if (s.phase === "bidding") text = "Your bid: how many tricks will you take?";
  else text = s.trick ? "Your turn: follow suit if you can." : "Your lead: play any card.";
  $("status").textContent = text;
}

function renderSeats(s) {
  const body = $("seats").querySelector("tbody");
  body.innerHTML = "";
  $("total-head").hidden = !s.game;
  for (const seat of s.seats) {
    const row = body.insertRow();
    row.dataset.seat = seat.seat;
    if (seat.you) row.classList.add("you");
    if (s.to_act === seat.seat) row.classList.add("to-act");
    const name = seat.name + (seat.seat === s.dealer ? " (dealer)" : "");
    const cells = [name, seat.bid ?? "–", seat.tricks, seat.score ?? "–"];
    if (s.game) cells.push(seat.total);
    for (const value of cells) row.insertCell().textContent = String(value);
  }
}

function renderTrick(s) {
  const box = $("trick");
  box.innerHTML = "";
  const last = s.tricks.length ? s.tricks[s.tricks.length - 1] : null;
  const shown = s.trick || last;
  $("trick-title").textContent = shown ? `Trick ${shown.number} of ${s.cards}` : "Trick";
  box.classList.toggle("done", !s.trick && !!last);
  if (shown) {
    for (const played of shown.cards) {
      const slot = document.createElement("div");
      slot.className = "slot" + (played.seat === shown.winner ? " winner" : "");
      slot.append(cardElement(played.card));
      const who = document.createElement("small");
      who.textContent = seatName(s, played.seat);
      slot.append(who);
      box.append(slot);
    }
  }
  let note = "";
  if (!s.trick && last) note = `Won by ${seatName(s, last.winner)} with ${last.cards.find((c) => c.seat === last.winner).card.name}.`;
  else if (!shown && s.phase === "bidding") note = "Bidding: the cards come out once everyone has bid.";
  $("trick-note").textContent = note;
}

function renderBids(s) {
  const box = $("bids");
  box.innerHTML = "";
  const bidding = s.phase === "bidding" && s.your_turn;
  $("bids-box").hidden = !bidding;
  if (!bidding) return;
  for (let b = 0; b <= s.cards; b++) {
    const button = document.createElement("button");
    button.type = "button";
    const action = BID_BASE + b;
    const legal = s.legal.includes(action);
    button.textContent = String(b);
    button.dataset.action = action;
    button.dataset.legal = String(legal);
    button.className = "bid" + (legal ? " legal" : " illegal");
    if (!legal) button.title = "As dealer you may not make the bids add up to the number of cards";
    button.addEventListener("click", () => move(action));
    box.append(button);
  }
}

function renderHand(s) {
  const box = $("hand");
  box.innerHTML = "";
  for (const card of s.hand) {
    const button = cardElement(card, "button");
    button.type = "button";
    const legal = s.legal.includes(card.id);
    button.dataset.action = card.id;
    button.dataset.legal = String(legal);
    button.classList.add(legal ? "legal" : "illegal");
    button.addEventListener("click", () => move(card.id));
    box.append(button);
  }
  if (!s.hand.length) box.textContent = "(no cards left)";
}

function renderResult(s) {
  $("result").hidden = !s.finished;
  if (!s.finished) return;
  const parts = s.seats.map((seat) => `${seat.name} ${seat.score}` + (s.game ? ` (total ${seat.total})` : ""));
  $("scores").textContent = parts.join(" · ");
  $("scores").dataset.scores = JSON.stringify(s.scores);
  const more = s.game && !s.game.over;
  $("result-title").textContent = s.game && s.game.over ? "Game over" : more ? `Round ${s.game.round} over` : "Hand over";
  if (s.game && s.game.over) {
    const best = Math.max(...s.game.totals);
    const winners = s.seats.filter((seat) => seat.total === best).map((seat) => seat.name);
    $("scores").textContent += ` — winner: ${winners.join(" and ")}`;
  }
  $("next-round").hidden = !more;
  $("again").textContent = s.game ? "New game" : "New hand";
}

function renderLog(s) {
  const log = $("log");
  log.innerHTML = "";
  for (const m of s.moves) {
    const item = document.createElement("li");
    item.textContent = `${seatName(s, m.seat)}: ${m.action >= BID_BASE ? m.name : "plays " + m.name}`;
    if (s.seats[m.seat] && s.seats[m.seat].you) item.className = "you";
    log.append(item);
  }
  for (const t of s.tricks) {
    const item = log.children[s.players + t.number * s.players - 1];
    if (item) item.textContent += ` → trick ${t.number} to ${seatName(s, t.winner)}`;
  }
  log.scrollTop = log.scrollHeight;
}

// ---- the model's view -------------------------------------------------------------------------
function bar(label, p, highlight = false) {
  const row = document.createElement("div");
  row.className = "bar-row" + (highlight ? " top" : "");
  const name = document.createElement("span");
  name.textContent = label;
  const track = document.createElement("span");
  track.className = "track";
  const fill = document.createElement("span");
  fill.className = "fill";
  fill.style.width = (100 * p).toFixed(1) + "%";
  track.append(fill);
  const pct = document.createElement("span");
  pct.className = "pct";
  pct.textContent = (100 * p).toFixed(0) + "%";
  row.append(name, track, pct);
  return row;
}

async function refreshView() {
  const on = $("view-toggle").checked;
  const s = ui.state;
  $("view").hidden = !on || !s || !s.your_turn;
  if ($("view").hidden) return;
  const result = await api("GET", `/sessions/${s.session_id}/view`);
  if (!result.ok || ui.state !== s) return;
  const v = result.body;
  const policy = $("view-policy");
  policy.innerHTML = "";
  v.policy.forEach((o, i) => policy.append(bar(o.name, o.probability, i === 0)));
  const tricks = $("view-tricks");
  tricks.innerHTML = "";
  $("view-tricks-title").hidden = !v.tricks;
  if (v.tricks) v.tricks.forEach((p, t) => tricks.append(bar(`${t} tricks`, p)));
  $("view-value").textContent = v.expected_score == null ? "" : `Expected score: ${v.expected_score.toFixed(1)} points`;
}

// ---- start ------------------------------------------------------------------------------------
async function resume() {
  const id = sessionStorage.getItem(SESSION_KEY);
  if (!id) return;
  const result = await api("GET", "/sessions/" + id);
  if (result.ok) render(result.body);
  else sessionStorage.removeItem(SESSION_KEY);
}

function setup() {
  fillDealSizes();
  $("setup-form").addEventListener("submit", (event) => { event.preventDefault(); deal(); });
  $("again").addEventListener("click", deal);
  $("next-round").addEventListener("click", nextRound);
  $("view-toggle").addEventListener("change", refreshView);
  loadCheckpoints();
  resume();
}

setup();
