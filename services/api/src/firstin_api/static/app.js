// The reference buyer page. Everything it shows comes from the server, and survives a reload:
// - Buying: the page opens a buyer session for the email (POST /sessions), then orders with the session's token
//   (POST /orders), so its socket hears the order's place in line and outcome, live. One click is one purchase
//   attempt: the button is disabled while it is sent, and the attempt's Idempotency-Key goes with every retry of
//   it (after a network error, a 503, or a reload mid-request), so an attempt never buys twice.
// - Reloading: the session's token and order ids are kept in sessionStorage (this tab only, and gone when it
//   closes: nothing of a buyer stays behind on a shared computer). On load each order is read again
//   (GET /orders/{id}) and the socket reconnects with the token, whose replay brings the current state.
// - Watching: the socket watches the product (auth `watch`, no token needed), so every visitor sees the stock
//   and the line move, bought or not; GET /products/{sku} read after each connect is the state to start from.
// - When the socket cannot connect, the page reads its pending orders and the product over HTTP instead, less
//   and less often, until the socket is back or the orders are decided.
// The product is `?sku=...` in the page's address, else `default`. Nothing is loaded from outside firstin.
(function () {
  "use strict";
  const SKU_PATTERN = /^[a-z0-9][a-z0-9-]{0,47}$/; // as the api's
  const asked = new URLSearchParams(location.search).get("sku");
  const SKU = asked && SKU_PATTERN.test(asked) ? asked : "default";
  const STORAGE_KEY = "firstin.buyer";
  const ORDERS_KEPT = 20;
  const POLL_FIRST_MS = 1000;
  const POLL_MAX_MS = 15000;
  const SEND_TRIES = 3;
  // Why an order was turned down, in words; a reason the page does not know is shown without words.
  const REASONS = {
    sold_out: "sold out",
    insufficient_stock: "not enough left",
    limit_exceeded: "over the limit per customer",
    round_closed: "the sale was restarted",
  };

  const form = document.getElementById("buy-form");
  const emailInput = document.getElementById("email");
  const buyButton = document.getElementById("buy");
  const stockLine = document.getElementById("stock");
  const nextLine = document.getElementById("next");
  const statusLine = document.getElementById("status");
  const ordersList = document.getElementById("orders");
  const liveLine = document.getElementById("live");

  let saved = load(); // {email, token, orders: [order ids, oldest first], attempt: {key, email} or null}
  const orders = {}; // order id -> the server's latest word on it ({order_id, sku, status, reason, position})
  let product = null; // GET /products/{sku} with the progress heard since; {unknown: true} for a 404
  let progressHeard = 0;
  let lastProgress = null;
  let socket = null;
  let opening = false; // asking /config where the notifier is
  let live = "connecting"; // "live", "connecting" or "paused" (the socket is down and the page polls)
  let sending = false;
  let answer = null; // {text, cls}: what the last click got, when it was not an order
  let polling = false;
  let pollTimer = null;
  let pollDelay = POLL_FIRST_MS;

  function load() {
    let data = null;
    try {
      data = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    } catch (e) { /* storage off or unreadable: start afresh */ }
    data = data && typeof data === "object" ? data : {};
    return {
      email: typeof data.email === "string" ? data.email : null,
      token: typeof data.token === "string" ? data.token : null,
      orders: Array.isArray(data.orders) ? data.orders.filter((id) => typeof id === "string") : [],
      attempt: data.attempt && typeof data.attempt.key === "string" ? data.attempt : null,
    };
  }

  function save() {
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(saved));
    } catch (e) { /* storage off: the page still works until a reload */ }
  }

  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes); // unlike crypto.randomUUID, also on plain http pages
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // The server's word on one of the buyer's orders, from an `order` event, a 202 or GET /orders/{id}. A final
  // status is never taken back by a late "pending".
  function learn(order) {
    if (!order || typeof order.order_id !== "string" || order.sku !== SKU) return;
    const known = orders[order.order_id];
    if (known && known.status !== "pending" && order.status === "pending") return;
    orders[order.order_id] = order;
    if (!saved.orders.includes(order.order_id)) {
      saved.orders = saved.orders.concat(order.order_id).slice(-ORDERS_KEPT);
      save();
    }
  }

  function forget(orderId) {
    delete orders[orderId];
    saved.orders = saved.orders.filter((id) => id !== orderId);
    save();
  }

  function soldOut() {
    return product !== null && !product.unknown && product.stock_left <= 0;
  }

  // The door's rule (README): no new order while the orders in line take all that is left; it reopens when some
  // of them are turned down.
  function lineTakesAll() {
    return product !== null && !product.unknown && product.queue_length >= product.stock_left;
  }

  function describe(order) {
    if (order.status === "accepted") return "Accepted: #" + order.position + " got one!";
    if (order.status === "rejected") {
      const known = Object.prototype.hasOwnProperty.call(REASONS, order.reason);
      return "Rejected" + (known ? " (" + REASONS[order.reason] + ")" : "") + ", #" + order.position + " in line";
    }
    const ahead = Math.max(0, order.position - ((product && product.now_serving) || 0) - 1);
    return "Pending, #" + order.position + " in line, " + ahead + " ahead of you";
  }

  function setText(node, text, cls) {
    if (node.textContent !== text) node.textContent = text;
    if (cls !== undefined && node.className !== cls) node.className = cls;
  }

  function render() {
    if (product === null) {
      setText(stockLine, "Loading stock…");
      setText(nextLine, "");
    } else if (product.unknown) {
      setText(stockLine, "This product is not on sale.");
      setText(nextLine, "");
    } else if (soldOut()) {
      setText(stockLine, "Sold out" + (product.stock_total ? ": all " + product.stock_total + " are taken." : "."));
      setText(nextLine, "No more will be sold unless the sale is restarted.");
    } else {
      const of = product.stock_total ? " of " + product.stock_total : "";
      const line = product.queue_length > 0 ? " · " + product.queue_length + " in line" : "";
      setText(stockLine, product.stock_left + of + " left" + line);
      setText(nextLine, lineTakesAll()
        ? "The orders in line take all that is left. If some of them are turned down, Buy opens again."
        : "");
    }

    const mine = saved.orders.map((id) => orders[id]).filter(Boolean);
    const latest = sending || answer ? null : mine[mine.length - 1] || null;
    if (sending) setText(statusLine, "Sending…", "pending");
    else if (answer) setText(statusLine, answer.text, answer.cls);
    else if (latest) setText(statusLine, describe(latest), latest.status);
    else if (saved.orders.length > 0) setText(statusLine, "Looking up your order…", "pending");
    else setText(statusLine, "", "");

    const earlier = mine.filter((o) => o !== latest).reverse();
    const texts = earlier.map(describe);
    if (Array.from(ordersList.children, (li) => li.textContent).join("\n") !== texts.join("\n")) {
      ordersList.replaceChildren(...earlier.map((o, i) => {
        const item = document.createElement("li");
        item.textContent = texts[i];
        item.className = o.status;
        return item;
      }));
    }

    setText(liveLine, live === "paused"
      ? "Live updates are paused. This page checks for news by itself meanwhile."
      : "", "note");
    buyButton.disabled = sending || soldOut() || lineTakesAll() || (product !== null && product.unknown === true);
  }

  async function refreshProduct() {
    const heardBefore = progressHeard;
    try {
      const res = await fetch("/products/" + SKU);
      if (res.status === 404) product = { unknown: true };
      else if (res.ok) {
        const read = await res.json();
        // Progress heard while the read was on its way may be newer than it; any progress heard before was
        // published before the read, so the read is at least as new.
        product = progressHeard === heardBefore ? read : Object.assign(read, lastProgress);
      }
    } catch (e) { /* the next connect or poll reads it again */ }
    render();
  }

  async function refreshOrder(orderId) {
    try {
      const res = await fetch("/orders/" + encodeURIComponent(orderId));
      if (res.status === 404) forget(orderId);
      else if (res.ok) learn(await res.json());
    } catch (e) { /* read again at the next poll */ }
  }

  function pendingIds() {
    return saved.orders.filter((id) => !orders[id] || orders[id].status === "pending");
  }

  // The socket is down: read over HTTP what it would have told, less and less often, until it is back.
  function startPolling() {
    if (polling || live === "live") return;
    polling = true;
    pollDelay = POLL_FIRST_MS;
    pollTimer = setTimeout(poll, pollDelay);
  }

  function stopPolling() {
    polling = false;
    clearTimeout(pollTimer);
  }

  async function poll() {
    live = "paused";
    if (socket === null) openSocket();
    await Promise.all([refreshProduct()].concat(pendingIds().map(refreshOrder)));
    render();
    if (!polling) return; // the socket came back meanwhile
    pollDelay = Math.min(pollDelay * 2, POLL_MAX_MS);
    pollTimer = setTimeout(poll, pollDelay);
  }

  function becameLive() {
    live = "live";
    stopPolling();
    render();
  }

  async function openSocket() {
    if (opening || socket !== null) return;
    opening = true;
    let config;
    try {
      config = await (await fetch("/config")).json();
    } catch (e) {
      startPolling(); // and the next poll tries again
      return;
    } finally {
      opening = false;
    }
    // auth is asked for at every (re)connect: the current token, if any, and the product to watch.
    socket = io(config.notifier_url, {
      auth: (give) => give(saved.token ? { token: saved.token, watch: SKU } : { watch: SKU }),
      transports: ["websocket"],
    });
    socket.on("connect", function () {
      refreshProduct();
      if (!saved.token) becameLive(); // a buyer socket is live once its replay is done
    });
    socket.on("replayed", becameLive);
    socket.on("order", function (order) {
      learn(order);
      render();
    });
    socket.on("progress", function (p) {
      if (p.sku !== SKU) return;
      progressHeard += 1;
      lastProgress = p;
      product = Object.assign({}, product && !product.unknown ? product : {}, p);
      render();
    });
    socket.on("disconnect", function (reason) {
      if (reason === "io client disconnect") return; // the page reconnects with another token
      live = "connecting";
      if (reason === "io server disconnect") socket.connect(); // socket.io does not retry this one itself
      startPolling();
    });
    socket.on("connect_error", function (err) {
      if (!socket.active && (err.message === "token expired" || err.message === "invalid token")) {
        // The session is over: the page keeps watching without it, and reads its orders over HTTP.
        saved.token = null;
        save();
        socket.connect();
      }
      startPolling();
    });
  }

  function reconnect() {
    if (socket === null) return;
    socket.disconnect();
    live = "connecting";
    socket.connect();
  }

  class Shown extends Error {}

  async function openSession(email) {
    if (saved.token && saved.email === email) return saved.token;
    const res = await fetch("/sessions", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ email: email }),
    });
    if (res.status === 422) throw new Shown("Please enter a valid email");
    if (res.status === 429) throw new Shown("Too many tries, wait a minute");
    if (!res.ok) throw new Shown("Busy, try again in a moment");
    const token = (await res.json()).token;
    if (saved.email !== email) {
      for (const id of saved.orders) delete orders[id]; // another buyer's orders are not this one's to see
      saved.orders = [];
    }
    saved.email = email;
    saved.token = token;
    save();
    reconnect();
    return token;
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // POST /orders with the attempt's key; network errors and 503s are retried with the same key. Returns the
  // last response, or null when none came back (the order may or may not be queued: the key tells later).
  async function sendOrder(attempt, token) {
    for (let tries = 1; ; tries++) {
      let res = null;
      try {
        res = await fetch("/orders", {
          method: "POST",
          headers: {
            "Content-Type": "application/json",
            "Authorization": "Bearer " + token,
            "Idempotency-Key": attempt.key,
          },
          body: JSON.stringify({ email: attempt.email, sku: SKU }),
        });
      } catch (e) { /* no answer: retried below */ }
      if ((res !== null && res.status !== 503) || tries >= SEND_TRIES) return res;
      const retryAfter = res !== null ? Number(res.headers.get("Retry-After")) : 0;
      await sleep(Math.min(retryAfter > 0 ? retryAfter * 1000 : 250 * 2 ** tries, 5000));
    }
  }

  async function buy(email) {
    if (sending) return;
    sending = true;
    answer = null;
    // A click after an attempt that got no answer is that attempt again: the same key, so it cannot buy twice.
    if (!saved.attempt || saved.attempt.email !== email) saved.attempt = { key: newKey(), email: email };
    save();
    render();
    let res = null;
    try {
      res = await sendOrder(saved.attempt, await openSession(email));
    } catch (e) {
      answer = { text: e instanceof Shown ? e.message : "Could not reach the shop, try again", cls: "rejected" };
    }
    sending = false;
    if (answer === null) await settle(res);
    render();
  }

  async function settle(res) {
    if (res === null || res.status === 503 || res.status >= 500) {
      answer = { text: "No answer from the shop. Click Buy again: it will not buy twice.", cls: "pending" };
      return; // the attempt (and its key) stays for the next click
    }
    saved.attempt = null; // any other answer is final for this attempt: the key is claimed or free again
    save();
    const body = await res.json().catch(() => ({}));
    if (res.status === 202) {
      if (typeof body.token === "string" && body.token !== saved.token) {
        saved.token = body.token; // the session had expired: the order started a new one
        save();
        reconnect();
      }
      learn(body);
    } else if (res.status === 409) {
      answer = { text: "Sold out", cls: "rejected" };
      refreshProduct();
    } else if (res.status === 404) {
      product = { unknown: true };
    } else if (res.status === 422) {
      answer = { text: "Please enter a valid email", cls: "rejected" };
    } else if (res.status === 429) {
      answer = { text: "Too many tries, wait a minute", cls: "rejected" };
    } else {
      answer = { text: "Busy, try again in a moment", cls: "rejected" };
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    buy(emailInput.value.trim().toLowerCase());
  });

  if (saved.email) emailInput.value = saved.email;
  render();
  openSocket();
  refreshProduct();
  for (const id of saved.orders) refreshOrder(id).then(render);
  // A click that got no answer before the reload: send it again, with its key, to learn what became of it.
  if (saved.attempt) buy(saved.attempt.email);
})();
