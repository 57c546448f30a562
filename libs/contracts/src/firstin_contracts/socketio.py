"""Socket.IO names shared by the notifier and its clients."""

SOCKETIO_PATH = "/socket.io"
# Emitted to a buyer's sockets with an OrderUpdate for every decision, and on connect for recent orders.
ORDER_EVENT = "order"
