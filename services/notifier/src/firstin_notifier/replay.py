"""Redis adapter of the notifier: the current state of buyer sessions' recent orders, read from the order
records (the source of truth), so an outcome decided while the buyer had no socket is not lost.

Sessions are read in groups: one round trip reads the recent-order index of every session of the group, a
second reads every order record they name (one HMGET per product). A storm of sockets connecting at once costs
two round trips per group, not two per socket.
"""

from collections import defaultdict
from collections.abc import Iterable

from pydantic import ValidationError
from redis.asyncio import Redis

from firstin_contracts import BuyerSession, OrderRecord, ProductKeys, SessionKeys, sku_of_order_id


class RecentOrders:
    def __init__(self, redis: Redis, *, limit: int):
        self._redis = redis
        self._limit = limit

    async def of_session(self, session: BuyerSession) -> list[OrderRecord]:
        """The session's latest orders, oldest first."""
        return (await self.of_sessions([session]))[session]

    async def of_sessions(self, sessions: Iterable[BuyerSession]) -> dict[BuyerSession, list[OrderRecord]]:
        """Each session's latest orders, oldest first, in two round trips for them all."""
        wanted = list(dict.fromkeys(sessions))
        found: dict[BuyerSession, list[OrderRecord]] = {session: [] for session in wanted}
        if self._limit == 0 or not wanted:
            return found
        async with self._redis.pipeline(transaction=False) as pipe:
            for session in wanted:
                pipe.zrange(SessionKeys(session.session_id).recent_orders, -self._limit, -1)
            indexes: list[list[bytes]] = await pipe.execute()
        by_sku: dict[str, list[str]] = defaultdict(list)
        for ids in indexes:
            for raw_id in ids:
                order_id = raw_id.decode()
                if sku := sku_of_order_id(order_id):
                    by_sku[sku].append(order_id)
        if not by_sku:
            return found
        skus = list(by_sku)
        async with self._redis.pipeline(transaction=False) as pipe:
            for sku in skus:
                pipe.hmget(ProductKeys(sku).orders, list(dict.fromkeys(by_sku[sku])))
            raws_per_sku: list[list[bytes | None]] = await pipe.execute()
        owners = {(s.session_id, s.email): s for s in wanted}
        for raws in raws_per_sku:
            for raw in raws:
                if raw is None:
                    continue  # queued-then-failed attempt, or a record reset away
                try:
                    record = OrderRecord.model_validate_json(raw)
                except ValidationError:
                    continue
                # Never show one buyer another's order, whatever the index says: the record names its session
                # and email, and only a socket whose token names both gets it.
                owner = owners.get((record.session_id, record.email))
                if owner is not None:
                    found[owner].append(record)
        for records in found.values():
            records.sort(key=lambda r: r.created_at)
        return found
