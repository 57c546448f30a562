"""422 answers that can always be sent.

FastAPI's own handler echoes each bad value back (`input`, and `ctx`). When the value is NaN or an infinity
(`NaN`, `1e400` in the JSON body) or a string with a lone surrogate (`"\\ud800"`), that echo cannot be encoded
as JSON or UTF-8, and the 422 became a 500 with a traceback. The answer here names the field and says what is
wrong, without echoing the value.
"""

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _error(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "loc": [_printable(part) if isinstance(part, str) else part for part in error.get("loc", ())],
        "msg": _printable(str(error.get("msg", ""))),
        "type": str(error.get("type", "")),
    }


async def validation_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": jsonable_encoder([_error(e) for e in exc.errors()])}, status_code=422)
