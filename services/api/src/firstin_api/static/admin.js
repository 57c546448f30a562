// The admin console: follows /admin/stream (server-sent events: products twice a second, services' health every
// two seconds) and calls the admin api for the rest. The admin token stays in this page's memory and travels in the
// Authorization header only: the stream is opened with a short-lived ticket in its URL (EventSource cannot send
// headers), and an export is fetched with the header and handed to the browser as a file.
import {
  renderDeadLetters, renderHealth, renderProducts, renderRounds, renderWinners, showState,
} from "./admin-view.js";

let token = null;
let source = null;
let reconnect = null;
let selected = null; // the sku whose rounds, winners and dead letters are shown
let shownRound = null;
let winnersCursor = null;
// The selected product's panel was last loaded for this round/decided/dead letters, in this round, at this time.
let panel = { key: "", round: null, at: 0 };
const PANEL_REFRESH_MS = 1500; // a busy sale changes `decided` twice a second: its panel follows a little slower

class ApiError extends Error {
  constructor(kind, status, detail) {
    super(detail || kind);
    this.kind = kind; // "unauthorized" (401), "unreachable" (no answer, 502-504) or "refused" (another 4xx/5xx)
    this.status = status;
  }
}

async function api(path, options) {
  const request = Object.assign({}, options || {});
  request.headers = Object.assign({ "Authorization": "Bearer " + token }, request.headers || {});
  let answer;
  try {
    answer = await fetch(path, request);
  } catch (e) {
    throw new ApiError("unreachable", 0);
  }
  if (answer.status === 401) throw new ApiError("unauthorized", 401);
  if ([502, 503, 504].includes(answer.status)) throw new ApiError("unreachable", answer.status);
  if (!answer.ok) {
    const body = await answer.json().catch(() => ({}));
    const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.loc.at(-1) + ": " + d.msg).join("; ") : body.detail;
    throw new ApiError("refused", answer.status, detail || "HTTP " + answer.status);
  }
  return answer;
}

// A wrong token and an api that does not answer look different, and only the second is retried.
function failed(error, retry) {
  if (!(error instanceof ApiError)) throw error;
  if (error.kind === "unauthorized") {
    stop();
    showState("unauthorized", "Wrong admin token: the api refused it (401). Enter the admin token again.");
  } else if (error.kind === "unreachable") {
    const why = error.status ? "it answered " + error.status : "no answer";
    showState("unreachable", "Api unreachable or restarting (" + why + "); retrying…");
    if (retry) schedule(retry, 2000);
  }
  return error;
}

function schedule(what, delay) {
  clearTimeout(reconnect);
  reconnect = setTimeout(what, delay);
}

function stop() {
  clearTimeout(reconnect);
  if (source) source.close();
  source = null;
}

async function follow() {
  stop();
  showState("connecting", "Connecting…");
  let ticket;
  try {
    ticket = (await (await api("/admin/stream-tickets", { method: "POST" })).json()).ticket;
  } catch (e) {
    failed(e, follow);
    return;
  }
  source = new EventSource("/admin/stream?ticket=" + encodeURIComponent(ticket));
  source.addEventListener("overview", function (e) {
    showState("live", "Live.");
    const products = JSON.parse(e.data);
    renderProducts(products, selected, select);
    const mine = products.find((p) => p.sku === selected);
    const key = mine ? [mine.round, mine.decided, mine.dead_letters].join("/") : "";
    if (mine && key !== panel.key && performance.now() - panel.at > PANEL_REFRESH_MS) {
      const newRound = mine.round !== panel.round;
      panel = { key: key, round: mine.round, at: performance.now() };
      refreshProduct(newRound);
    }
  });
  source.addEventListener("health", (e) => renderHealth(JSON.parse(e.data)));
  source.onerror = function () {
    source.close();
    showState("unreachable", "Disconnected (api restarting?); retrying…");
    schedule(follow, 1000); // a new ticket first: it tells a restarting api from a token no longer accepted
  };
}

async function select(sku) {
  selected = sku;
  shownRound = null;
  panel = { key: "", round: null, at: performance.now() };
  document.getElementById("product").hidden = false;
  await refreshProduct(true);
}

let refreshing = false;
async function refreshProduct(newRound) {
  if (!selected || refreshing) return;
  refreshing = true;
  const sku = selected;
  try {
    const rounds = await (await api("/admin/products/" + sku + "/rounds")).json();
    const current = rounds[rounds.length - 1];
    if (newRound || shownRound === null) shownRound = current.round;
    panel.round = current.round;
    const winners = (round) => { shownRound = round; refreshProduct(false); };
    renderRounds(sku, rounds, shownRound, { winners: winners, export: exportRound });
    await showWinners(shownRound);
    renderDeadLetters(await (await api("/admin/products/" + sku + "/dead-letters?limit=20")).json());
  } catch (e) {
    failed(e, null);
  } finally {
    refreshing = false;
  }
}

// Winners are the accepted orders; a filtered page may be empty and still have a next one, so follow a few.
async function showWinners(round, append) {
  shownRound = round;
  let cursor = append ? winnersCursor : null;
  const found = [];
  for (let pages = 0; pages < 20; pages++) {
    const query = "round=" + round + "&status=accepted&limit=50" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    const page = await (await api("/admin/products/" + selected + "/orders?" + query)).json();
    found.push(...page.orders);
    cursor = page.next_cursor;
    if (!cursor || found.length) break;
  }
  winnersCursor = cursor;
  renderWinners(round, found, Boolean(cursor), Boolean(append));
}

async function exportRound(round) {
  try {
    const blob = await (await api("/admin/products/" + selected + "/rounds/" + round + "/export")).blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = selected + "-round-" + round + ".jsonl";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  } catch (e) {
    failed(e, null);
  }
}

async function configure(event) {
  event.preventDefault();
  const result = document.getElementById("configure-result");
  const sku = document.getElementById("cfg-sku").value.trim();
  const limit = document.getElementById("cfg-limit").value;
  const body = { stock: Number(document.getElementById("cfg-stock").value), per_customer_limit: limit ? Number(limit) : null };
  if (!token) { result.textContent = "Enter the admin token first."; return; }
  try {
    const product = await (await api("/admin/products/" + encodeURIComponent(sku), {
      method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    })).json();
    result.textContent = "Round " + product.round + " of " + product.sku + " started: " + product.stock_total + " in stock.";
    await select(product.sku);
  } catch (e) {
    result.textContent = failed(e, null).kind === "refused" ? "Refused: " + e.message : "Not done: " + e.message;
  }
}

document.getElementById("login").addEventListener("submit", function (event) {
  event.preventDefault();
  token = document.getElementById("token").value;
  follow();
});
document.getElementById("configure").addEventListener("submit", configure);
document.getElementById("more-winners").addEventListener("click", () => showWinners(shownRound, true).catch((e) => failed(e, null)));
