"""Message contracts shared by the firstin services.

The only code the api, processor and notifier share: message models, the names of Redis keys, lists and
channels, and Socket.IO event names. It does no I/O.
"""

from firstin_contracts.keys import (
    DEFAULT_SKU,
    OUTCOMES_CHANNEL,
    PRODUCTS_SET,
    PROGRESS_CHANNEL,
    QUEUED_CHANNEL,
    SKU_PATTERN,
    WAKE_CHANNEL,
    ProductKeys,
    SessionKeys,
    is_valid_sku,
    order_id_for,
    sku_of_order_id,
)
from firstin_contracts.messages import (
    SCHEMA_VERSION,
    OrderDecided,
    OrderQueued,
    OrderRecord,
    OrdersDecided,
    OrderStatus,
    OrderUpdate,
    PlaceOrder,
    ProductQueued,
    ProgressUpdated,
    RejectReason,
)
from firstin_contracts.socketio import (
    ORDER_EVENT,
    PROGRESS_EVENT,
    REPLAYED_EVENT,
    SHUTDOWN_EVENT,
    SOCKETIO_PATH,
    UNWATCH_EVENT,
    WATCH_EVENT,
)
from firstin_contracts.tokens import BuyerSession, InvalidToken, issue_buyer_token, new_session_id, verify_buyer_token

__all__ = [
    "DEFAULT_SKU",
    "ORDER_EVENT",
    "OUTCOMES_CHANNEL",
    "PRODUCTS_SET",
    "PROGRESS_CHANNEL",
    "PROGRESS_EVENT",
    "QUEUED_CHANNEL",
    "REPLAYED_EVENT",
    "SCHEMA_VERSION",
    "SHUTDOWN_EVENT",
    "SKU_PATTERN",
    "SOCKETIO_PATH",
    "UNWATCH_EVENT",
    "WAKE_CHANNEL",
    "WATCH_EVENT",
    "BuyerSession",
    "InvalidToken",
    "OrderDecided",
    "OrderQueued",
    "OrderRecord",
    "OrderStatus",
    "OrderUpdate",
    "OrdersDecided",
    "PlaceOrder",
    "ProductKeys",
    "ProductQueued",
    "ProgressUpdated",
    "RejectReason",
    "SessionKeys",
    "is_valid_sku",
    "issue_buyer_token",
    "new_session_id",
    "order_id_for",
    "sku_of_order_id",
    "verify_buyer_token",
]
