// What the admin page shows, drawn from what the api answered; no fetching here (admin.js does that).
// Everything goes into the page as text (textContent), never as markup.
const HISTORY = 240; // samples of 0.5 s: two minutes
const history = []; // total decisions/s per sample
const previous = {}; // sku -> {decided, round, at}

function el(tag, text, attributes) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  return node;
}

function reasons(rejected) {
  const parts = Object.entries(rejected || {}).map(([reason, n]) => reason + " " + n);
  return parts.length ? parts.join(", ") : "0";
}

function short(id) {
  return id ? String(id).slice(0, 8) : "none";
}

export function showState(kind, text) {
  const state = document.getElementById("state");
  state.dataset.state = kind;
  state.textContent = text;
}

export function renderProducts(products, selected, onSelect) {
  const tbody = document.querySelector("#products tbody");
  const now = performance.now();
  let total = 0;
  tbody.replaceChildren();
  for (const p of products) {
    const before = previous[p.sku];
    const sameRound = before && before.round === p.round;
    const rate = sameRound ? Math.max(0, (p.decided - before.decided) / ((now - before.at) / 1000)) : 0;
    previous[p.sku] = { decided: p.decided, round: p.round, at: now };
    total += rate;
    const row = el("tr", undefined, { "data-sku": p.sku });
    if (p.sku === selected) row.className = "selected";
    const pick = el("button", p.sku, { type: "button", class: "link", "aria-label": "show " + p.sku });
    pick.addEventListener("click", () => onSelect(p.sku));
    const first = el("td", undefined, { "data-label": "sku", "data-col": "sku" });
    first.appendChild(pick);
    row.appendChild(first);
    const cells = [
      ["round", p.round], ["stock left", p.stock_left], ["of", p.stock_total], ["queue", p.queue_length],
      ["now serving", p.now_serving], ["decided", p.decided], ["decisions/s", Math.round(rate)],
      ["sold out", p.sold_out ? "yes" : "no"], ["accepted", p.accepted], ["rejected", reasons(p.rejected)],
      ["dead letters", p.dead_letters], ["decided by", short(p.decided_by)],
    ];
    for (const [label, value] of cells) {
      row.appendChild(el("td", value, { "data-label": label, "data-col": label.replace(/[ /]/g, "_") }));
    }
    tbody.appendChild(row);
  }
  history.push(total);
  if (history.length > HISTORY) history.shift();
  drawChart();
}

function drawChart() {
  const canvas = document.getElementById("chart");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const peak = Math.max(1, ...history);
  ctx.strokeStyle = "#1a7f37";
  ctx.beginPath();
  history.forEach(function (v, i) {
    const x = (i / (HISTORY - 1)) * w, y = h - (v / peak) * (h - 16);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
  ctx.fillStyle = "#555";
  ctx.fillText("peak " + Math.round(peak) + " decisions/s", 6, 12);
}

function processes(id, list, describe, none) {
  const ul = document.querySelector("#" + id + " ul");
  ul.replaceChildren();
  if (!list.length) ul.appendChild(el("li", none, { class: "bad" }));
  for (const p of list) {
    ul.appendChild(el("li", short(p.instance) + " on " + p.host + " (pid " + p.pid + "): " + describe(p) +
      " · seen " + p.seen_seconds_ago + " s ago", { "data-instance": p.instance }));
  }
}

export function renderHealth(health) {
  const redis = document.querySelector("#redis .value");
  redis.className = "value " + (health.redis.ok ? "good" : "bad");
  redis.textContent = health.redis.ok
    ? "ok · " + health.redis.latency_ms + " ms · Redis " + health.redis.version
    : "unreachable (" + (health.redis.error || "no answer") + ")";
  processes("processors", health.processors, (p) => "decides " + p.leases + " product(s)",
    "none alive: no order is being decided");
  processes("notifiers", health.notifiers,
    (n) => n.sockets + " sockets connected · " + (n.subscribed ? "hearing outcomes" : "outcomes subscription down"),
    "none alive: buyers hear nothing live");
  document.getElementById("door-409").textContent = health.door.sold_out;
  document.getElementById("door-429").textContent = health.door.rate_limited;
}

export function renderRounds(sku, rounds, shown, actions) {
  document.getElementById("product-title").textContent = "Product " + sku;
  const list = document.getElementById("rounds");
  list.replaceChildren();
  for (const r of rounds.slice().reverse()) {
    const current = r.closed_at === null;
    const li = el("li", "Round " + r.round + (current ? " (current)" : " (closed)") + ": " + r.stock_left + " of " +
      r.stock_total + " left · " + r.orders + " orders · " + r.accepted + " accepted · rejected " +
      reasons(r.rejected) + (r.pending ? " · " + r.pending + " waiting" : ""), { "data-round": r.round });
    const winners = el("button", "Winners", { type: "button", "aria-pressed": String(r.round === shown) });
    winners.addEventListener("click", () => actions.winners(r.round));
    const exported = el("button", "Export", { type: "button" });
    exported.addEventListener("click", () => actions.export(r.round));
    li.append(winners, exported);
    list.appendChild(li);
  }
}

export function renderWinners(round, orders, more, append) {
  document.getElementById("winners-title").textContent = "Winners of round " + round;
  const list = document.getElementById("winners");
  if (!append) list.replaceChildren();
  for (const o of orders) {
    list.appendChild(el("li", "#" + o.position + " " + o.email + " (" + o.quantity + ")", { "data-order": o.order_id }));
  }
  if (!list.children.length) list.appendChild(el("li", "none yet", { class: "muted" }));
  document.getElementById("more-winners").hidden = !more;
}

export function renderDeadLetters(letters) {
  document.getElementById("dead-total").textContent = "(" + letters.total + ")";
  const list = document.getElementById("dead-letters");
  list.replaceChildren();
  for (const letter of letters.letters) {
    const li = el("li", letter.reason + (letter.at ? " · " + new Date(letter.at).toLocaleTimeString() : "") + " ");
    li.appendChild(el("span", letter.message.slice(0, 80), { class: "message" }));
    list.appendChild(li);
  }
  if (!letters.total) list.appendChild(el("li", "none", { class: "muted" }));
}
