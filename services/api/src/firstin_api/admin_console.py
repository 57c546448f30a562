"""Admin routes behind the console's panels besides the products: the services' health (with the door's refusals
as this api counts them), and a product's dead letters."""

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from firstin_api import metrics
from firstin_api.deps import AdminOnly, Health, Products
from firstin_api.health import ServicesHealth
from firstin_api.schemas import (
    DeadLetterPublic,
    DeadLettersPublic,
    DoorPublic,
    ErrorPublic,
    HealthPublic,
    ProcessPublic,
    RedisPublic,
    SkuPath,
    from_ms,
)

router = APIRouter(dependencies=[AdminOnly], responses={401: {"model": ErrorPublic}})


def health_public(health: ServicesHealth) -> HealthPublic:
    now_ms = time.time() * 1000
    refused = metrics.door_refusals()

    def processes(service: str) -> list[ProcessPublic]:
        return [
            ProcessPublic(**h.model_dump(), seen_seconds_ago=round(max(0.0, now_ms - h.at) / 1000, 1))
            for h in health.of(service)
        ]

    return HealthPublic(
        redis=RedisPublic(
            ok=health.redis_ok,
            latency_ms=health.redis_latency_ms,
            version=health.redis_version,
            error=health.redis_error,
        ),
        processors=processes("processor"),
        notifiers=processes("notifier"),
        door=DoorPublic(sold_out=refused.get("sold_out", 0), rate_limited=refused.get("rate_limited", 0)),
    )


@router.get("/admin/health", response_model=HealthPublic)
async def services_health(health: Health) -> HealthPublic:
    """Redis, every processor and notifier alive (by the heartbeats they keep in Redis), and the door's refusals
    counted by this api. Answers 200 when Redis is down too, saying so."""
    return health_public(await health.read())


def _letter(raw: bytes) -> DeadLetterPublic:
    try:
        letter: dict[str, Any] = json.loads(raw)
    except ValueError:
        return DeadLetterPublic(reason="unreadable", at=None, message=raw[:1024].hex())
    at = letter.get("at")
    message = letter.get("message", letter.get("message_hex", ""))
    return DeadLetterPublic(
        reason=str(letter.get("reason", "")),
        at=from_ms(int(at)) if isinstance(at, int | float) else None,
        message=str(message),
    )


@router.get(
    "/admin/products/{sku}/dead-letters", response_model=DeadLettersPublic, responses={404: {"model": ErrorPublic}}
)
async def dead_letters(
    sku: SkuPath, products: Products, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> DeadLettersPublic:
    """The messages the processor set aside for this product, newest first, each with why."""
    if await products.get_product(sku) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown sku {sku!r}")
    total, newest = await products.dead_letters(sku, limit)
    return DeadLettersPublic(sku=sku, total=total, letters=[_letter(raw) for raw in newest])
