"""Rate limits per user and per partner token, and of failed credentials per client address:
an in-process token bucket for each.

Each bucket holds up to `per_minute` requests and refills at per_minute/60 a second, so a
caller may burst up to the full minute's allowance and then proceeds at the steady rate.

The buckets live in this process: with N API replicas behind a load balancer each replica
counts separately, so a caller may reach up to N times the limit in total. A shared counter
(Redis, or Postgres) would make it exact at the cost of a round trip per request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from wardgraph.auth.claims import Claims

# Beyond this many callers, buckets that have refilled completely are forgotten: a full bucket
# is what a new caller gets anyway.
PRUNE_ABOVE = 50_000


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimited(Exception):
    """Too many requests; `retry_after` is the whole number of seconds until the next one."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests; retry after {retry_after} s")
        self.retry_after = retry_after


def caller_key(claims: Claims) -> Hashable:
    """Users by user id, partners by token id: each partner token has its own allowance."""
    if claims.is_partner:
        return ("partner", claims.partner_token_id)
    return ("user", claims.user_id)


def address_key(client: tuple[str, int] | None) -> Hashable:
    """A client by its address (the peer, as uvicorn reports it behind any proxy headers)."""
    return ("address", client[0] if client else "")


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.clock = clock
        self.buckets: dict[Hashable, Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def check(self, key: Hashable) -> None:
        """Take one request from the caller's bucket, or raise RateLimited."""
        self._take(key, 1.0)

    def require_one(self, key: Hashable) -> None:
        """Raise RateLimited if the caller's bucket is empty, taking nothing: the failures
        of an address are counted when they happen, and checked before the next attempt."""
        self._take(key, 0.0)

    def _take(self, key: Hashable, amount: float) -> None:
        if not self.enabled:
            return
        now = self.clock()
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= PRUNE_ABOVE:
                self._prune(now)
            bucket = self.buckets[key] = Bucket(self.capacity, now)
        else:
            # max(): a clock that stands still or steps back (a test's frozen time) adds nothing.
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.rate)
            bucket.updated = max(bucket.updated, now)
        if bucket.tokens < 1.0:
            raise RateLimited(max(1, math.ceil((1.0 - bucket.tokens) / self.rate)))
        bucket.tokens -= amount

    def _prune(self, now: float) -> None:
        full = [key for key, bucket in self.buckets.items()
                if bucket.tokens + (now - bucket.updated) * self.rate >= self.capacity]
        for key in full:
            del self.buckets[key]
