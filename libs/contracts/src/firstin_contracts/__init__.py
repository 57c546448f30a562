"""Message contracts shared by the firstin services.

The only code the api, processor and notifier share: message models, the names of Redis keys, lists and
channels, and Socket.IO event names. It does no I/O.
"""

from firstin_contracts.keys import (
    DEFAULT_SKU,
    OUTCOMES_CHANNEL,
    PRODUCTS_SET,
    SKU_PATTERN,
    WAKE_CHANNEL,
    BuyerKeys,
    ProductKeys,
    is_valid_sku,
    order_id_for,
    sku_of_order_id,
)
from firstin_contracts.messages import (
    SCHEMA_VERSION,
    OrderDecided,
    OrderRecord,
    OrdersDecided,
    OrderStatus,
    OrderUpdate,
    PlaceOrder,
    ProductQueued,
    RejectReason,
)
from firstin_contracts.socketio import ORDER_EVENT, SOCKETIO_PATH
from firstin_contracts.tokens import InvalidToken, issue_buyer_token, verify_buyer_token

__all__ = [
    "DEFAULT_SKU",
    "ORDER_EVENT",
    "OUTCOMES_CHANNEL",
    "PRODUCTS_SET",
    "SCHEMA_VERSION",
    "SKU_PATTERN",
    "SOCKETIO_PATH",
    "WAKE_CHANNEL",
    "BuyerKeys",
    "InvalidToken",
    "OrderDecided",
    "OrderRecord",
    "OrderStatus",
    "OrderUpdate",
    "OrdersDecided",
    "PlaceOrder",
    "ProductKeys",
    "ProductQueued",
    "RejectReason",
    "is_valid_sku",
    "issue_buyer_token",
    "order_id_for",
    "sku_of_order_id",
    "verify_buyer_token",
]
