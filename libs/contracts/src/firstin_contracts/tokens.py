"""Buyer tokens: issued by the api in every 202, checked by the notifier before a socket may join a room.

An HS256 JWT (PyJWT) naming the buyer's email, with an expiry, so the notifier verifies it with the shared
secret alone, without a Redis round trip.
"""

import time

import jwt

ALGORITHM = "HS256"
AUDIENCE = "firstin-notifier"


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or meant for something else."""


def issue_buyer_token(email: str, *, secret: str, ttl_seconds: int, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {"sub": email, "aud": AUDIENCE, "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_buyer_token(token: object, *, secret: str) -> str:
    """The email the token names; raises InvalidToken with a reason a client can be shown."""
    if not isinstance(token, str) or not token:
        raise InvalidToken("missing token")
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, options={"require": ["sub", "exp", "aud"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken("invalid token") from exc
    email = claims["sub"]
    if not isinstance(email, str) or "@" not in email:
        raise InvalidToken("invalid token")
    return email
