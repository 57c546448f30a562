"""Buyer tokens: issued by the api (every 202, and POST /sessions), checked by the notifier on connect.

An HS256 JWT (PyJWT) naming the buyer's email and a session, with an expiry, so the notifier verifies it with
the shared secret alone, without a Redis round trip.

Why a session and not just the email: anyone can type anyone's email into an order form. Outcomes go to the
sockets of the session that placed the order, so a token obtained for someone else's email (by ordering or
by POST /sessions) shows nothing of that person's orders. A page keeps its session by sending its token
with each order (Authorization: Bearer).
"""

import secrets
import time
from dataclasses import dataclass, field

import jwt

ALGORITHM = "HS256"
AUDIENCE = "firstin-notifier"


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or meant for something else."""


@dataclass(frozen=True, slots=True)
class BuyerSession:
    email: str
    session_id: str
    expires_at: int = field(default=0, compare=False)  # the token's expiry (Unix seconds); 0 when unknown


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def issue_buyer_token(
    email: str, *, secret: str, ttl_seconds: int, session_id: str | None = None, now: float | None = None
) -> str:
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": email,
        "sid": session_id or new_session_id(),
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_buyer_token(token: object, *, secret: str) -> BuyerSession:
    """The buyer and session the token names; raises InvalidToken with a reason a client can be shown."""
    if not isinstance(token, str) or not token:
        raise InvalidToken("missing token")
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, options={"require": ["sub", "sid", "exp", "aud"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken("invalid token") from exc
    email, session_id = claims["sub"], claims["sid"]
    if not isinstance(email, str) or "@" not in email or not isinstance(session_id, str) or not session_id:
        raise InvalidToken("invalid token")
    return BuyerSession(email, session_id, int(claims["exp"]))
