"""API Gateway's API keys and usage plans, played for `make serve --api-keys`.

One key per consumer of an environment (`api.consumers`), made at start and printed, with the
consumer's usage plan as the stacks deploy it (`api.limits_of`): a token bucket of `burst` requests
refilled at `rate` per second, and `quota` requests per `api.quota_period` (DAY, WEEK or MONTH, from
the period's start in UTC, as API Gateway counts). A keyed route without a known key is answered
403 `invalid_api_key`; over the rate 429 `throttled`; over the quota 429 `quota_exceeded` (the
gateway responses the stacks configure, `contract.http.GATEWAY_ERRORS`). A known key's id reaches
the function as API Gateway puts it there (`requestContext.identity.apiKeyId`), so jobs' ownership
and anything per consumer run locally as deployed. `/health` (a public route) needs no key.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from config.schema import ApiSettings
from contract.object_keys import key_consumer_document

KEY_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass
class LocalKey:
    """One consumer's key, its id (what the function sees) and its usage plan's state."""

    consumer: str
    value: str
    key_id: str
    rate: float
    burst: int
    quota: int
    tokens: float = 0.0
    refilled_at: float = 0.0
    used: int = 0
    period_start: datetime | None = None


@dataclass
class LocalKeys:
    """The keys of an environment's consumers, checked as API Gateway checks them."""

    keys: dict[str, LocalKey]
    """By key value."""
    quota_period: str
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_consumers(cls, api: ApiSettings, **kwargs: Callable[..., object]) -> LocalKeys:
        """A fresh key per consumer of `api`, each with its plan's limits."""
        keys: dict[str, LocalKey] = {}
        for consumer in api.consumers:
            rate, burst, quota = api.limits_of(consumer)
            key = LocalKey(
                consumer=consumer.name,
                value=secrets.token_urlsafe(30),
                key_id="".join(secrets.choice(KEY_ID_ALPHABET) for _ in range(10)),
                rate=rate,
                burst=burst,
                quota=quota,
                tokens=float(burst),
            )
            keys[key.value] = key
        return cls(keys=keys, quota_period=api.quota_period, **kwargs)  # type: ignore[arg-type]

    def check(self, value: str) -> tuple[LocalKey | None, str | None]:
        """The key sent in x-api-key and None, or None and the gateway response type that refuses it."""
        with self._lock:
            key = self.keys.get(value) if value else None
            if key is None:
                return None, "INVALID_API_KEY"
            now = self.clock()
            if key.refilled_at:
                key.tokens = min(float(key.burst), key.tokens + (now - key.refilled_at) * key.rate)
            key.refilled_at = now
            start = self._period_start()
            if key.period_start != start:
                key.period_start, key.used = start, 0
            if key.tokens < 1:
                return None, "THROTTLED"
            if key.used >= key.quota:
                return None, "QUOTA_EXCEEDED"
            key.tokens -= 1
            key.used += 1
            return key, None

    def register(self, s3: Any, bucket: str, output_prefix: str) -> None:
        """Name each key's consumer where `make keys` does (`service.jobs.quotas.Consumers` reads it):
        the service finds a key's job limits from it."""
        for key in self.keys.values():
            s3.put_object(
                Bucket=bucket, Key=key_consumer_document(output_prefix, key.key_id), Body=key.consumer.encode()
            )

    def _period_start(self) -> datetime:
        today = self.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        if self.quota_period == "WEEK":  # API Gateway's weeks start on Sunday
            return today - timedelta(days=(today.weekday() + 1) % 7)
        if self.quota_period == "MONTH":
            return today.replace(day=1)
        return today

    def lines(self) -> list[str]:
        """What `make serve` prints: each consumer's key."""
        return [f"  key of {k.consumer}: {k.value}   (x-api-key; id {k.key_id})" for k in self.keys.values()]
