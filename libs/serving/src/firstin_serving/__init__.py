"""What firstin's HTTP services share about being served by uvicorn: request limits, timeouts, trusted proxies."""

from firstin_serving.http_protocol import GuardedHttpToolsProtocol, HttpLimits
from firstin_serving.metrics_access import ClusterOnly
from firstin_serving.settings import ServingSettings
from firstin_serving.uvicorn_options import uvicorn_options

__all__ = ["ClusterOnly", "GuardedHttpToolsProtocol", "HttpLimits", "ServingSettings", "uvicorn_options"]
