"""422 answers that can always be sent, and the check of a request that FastAPI's routing does not see.

FastAPI's own handler echoes each bad value back (`input`, and `ctx`). When the value is NaN or an infinity
(`NaN`, `1e400` in the JSON body) or a string with a lone surrogate (`"\\ud800"`), that echo cannot be encoded
as JSON or UTF-8, and the 422 became a 500 with a traceback. The answer here names the field and says what is
wrong, without echoing the value.
"""

import email.message
import json
from collections.abc import Sequence
from typing import Any, TypeVar, cast

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.responses import JSONResponse

Body = TypeVar("Body")


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _error(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "loc": [_printable(part) if isinstance(part, str) else part for part in error.get("loc", ())],
        "msg": _printable(str(error.get("msg", ""))),
        "type": str(error.get("type", "")),
    }


def unprocessable(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The body of a 422."""
    return {"detail": jsonable_encoder([_error(e) for e in errors])}


async def validation_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(unprocessable(exc.errors()), status_code=422)


class Rejected(Exception):
    """A request refused before it reached its handler: `status` and `body` are the answer."""

    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(status)
        self.status = status
        self.body = body


def check_like_fastapi(
    body_type: TypeAdapter[Body],
    body: bytes,
    content_type: str | None,
    headers: Sequence[tuple[str, TypeAdapter[Any], str | None]],
) -> Body:
    """The request's body, checked as a FastAPI route declaring a JSON body of `body_type` and the header
    parameters `headers` (alias, type, value) checks it, step for step: an answer that names the field at fault
    in FastAPI's terms (`Rejected`: 400 or 422), so that a plain ASGI handler answers as a FastAPI route would."""
    parsed: Any = body  # a body not declared as JSON is validated as it is, like FastAPI does
    if body and content_type and _is_json(content_type):
        try:
            parsed = json.loads(body)
        except json.JSONDecodeError as exc:
            error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
            raise Rejected(422, unprocessable([error])) from None
        except Exception:  # not UTF-8, nested too deep
            raise Rejected(400, {"detail": "There was an error parsing the body"}) from None
    errors: list[dict[str, Any]] = []
    for alias, header_type, value in headers:
        if value is not None:
            errors += _validated(header_type, value, ("header", alias))[1]
    request: Any = None
    if not body:
        errors.append({"type": "missing", "loc": ("body",), "msg": "Field required"})
    else:
        request, body_errors = _validated(body_type, parsed, ("body",))
        errors += body_errors
    if errors:
        raise Rejected(422, unprocessable(errors))
    return cast(Body, request)


def _validated(value_type: TypeAdapter[Any], value: Any, loc: tuple[str, ...]) -> tuple[Any, list[dict[str, Any]]]:
    try:
        return value_type.validate_python(value, from_attributes=True), []
    except ValidationError as exc:
        return None, [{**error, "loc": loc + tuple(error["loc"])} for error in exc.errors(include_url=False)]


def _is_json(content_type: str) -> bool:
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))
