"""The wire format of queued orders: FastStream's JSON envelope, {"data": "<body>", "headers": {...}}.

FastStream's default format is binary (BinaryMessageFormatV1), which the processor's Lua script cannot read.
FastStream's parsers still read this JSON envelope (their "legacy JSON" path), so any FastStream subscriber can
consume these messages too, and Lua reads them with cjson.
"""

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from faststream.redis.parser import BinaryMessageFormatV1, MessageFormat
from faststream.types import SendableMessage

if TYPE_CHECKING:
    from fast_depends.library.serializer import SerializerProto


class JsonEnvelopeFormat(MessageFormat):
    __slots__ = ()

    @classmethod
    async def encode(
        cls,
        *,
        message: Sequence[SendableMessage] | SendableMessage,
        reply_to: str | None,
        headers: dict[str, Any] | None,
        correlation_id: str,
        serializer: Optional["SerializerProto"] = None,
        # FastStream's codec protocol has no public name; the value is passed through to build() untouched.
        codec: Any = None,
    ) -> bytes:
        built = await cls.build(
            message=message,
            reply_to=reply_to,
            headers=headers,
            correlation_id=correlation_id,
            serializer=serializer,
            codec=codec,
        )
        return json.dumps({"data": built.data.decode(), "headers": built.headers}, separators=(",", ":")).encode()

    @classmethod
    def parse(cls, data: bytes) -> tuple[bytes, dict[str, Any]]:
        return BinaryMessageFormatV1.parse(data)
