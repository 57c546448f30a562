"""The buyer tokens an api worker has already verified, kept until they expire.

A page sends its token with every order, and verifying it (HMAC, base64, JSON, claims) was 7 % of the api's
samples in `bench pipeline --profile`. A token that verified once stays valid until its expiry (it cannot be
revoked; only the secret can change, and that restarts the api), so a worker remembers the answer. The answer
to a 202 also reuses the presented token while it has more than half its lifetime left, instead of signing a
new one for the same buyer and session.
"""

import time
from collections import OrderedDict
from collections.abc import Callable

from firstin_contracts import BuyerSession, InvalidToken, issue_buyer_token, verify_buyer_token


class BuyerTokens:
    def __init__(
        self, *, secret: str, ttl_seconds: int, max_remembered: int = 100_000, clock: Callable[[], float] = time.time
    ):
        self._secret = secret
        self._ttl = ttl_seconds
        self._max = max_remembered
        self._clock = clock
        self._verified: OrderedDict[str, BuyerSession] = OrderedDict()

    def verify(self, token: str) -> BuyerSession:
        """As verify_buyer_token (raises InvalidToken), remembered until the token expires."""
        session = self._verified.get(token)
        if session is not None:
            if session.expires_at > self._clock():
                self._verified.move_to_end(token)
                return session
            del self._verified[token]
        session = verify_buyer_token(token, secret=self._secret)
        self._verified[token] = session
        if len(self._verified) > self._max:
            self._verified.popitem(last=False)
        return session

    def session_of(self, authorization: str | None, email: str) -> BuyerSession | None:
        """The session of a valid bearer token for this email, else None (the order starts a new session)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            session = self.verify(token)
        except InvalidToken:
            return None
        return session if session.email == email else None

    def token_for(self, email: str, session_id: str, presented: BuyerSession | None, authorization: str | None) -> str:
        """The token to hand back: the presented one while it has more than half its lifetime left, else a new
        one for the same buyer session."""
        if presented is not None and presented.session_id == session_id and authorization is not None:
            if presented.expires_at - self._clock() > self._ttl / 2:
                return authorization.partition(" ")[2]
        return issue_buyer_token(
            email, session_id=session_id, secret=self._secret, ttl_seconds=self._ttl, now=self._clock()
        )
