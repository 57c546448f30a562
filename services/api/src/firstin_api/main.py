"""Composition root of the api: builds the broker, the stores and the FastAPI app."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from faststream.redis import RedisBroker
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from firstin_api import admin, admin_console, admin_rounds, docs_page
from firstin_api.answers import STORE_FAILURES, store_unavailable
from firstin_api.buyer_tokens import BuyerTokens
from firstin_api.cross_origin import CrossOrigin
from firstin_api.door import DoorCache
from firstin_api.health import HealthStore
from firstin_api.limits import JsonBodiesOnly
from firstin_api.metrics import metrics_app
from firstin_api.order_endpoint import Ordering, OrderRoutes, order_operations
from firstin_api.products import ProductStore
from firstin_api.round_orders import RoundOrders
from firstin_api.routes import router
from firstin_api.security_headers import SecurityHeaders
from firstin_api.settings import ApiSettings, get_settings
from firstin_api.static_files import STATIC_DIR
from firstin_api.store import OrderStore, RateLimits
from firstin_api.validation import validation_failed
from firstin_api.wire import JsonEnvelopeFormat
from firstin_serving import BodySizeLimit, ClusterOnly

log = logging.getLogger("firstin.api")


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        broker = RedisBroker(
            settings.redis_url,
            message_format=JsonEnvelopeFormat,
            socket_connect_timeout=settings.redis_timeout_seconds,
            logger=log,
            log_level=logging.DEBUG,
        )
        await broker.connect()
        # The store's own client, which FastStream also publishes through (pipeline=): a *blocking* pool, so a
        # burst beyond max_connections waits its turn instead of failing with MaxConnectionsError (a 503).
        redis = Redis(
            connection_pool=BlockingConnectionPool.from_url(
                settings.redis_url,
                max_connections=settings.redis_max_connections,
                timeout=settings.redis_timeout_seconds,
                socket_timeout=settings.redis_timeout_seconds,
                socket_connect_timeout=settings.redis_timeout_seconds,
                # After a Redis restart every pooled connection is dead: retry a failed call on a fresh one.
                # Safe for the enqueue transaction too: its script is idempotent per order id (enqueue.lua).
                retry_on_error=[RedisConnectionError, RedisTimeoutError],
                retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
            )
        )
        app.state.store = OrderStore(
            broker,
            redis,
            idempotency_ttl=settings.idempotency_ttl_seconds,
            recent_orders_kept=settings.recent_orders_kept,
            rate_limits=RateLimits(per_ip=settings.rate_limit_per_ip, per_email=settings.rate_limit_per_email),
        )
        app.state.products = ProductStore(redis)
        app.state.round_orders = RoundOrders(redis)
        app.state.health = HealthStore(redis)
        app.state.ordering = Ordering(
            line=app.state.store,
            door=DoorCache(app.state.store.door_closed, ttl=settings.door_cache_seconds),
            tokens=BuyerTokens(secret=settings.token_secret, ttl_seconds=settings.token_ttl_seconds),
        )
        log.info("api started")
        try:
            yield
        finally:
            await broker.stop()
            await redis.aclose()
            log.info("api stopped")

    app = FastAPIOffline(
        title="firstin api",
        summary="First-come, first-served sales of limited stock",
        lifespan=lifespan,
        # Swagger UI's files are served from the package, not a CDN; /docs itself is docs_page.py's. No /redoc: its
        # search runs in a blob: worker and its footer shows a logo from a CDN, both refused by the pages' CSP.
        docs_url=None,
        redoc_url=None,
        static_url=docs_page.DOCS_ASSETS_URL,
    )
    app.state.settings = settings
    # Ahead of every other route: they are almost all the traffic.
    operations = order_operations(lambda: app.state.ordering)
    app.router.routes[0:0] = operations
    app.include_router(router)
    app.include_router(admin.router)
    app.include_router(admin_rounds.router)
    app.include_router(docs_page.router)
    app.include_router(admin_console.router)

    app.add_exception_handler(RequestValidationError, validation_failed)

    async def redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
        answer = store_unavailable(request.url.path, exc)
        return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)

    for failure in STORE_FAILURES:
        app.add_exception_handler(failure, redis_unavailable)

    @app.get("/livez", include_in_schema=False)
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        try:
            ready = await request.app.state.store.ping()
        except (RedisConnectionError, RedisTimeoutError, OSError):
            ready = False
        return JSONResponse({"status": "ready" if ready else "redis unreachable"}, status_code=200 if ready else 503)

    @app.get("/config", include_in_schema=False)
    async def client_config() -> dict[str, str]:
        """What the demo page needs to reach the notifier."""
        return {"notifier_url": settings.notifier_public_url}

    @app.get("/", include_in_schema=False)
    async def demo_page() -> FileResponse:
        return FileResponse(str(STATIC_DIR.joinpath("index.html")))

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.mount("/metrics", ClusterOnly(metrics_app(), settings.metrics_allowed_networks))
    app.add_middleware(OrderRoutes, operations=operations)
    app.add_middleware(JsonBodiesOnly)
    app.add_middleware(SecurityHeaders, notifier_public_url=settings.notifier_public_url)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Outermost, so that every answer a page on another origin gets (413 and 415 too) is one it may read.
    app.add_middleware(CrossOrigin, allowed_origins=settings.cors_allowed_origins)
    return app
