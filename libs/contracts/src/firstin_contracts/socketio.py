"""Socket.IO names shared by the notifier and its clients."""

SOCKETIO_PATH = "/socket.io"
# Emitted to a buyer's sockets with an OrderUpdate for every decision, and on connect for recent orders.
ORDER_EVENT = "order"
# Emitted to a socket when the replay of its session's recent orders is done: {"orders": n}, n the number of
# orders whose current state the socket now has (each sent as an `order` event, by the replay or live before it),
# also when n is 0. Sent after every connect, and again after the notifier catches up after an outage. A client
# that got it has been told everything there was to tell; one that did not, has not yet.
REPLAYED_EVENT = "replayed"
# Emitted to every socket with a pending order in a product's line, and to every socket watching the product:
# {sku, now_serving, stock_left, queue_length}, when the line moves. A client shows "#k in line, k - now_serving - 1
# ahead of you", and the stock left.
PROGRESS_EVENT = "progress"
# Sent by a client to hear a product's progress from then on, {"sku"}; allowed for any socket, buyer or not. The
# acknowledgement is {"watching": [skus]} or {"error": reason}. A socket may also ask at connect time, with
# `watch` in its auth ({"token"?, "watch": sku}): a socket without a token may connect for that alone, and then
# hears progress only, never an order event. The current state is GET /products/{sku}, read once watching.
WATCH_EVENT = "watch"
# Sent by a client to stop hearing a product's progress, {"sku"}; acknowledged like WATCH_EVENT. A pending order
# in that line keeps the socket hearing it until decided.
UNWATCH_EVENT = "unwatch"
# Emitted before the notifier shuts down, so clients know the disconnect is a restart and reconnect.
SHUTDOWN_EVENT = "server_shutdown"
