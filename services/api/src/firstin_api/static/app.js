// The demo page. For an email it opens a buyer session (POST /sessions), connects to the notifier with the
// session's token, then buys with that token (POST /buy), so the socket hears the order's place in line,
// the line's progress and the outcome, live. Nothing is loaded from outside firstin.
(function () {
  "use strict";
  const form = document.getElementById("buy-form");
  const statusLine = document.getElementById("status");
  const stockLine = document.getElementById("stock");
  let session = null; // {email, token, socket}
  let myOrder = null; // the latest order's {order_id, position, status}
  const heard = {}; // order_id -> latest state from the socket (it may arrive before the 202 does)
  let nowServing = 0;

  function show(text, cls) {
    statusLine.textContent = text;
    statusLine.className = cls || "";
  }

  function describe(order) {
    if (order.status === "accepted") return "Accepted: #" + order.position + " got one!";
    if (order.status === "rejected") return "Rejected (" + order.reason.replace(/_/g, " ") + "), #" + order.position + " in line";
    const ahead = Math.max(0, order.position - nowServing - 1);
    return "Pending, #" + order.position + " in line, " + ahead + " ahead of you";
  }

  function render() {
    if (myOrder) show(describe(myOrder), myOrder.status);
  }

  function showStock(p) {
    stockLine.textContent = p.sold_out ? "Sold out" : p.stock_left + " of " + p.stock_total + " left";
  }

  async function refreshStock() {
    try {
      const res = await fetch("/products/default");
      if (res.ok) showStock(await res.json());
    } catch (e) { /* the status line says what matters */ }
  }

  async function openSession(email) {
    if (session && session.email === email) return session;
    if (session) session.socket.disconnect();
    const res = await fetch("/sessions", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ email: email }),
    });
    if (!res.ok) throw new Error(res.status === 422 ? "Please enter a valid email" : "Busy, try again in a moment");
    const token = (await res.json()).token;
    const config = await (await fetch("/config")).json();
    const socket = io(config.notifier_url, { auth: { token: token }, transports: ["websocket"] });
    socket.on("order", function (order) {
      const known = heard[order.order_id];
      if (known && known.status !== "pending" && order.status === "pending") return; // never go back
      heard[order.order_id] = order;
      if (!myOrder || order.order_id !== myOrder.order_id) return;
      myOrder = order;
      render();
      if (order.status !== "pending") refreshStock();
    });
    socket.on("progress", function (p) {
      if (p.sku !== "default") return;
      nowServing = p.now_serving;
      render();
    });
    socket.on("connect_error", function (err) { show("Live updates unavailable: " + err.message, "rejected"); });
    session = { email: email, token: token, socket: socket };
    return session;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const email = document.getElementById("email").value.trim().toLowerCase();
    show("Sending…", "pending");
    let res;
    try {
      const s = await openSession(email);
      res = await fetch("/buy", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Authorization": "Bearer " + s.token },
        body: JSON.stringify({ email: email }),
      });
    } catch (e) {
      show(e.message || "Network error, try again", "rejected");
      return;
    }
    const body = await res.json();
    if (res.status === 202) {
      myOrder = heard[body.order_id] || body;
      render();
    } else if (res.status === 409) {
      show("Sold out", "rejected");
    } else if (res.status === 422) {
      show("Please enter a valid email", "rejected");
    } else if (res.status === 429) {
      show("Too many tries, wait a minute", "rejected");
    } else {
      show("Busy, try again in a moment", "rejected");
    }
    refreshStock();
  });

  refreshStock();
})();
