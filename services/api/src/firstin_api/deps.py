"""FastAPI dependencies, as Annotated aliases.

All `async def`: FastAPI runs a plain `def` dependency in its thread pool, two thread hand-offs per request
(about a tenth of the api's CPU at the door, per the profile in docs/benchmarks.md).
"""

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from firstin_api.health import HealthStore
from firstin_api.products import ProductStore
from firstin_api.round_orders import RoundOrders
from firstin_api.settings import ApiSettings
from firstin_api.store import OrderStore


async def _store(request: Request) -> OrderStore:
    store: OrderStore = request.app.state.store
    return store


async def _products(request: Request) -> ProductStore:
    products: ProductStore = request.app.state.products
    return products


async def _round_orders(request: Request) -> RoundOrders:
    orders: RoundOrders = request.app.state.round_orders
    return orders


async def _health(request: Request) -> HealthStore:
    health: HealthStore = request.app.state.health
    return health


async def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


Store = Annotated[OrderStore, Depends(_store)]
Products = Annotated[ProductStore, Depends(_products)]
Settings = Annotated[ApiSettings, Depends(_settings)]
RoundOrdersOf = Annotated[RoundOrders, Depends(_round_orders)]
Health = Annotated[HealthStore, Depends(_health)]

_bearer = HTTPBearer(auto_error=False)


async def _require_admin(
    settings: Settings, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    if credentials is None or not secrets.compare_digest(
        credentials.credentials.encode(), settings.admin_token.encode()
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "admin token required", headers={"WWW-Authenticate": "Bearer"}
        )


AdminOnly = Depends(_require_admin)
