"""Redis adapter of the notifier: the current state of a buyer session's recent orders, read from the order
records (the source of truth), so an outcome decided while the buyer had no socket is not lost."""

from collections import defaultdict
from typing import cast

from pydantic import ValidationError
from redis.asyncio import Redis

from firstin_contracts import BuyerSession, OrderRecord, ProductKeys, SessionKeys, sku_of_order_id


class RecentOrders:
    def __init__(self, redis: Redis, *, limit: int):
        self._redis = redis
        self._limit = limit

    async def of_session(self, session: BuyerSession) -> list[OrderRecord]:
        """The session's latest orders, oldest first."""
        if self._limit == 0:
            return []
        index = SessionKeys(session.session_id).recent_orders
        ids = [cast(bytes, i).decode() for i in await self._redis.zrange(index, -self._limit, -1)]
        by_sku: dict[str, list[str]] = defaultdict(list)
        for order_id in ids:
            if sku := sku_of_order_id(order_id):
                by_sku[sku].append(order_id)
        if not by_sku:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for sku, order_ids in by_sku.items():
                pipe.hmget(ProductKeys(sku).orders, order_ids)
            found = await pipe.execute()
        records = []
        for raws in found:
            for raw in raws:
                if raw is None:
                    continue  # queued-then-failed attempt, or a record reset away
                try:
                    record = OrderRecord.model_validate_json(raw)
                except ValidationError:
                    continue
                # Never show one buyer another's order, whatever the index says.
                if record.email == session.email and record.session_id == session.session_id:
                    records.append(record)
        return sorted(records, key=lambda r: r.created_at)
