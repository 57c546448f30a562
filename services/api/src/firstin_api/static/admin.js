// Live admin view: the api's /admin/stream (server-sent events, twice a second) rendered as a table, with
// decisions/s computed from successive `decided` counts and charted over the last two minutes.
(function () {
  "use strict";
  const HISTORY = 240; // samples of 0.5 s
  const tbody = document.querySelector("#products tbody");
  const state = document.getElementById("state");
  const canvas = document.getElementById("chart");
  let source = null;
  let previous = {}; // sku -> {decided, at}
  const history = []; // total decisions/s per sample

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  function render(products) {
    const now = performance.now();
    let total = 0;
    tbody.replaceChildren();
    for (const p of products) {
      const before = previous[p.sku];
      const rate = before ? (p.decided - before.decided) / ((now - before.at) / 1000) : 0;
      previous[p.sku] = { decided: p.decided, at: now };
      total += Math.max(0, rate);
      const row = document.createElement("tr");
      row.dataset.sku = p.sku;
      [p.sku, p.stock_left, p.stock_total, p.queue_length, p.now_serving, p.decided,
       Math.round(Math.max(0, rate)), p.sold_out ? "yes" : "no"].forEach(function (v) { cell(row, String(v)); });
      tbody.appendChild(row);
    }
    history.push(total);
    if (history.length > HISTORY) history.shift();
    draw();
  }

  function draw() {
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

  // The admin token travels in a header only; the stream is opened with a short-lived ticket in its URL
  // (EventSource cannot send headers), and a new ticket is fetched whenever the stream must be reopened.
  async function follow(token) {
    if (source) source.close();
    state.textContent = "Connecting…";
    let answer;
    try {
      answer = await fetch("/admin/stream-tickets", { method: "POST", headers: { "Authorization": "Bearer " + token } });
    } catch (e) {
      answer = null;
    }
    if (answer && answer.status === 401) { state.textContent = "Wrong admin token."; return; }
    if (!answer || !answer.ok) { state.textContent = "Api unreachable; retrying…"; setTimeout(function () { follow(token); }, 2000); return; }
    const ticket = (await answer.json()).ticket;
    source = new EventSource("/admin/stream?ticket=" + encodeURIComponent(ticket));
    source.addEventListener("overview", function (e) {
      state.textContent = "Live.";
      render(JSON.parse(e.data));
    });
    source.onerror = function () {
      source.close();
      state.textContent = "Disconnected (api restarting?); retrying…";
      setTimeout(function () { follow(token); }, 1000);
    };
  }

  document.getElementById("login").addEventListener("submit", function (event) {
    event.preventDefault();
    follow(document.getElementById("token").value);
  });
})();
