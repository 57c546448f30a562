"""`/metrics` is served to the cluster's scrapers only: direct connections from the allowed networks."""

import httpx
import pytest

from firstin_stack import Stack

from .conftest import StackFactory


def _metrics_urls(stack: Stack) -> list[str]:
    return [f"{stack.api_url}/metrics", f"{stack.notifier_url}/metrics", f"{stack.processor.url}/metrics"]


@pytest.mark.parametrize(
    "forwarded", [{"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}], ids=["xff", "forwarded"]
)
async def test_a_request_that_came_through_a_proxy_does_not_get_metrics(
    firstin_stack: Stack, forwarded: dict[str, str]
) -> None:
    async with httpx.AsyncClient(timeout=10, follow_redirects=True) as http:
        for url in _metrics_urls(firstin_stack):
            direct = await http.get(url)
            assert direct.status_code == 200 and "# TYPE" in direct.text, url
            proxied = await http.get(url, headers=forwarded)
            assert proxied.status_code == 404 and "# TYPE" not in proxied.text, url


@pytest.mark.slow
async def test_metrics_are_refused_outside_the_allowed_networks(private_stack: StackFactory) -> None:
    _server, stack = private_stack(FIRSTIN_METRICS_ALLOWED_NETWORKS="10.0.0.0/8, fd00::/8")
    async with httpx.AsyncClient(timeout=10, follow_redirects=True) as http:
        for url in _metrics_urls(stack):
            refused = await http.get(url)  # from 127.0.0.1, outside both ranges
            assert refused.status_code == 404 and "# TYPE" not in refused.text, url
        assert (await http.get(f"{stack.api_url}/livez")).status_code == 200, "only /metrics is fenced"
