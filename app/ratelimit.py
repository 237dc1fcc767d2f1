"""Rate limits, shared by every gunicorn worker through Redis (the `limits` library).

Each endpoint's class comes from its declaration (app.api.contract, `limit=`; every write
gets `write` unless it says otherwise), and the pages' forms name theirs. A request over a
limit is a 429 problem with `Retry-After`. Limits count per account when one is signed in,
else per client address (the proxy's X-Forwarded-For when CARTAGORA_PROXY_COUNT says one is
trusted).

Signing in has its own rules on top, per account *and* per address: failures slow it down,
then lock it (`sign_in_locked`, with the seconds to wait): FAILURES_PER_ACCOUNT and
FAILURES_PER_ADDRESS. A success clears the account's failures.

Why `limits` and not Flask-Limiter's decorators: our views are declared once, in a loop per
kind for contributions, and Flask-Limiter keys a decorated view by its function's name (the
two kinds' views would share one limit); `limits` is the library Flask-Limiter is built on,
used here from the one place every endpoint goes through. If Redis is unreachable the
request is let through and the failure logged: the limits protect the service, they must not
take it down.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, current_app, request
from limits import parse_many, storage, strategies

from app.errors import AppError

log = logging.getLogger(__name__)

# per minute and per hour, per account or address; the `expensive` reads are the statistics
LIMITS = {
    "write": "30 per minute;600 per hour",
    "sign_up": "5 per minute;20 per hour",
    "sign_in": "30 per minute;300 per hour",
    "email": "3 per minute;10 per hour",  # requests that send an e-mail to a given address
    "expensive": "60 per minute;1200 per hour",
    "integration": "300 per minute;10000 per hour",  # another application's key (Open311)
}
# failed sign-ins: a few, then one per 20 s, then locked for the rest of the hour / day
FAILURES_PER_ACCOUNT = "5 per minute;10 per hour;30 per day"
FAILURES_PER_ADDRESS = "20 per minute;100 per hour"


class TooManyRequests(AppError):
    status, code, title = 429, "too_many_requests", "Too Many Requests"

    def __init__(self, retry_after: int, code: str | None = None) -> None:
        super().__init__(code, {"seconds": retry_after}, extra={"retry_after": retry_after})
        self.retry_after = retry_after


class Limiter:
    def __init__(self) -> None:
        self.limiter: strategies.RateLimiter | None = None

    def init_app(self, app: Flask) -> None:
        uri = app.config["RATELIMIT_STORAGE_URI"]
        if not uri:
            log.warning("no RATELIMIT_STORAGE_URI: rate limits are counted per process")
            uri = "memory://"
        self.limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(uri))
        app.extensions["ratelimit"] = self

    @property
    def enabled(self) -> bool:
        return current_app.config["RATELIMIT_ENABLED"]

    def _hit(self, rules: str, namespace: str, who: str) -> None:
        """Count one request; raise TooManyRequests if one of `rules` is exhausted."""
        for item in parse_many(rules):
            if not self.limiter.hit(item, namespace, who):
                raise TooManyRequests(self._wait(item, namespace, who))

    def _wait(self, item, namespace: str, who: str) -> int:
        reset, _ = self.limiter.get_window_stats(item, namespace, who)
        return max(1, math.ceil(reset - time.time()))

    def check(self, cls: str, who: str) -> None:
        """One request of class `cls` by `who` (an account or an address)."""
        if self.enabled:
            self._safely(self._hit, LIMITS[cls], cls, who)

    def sign_in_allowed(self, email: str) -> None:
        """Before checking a password: refuse while the account or the address is locked.
        Each attempt on an account is counted before the password is checked (one atomic
        hit), so concurrent guesses on two workers cannot both slip under the limit; a
        success clears the account's count. The address counts failures only (an office
        behind one address signs many people in), tested here and hit on failure."""
        if not self.enabled:
            return
        account = email.strip().lower()
        for item in parse_many(FAILURES_PER_ACCOUNT):
            if not self._safely(self.limiter.hit, item, "failed_sign_in", account, default=True):
                raise TooManyRequests(self._wait(item, "failed_sign_in", account), "sign_in_locked")
        for item in parse_many(FAILURES_PER_ADDRESS):
            if not self._safely(self.limiter.test, item, "failed_sign_in_from", client_address(),
                                default=True):
                raise TooManyRequests(self._wait(item, "failed_sign_in_from", client_address()),
                                      "sign_in_locked")

    def sign_in_failed(self, email: str) -> None:
        if self.enabled:
            for item in parse_many(FAILURES_PER_ADDRESS):
                self._safely(self.limiter.hit, item, "failed_sign_in_from", client_address())

    def sign_in_succeeded(self, email: str) -> None:
        if self.enabled:
            for item in parse_many(FAILURES_PER_ACCOUNT):
                self._safely(self.limiter.clear, item, "failed_sign_in", email.strip().lower())

    @staticmethod
    def _safely(call, *args, default=None):
        try:
            return call(*args)
        except TooManyRequests:
            raise
        except Exception:  # the store is down: let the request through, say so
            log.exception("rate-limit store unavailable")
            return default


def guarded_sign_in(email: str, attempt):
    """`attempt()` (checking a password) unless the account or the address is locked; a
    failure (InvalidCredentials) counts against both, a success clears the account's."""
    from app.accounts.services import InvalidCredentials

    limiter.sign_in_allowed(email)
    try:
        user = attempt()
    except InvalidCredentials:
        limiter.sign_in_failed(email)
        raise
    limiter.sign_in_succeeded(email)
    return user


def client_address() -> str:
    return request.remote_addr or "unknown"


def requester(user) -> str:
    """Who a limit counts: the signed-in account, else the client's address."""
    return f"user:{user.id}" if user is not None else f"addr:{client_address()}"


limiter = Limiter()
