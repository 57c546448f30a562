"""DoorCache keeps a bounded number of products: made-up skus cannot grow an api worker's memory."""

from firstin_api.fastpath import DoorCache


async def test_the_cache_keeps_the_most_recently_read_products_only() -> None:
    reads: list[str] = []

    async def is_closed(sku: str) -> bool:
        reads.append(sku)
        return sku == "closed"

    cache = DoorCache(is_closed, ttl=60, max_products=3)
    assert await cache.closed("closed") is True
    for i in range(1000):
        assert await cache.closed(f"made-up-{i}") is False
    assert len(cache._known) == 3, "bounded"
    assert list(cache._known) == ["made-up-997", "made-up-998", "made-up-999"]
    reads.clear()
    assert await cache.closed("made-up-999") is False
    assert reads == [], "a recent product is still answered from the cache"
    assert await cache.closed("closed") is True
    assert reads == ["closed"], "an evicted one is read again"
