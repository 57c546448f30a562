import time

import pytest

from firstin_api import buyer_tokens
from firstin_api.buyer_tokens import BuyerTokens
from firstin_contracts import BuyerSession, InvalidToken, issue_buyer_token

SECRET = "s" * 40
TTL = 3600


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token that went through the real, full verification."""
    seen: list[str] = []
    real = buyer_tokens.verify_buyer_token

    def counting(token: object, *, secret: str) -> BuyerSession:
        seen.append(str(token))
        return real(token, secret=secret)

    monkeypatch.setattr(buyer_tokens, "verify_buyer_token", counting)
    return seen


def test_a_verified_token_is_remembered_until_it_expires(verifications: list[str]) -> None:
    clock = Clock()
    tokens = BuyerTokens(secret=SECRET, ttl_seconds=TTL, clock=clock)
    token = issue_buyer_token("a@b.c", secret=SECRET, ttl_seconds=TTL, session_id="s1")
    assert tokens.verify(token) == BuyerSession("a@b.c", "s1")
    assert tokens.verify(token) == BuyerSession("a@b.c", "s1")
    assert len(verifications) == 1
    clock.now += TTL + 1
    tokens.verify(token)  # past its expiry (by this worker's clock) the token goes through the full check again
    assert len(verifications) == 2


def test_an_expired_token_is_refused() -> None:
    expired = issue_buyer_token("a@b.c", secret=SECRET, ttl_seconds=60, now=time.time() - 120)
    with pytest.raises(InvalidToken, match="expired"):
        BuyerTokens(secret=SECRET, ttl_seconds=TTL).verify(expired)


def test_bad_tokens_are_never_remembered(verifications: list[str]) -> None:
    tokens = BuyerTokens(secret=SECRET, ttl_seconds=TTL)
    forged = issue_buyer_token("a@b.c", secret="f" * 40, ttl_seconds=TTL)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            tokens.verify(forged)
    assert len(verifications) == 2


def test_the_session_counts_only_for_the_email_the_token_names() -> None:
    tokens = BuyerTokens(secret=SECRET, ttl_seconds=TTL)
    token = issue_buyer_token("a@b.c", secret=SECRET, ttl_seconds=TTL, session_id="s1")
    assert tokens.session_of(f"Bearer {token}", "a@b.c") == BuyerSession("a@b.c", "s1")
    assert tokens.session_of(f"Bearer {token}", "victim@b.c") is None
    assert tokens.session_of(f"Basic {token}", "a@b.c") is None
    assert tokens.session_of(None, "a@b.c") is None


def test_the_presented_token_is_handed_back_while_it_has_more_than_half_its_life_left() -> None:
    tokens = BuyerTokens(secret=SECRET, ttl_seconds=TTL)
    young = issue_buyer_token("a@b.c", secret=SECRET, ttl_seconds=TTL, session_id="s1")
    presented = tokens.session_of(f"Bearer {young}", "a@b.c")
    assert tokens.token_for("a@b.c", "s1", presented, f"Bearer {young}") == young

    old = issue_buyer_token("a@b.c", secret=SECRET, ttl_seconds=TTL, session_id="s1", now=time.time() - TTL * 0.6)
    presented = tokens.session_of(f"Bearer {old}", "a@b.c")
    fresh = tokens.token_for("a@b.c", "s1", presented, f"Bearer {old}")
    assert fresh != old and tokens.verify(fresh) == BuyerSession("a@b.c", "s1"), "same session, longer life"
    assert presented is not None and tokens.verify(fresh).expires_at > presented.expires_at
    assert tokens.verify(tokens.token_for("a@b.c", "s2", None, None)) == BuyerSession("a@b.c", "s2")


def test_it_remembers_a_bounded_number_of_tokens(verifications: list[str]) -> None:
    tokens = BuyerTokens(secret=SECRET, ttl_seconds=TTL, max_remembered=2)
    first, second, third = (
        issue_buyer_token(f"{n}@b.c", secret=SECRET, ttl_seconds=TTL, session_id=n) for n in ("1", "2", "3")
    )
    for token in (first, second, third, first):
        tokens.verify(token)
    assert verifications == [first, second, third, first], "the oldest was forgotten"
