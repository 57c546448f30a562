"""Admin stream tickets: good for the stream alone, for a short while, and only from this admin token."""

import time

import jwt

from firstin_api.admin import STREAM_TICKET_SECONDS, _issue_ticket, _ticket_is_valid, _ticket_key

ADMIN = "an-admin-token-of-some-length-0123456789"


def test_a_fresh_ticket_opens_the_stream_and_another_admin_tokens_does_not() -> None:
    ticket = _issue_ticket("dev-admin-token-change-me")  # short tokens too, without PyJWT's key-length warning
    assert _ticket_is_valid(ticket, "dev-admin-token-change-me")
    ticket = _issue_ticket(ADMIN)
    assert _ticket_is_valid(ticket, ADMIN)
    assert not _ticket_is_valid(ticket, ADMIN + "x")
    assert ADMIN not in ticket


def test_an_expired_ticket_or_a_buyer_token_does_not() -> None:
    expired = jwt.encode(
        {"aud": "firstin-admin-stream", "exp": int(time.time()) - STREAM_TICKET_SECONDS},
        _ticket_key(ADMIN),
        algorithm="HS256",
    )
    assert not _ticket_is_valid(expired, ADMIN)
    buyer_like = jwt.encode(
        {"aud": "firstin-notifier", "exp": int(time.time()) + 60}, _ticket_key(ADMIN), algorithm="HS256"
    )
    assert not _ticket_is_valid(buyer_like, ADMIN)
