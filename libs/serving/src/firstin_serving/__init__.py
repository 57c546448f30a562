"""What every firstin process does the same way, with no domain in it: common settings and dev defaults, JSON
logging, being served by uvicorn (request limits, timeouts, trusted proxies, a metrics port for the cluster), and a
heartbeat in Redis."""

from firstin_serving.body_limit import BodySizeLimit
from firstin_serving.heartbeat import Heartbeat
from firstin_serving.http_protocol import GuardedHttpToolsProtocol, HttpLimits
from firstin_serving.logs import logging_config
from firstin_serving.metrics_access import ClusterOnly
from firstin_serving.settings import (
    DEV_ADMIN_TOKEN,
    DEV_TOKEN_SECRET,
    BuyerTokenSettings,
    PageOriginSettings,
    ServingSettings,
)
from firstin_serving.tasks import BackgroundTask
from firstin_serving.uvicorn_options import uvicorn_options

__all__ = [
    "DEV_ADMIN_TOKEN",
    "DEV_TOKEN_SECRET",
    "BackgroundTask",
    "BodySizeLimit",
    "BuyerTokenSettings",
    "ClusterOnly",
    "GuardedHttpToolsProtocol",
    "Heartbeat",
    "HttpLimits",
    "PageOriginSettings",
    "ServingSettings",
    "logging_config",
    "uvicorn_options",
]
