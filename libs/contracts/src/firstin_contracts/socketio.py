"""Socket.IO names shared by the notifier and its clients."""

SOCKETIO_PATH = "/socket.io"
# Emitted to a buyer's sockets with an OrderUpdate for every decision, and on connect for recent orders.
ORDER_EVENT = "order"
# Emitted to a socket when the replay of its session's recent orders is done: {"orders": n}, n the number of
# orders whose current state the socket now has (each sent as an `order` event, by the replay or live before it),
# also when n is 0. Sent after every connect, and again after the notifier catches up after an outage. A client
# that got it has been told everything there was to tell; one that did not, has not yet.
REPLAYED_EVENT = "replayed"
# Emitted to every socket with a pending order in a product's line: {sku, now_serving, stock_left,
# queue_length}. A client shows "#k in line, k - now_serving - 1 ahead of you".
PROGRESS_EVENT = "progress"
# Emitted before the notifier shuts down, so clients know the disconnect is a restart and reconnect.
SHUTDOWN_EVENT = "server_shutdown"
