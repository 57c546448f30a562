"""Redis adapter of a sale round's orders, read in position order: position p of a round is at index
first_index + p - 1 of the product's order-ids list (enqueue.lua pushes each id as it gives the position), so a
page of a round costs one LRANGE and one HMGET, whatever the number of rounds and orders before it."""

import base64
import binascii
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pydantic import ValidationError
from redis.asyncio import Redis

from firstin_api.products import Round
from firstin_contracts import OrderRecord, OrderStatus, ProductKeys

# A page with a status filter reads at most this many orders to fill itself; the export reads this many at a time.
SCAN_CHUNK = 1000


class BadCursor(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a listing goes on: after this position of this round. Opaque to clients."""

    round: int
    after: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.round}:{self.after}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        try:
            round_, after = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode().split(":")
            cursor = cls(int(round_), int(after))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise BadCursor("not a cursor this api gave") from exc
        if cursor.round < 1 or cursor.after < 0:
            raise BadCursor("not a cursor this api gave")
        return cursor


@dataclass(frozen=True, slots=True)
class Page:
    orders: list[OrderRecord]
    next: Cursor | None  # None: the round had no more orders when read


class RoundOrders:
    def __init__(self, redis: Redis):
        self._redis = redis

    async def read(self, sku: str, round_: Round, after: int, count: int) -> list[OrderRecord]:
        """The orders at positions after+1 .. after+count of the round (fewer at its end), in position order."""
        last = min(round_.orders, after + count)
        if last <= after:
            return []
        keys = ProductKeys(sku)
        ids = await self._redis.lrange(keys.order_ids, round_.first_index + after, round_.first_index + last - 1)
        raws = await self._redis.hmget(keys.orders, ids) if ids else []
        records = []
        for position, raw in enumerate(raws, start=after + 1):
            try:
                record = OrderRecord.model_validate_json(raw) if raw is not None else None
            except ValidationError:
                record = None
            # The list and the records are written together; an entry that does not match is not shown.
            if record is not None and record.round == round_.round and record.position == position:
                records.append(record)
        return records

    async def page(self, sku: str, round_: Round, *, after: int, limit: int, status: OrderStatus | None) -> Page:
        """Up to `limit` orders after position `after`, with that status if given. With a status, a page reads at
        most SCAN_CHUNK orders and may hold fewer than `limit` (even none) before its `next`."""
        count = limit if status is None else max(limit, SCAN_CHUNK)
        found: list[OrderRecord] = []
        reached = after
        for record in await self.read(sku, round_, after, count):
            if len(found) == limit:
                break
            reached = record.position
            if status is None or record.status is status:
                found.append(record)
        else:
            reached = min(round_.orders, after + count)
        return Page(found, Cursor(round_.round, reached) if reached < round_.orders else None)

    async def all(self, sku: str, round_: Round) -> AsyncIterator[list[OrderRecord]]:
        """Every order of the round, in position order, a chunk at a time."""
        for after in range(0, round_.orders, SCAN_CHUNK):
            yield await self.read(sku, round_, after, SCAN_CHUNK)
