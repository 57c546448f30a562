// The demo page: POST /buy, then follow the outcome live on the notifier with the token from the 202.
(function () {
  "use strict";
  const form = document.getElementById("buy-form");
  const statusLine = document.getElementById("status");
  const stockLine = document.getElementById("stock");
  let socket = null;
  let socketEmail = null;
  let myOrderId = null;

  function show(text, cls) {
    statusLine.textContent = text;
    statusLine.className = cls || "";
  }

  function describe(order) {
    if (order.status === "accepted") return "Accepted: #" + order.position + " got one!";
    if (order.status === "rejected") return "Rejected (" + order.reason.replace(/_/g, " ") + "), #" + order.position + " in line";
    return "Pending, #" + order.position + " in line";
  }

  async function refreshStock() {
    try {
      const res = await fetch("/products/default");
      if (!res.ok) { stockLine.textContent = ""; return; }
      const p = await res.json();
      stockLine.textContent = p.sold_out ? "Sold out" : p.stock_left + " of " + p.stock_total + " left";
    } catch (e) { /* the status line says what matters */ }
  }

  async function follow(email, token) {
    if (socket && socketEmail === email) return;
    if (socket) socket.disconnect();
    const config = await (await fetch("/config")).json();
    socketEmail = email;
    socket = io(config.notifier_url, { auth: { token: token }, transports: ["websocket"] });
    socket.on("order", function (order) {
      if (order.order_id !== myOrderId) return;
      show(describe(order), order.status);
      refreshStock();
    });
    socket.on("connect_error", function (err) { show("Live updates unavailable: " + err.message, "rejected"); });
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const email = document.getElementById("email").value.trim();
    show("Sending…", "pending");
    let res;
    try {
      res = await fetch("/buy", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: email }),
      });
    } catch (e) {
      show("Network error, try again", "rejected");
      return;
    }
    const body = await res.json();
    if (res.status === 202) {
      myOrderId = body.order_id;
      show(describe(body), "pending");
      await follow(email, body.token);
    } else if (res.status === 409) {
      show("Sold out", "rejected");
    } else if (res.status === 422) {
      show("Please enter a valid email", "rejected");
    } else {
      show("Busy, try again in a moment", "rejected");
    }
    refreshStock();
  });

  refreshStock();
})();
