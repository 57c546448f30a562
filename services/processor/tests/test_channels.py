"""The AsyncAPI document names every channel the services exchange, each with its contract model as schema."""

from typing import Any

import pytest
from faststream.redis import RedisBroker

from firstin_contracts import (
    ORDER_EVENT,
    OUTCOMES_CHANNEL,
    PROGRESS_CHANNEL,
    PROGRESS_EVENT,
    QUEUED_CHANNEL,
    REPLAYED_EVENT,
    SHUTDOWN_EVENT,
    UNWATCH_EVENT,
    WAKE_CHANNEL,
    WATCH_EVENT,
    ProductKeys,
)
from firstin_processor.channels import channels_document
from firstin_processor.main import create_app
from firstin_processor.settings import ProcessorSettings


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return channels_document(RedisBroker(), "redis://127.0.0.1:6379/0").to_specification().to_jsonable()


def payload_schemas(document: dict[str, Any], address: str) -> set[str]:
    """The schema names of the messages of every channel at `address`."""
    names = set()
    for channel in document["channels"].values():
        if channel["address"] != address:
            continue
        for ref in channel["messages"].values():
            message = document["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
            names.add(message["payload"]["$ref"].rsplit("/", 1)[-1])
    return names


@pytest.mark.parametrize(
    ("address", "schema"),
    [
        (ProductKeys("<sku>").queue, "PlaceOrder"),
        (QUEUED_CHANNEL, "OrderQueued"),
        (WAKE_CHANNEL, "ProductQueued"),
        (OUTCOMES_CHANNEL, "OrdersDecided"),
        (PROGRESS_CHANNEL, "ProgressUpdated"),
    ],
)
def test_every_channel_is_documented_with_its_contract(document: dict[str, Any], address: str, schema: str) -> None:
    assert payload_schemas(document, address) == {schema}
    assert document["channels"] and all(
        c.get("description") for c in document["channels"].values() if c["address"] == address
    )
    assert "properties" in document["components"]["schemas"][schema]


def test_the_socketio_events_are_described_beside_the_channels(document: dict[str, Any]) -> None:
    description = document["info"]["description"]
    for event in (ORDER_EVENT, PROGRESS_EVENT, REPLAYED_EVENT, SHUTDOWN_EVENT, WATCH_EVENT, UNWATCH_EVENT):
        assert f"- `{event}` `{{" in description
    assert "schema_version" not in description, "the notifier strips it from what buyers receive"


def test_the_processor_serves_it_naming_its_redis_once_and_without_the_password() -> None:
    app = create_app(ProcessorSettings(redis_url="redis://:hunter2@redis.internal:6380/0"))
    servers = app.schema.to_specification().to_jsonable()["servers"]
    assert [s["host"] for s in servers.values()] == ["redis.internal:6380"]
    assert "hunter2" not in str(app.schema.to_specification().to_jsonable())
