"""`make serve --api-keys`: API Gateway's keys and usage plans played from the environment's consumers,
in front of a stand-in function that answers what the gateway handed it (no model, no socket)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from config.environments import DEV, PROD
from config.schema import ApiConsumer, ApiSettings
from emulation import gateway
from emulation.api_keys import LocalKeys
from emulation.local_server import _print_banner, answer_request

ORIGINS = ("*",)


def identity_echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """What the function saw of the caller."""
    return {"statusCode": 200, "headers": {}, "body": json.dumps(event["requestContext"]["identity"])}


def call(keys: LocalKeys | None, path: str = "/jobs/0123", key: str = "") -> gateway.HttpResponse:
    headers = [("x-api-key", key)] if key else []
    request = gateway.HttpRequest(method="GET", path=path, headers=headers, query=[], body=b"")
    return answer_request(identity_echo, request, ORIGINS, keys=keys)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_one_key_per_consumer_of_the_environment_with_its_plan() -> None:
    keys = LocalKeys.for_consumers(PROD.api)
    by_consumer = {k.consumer: k for k in keys.keys.values()}
    assert set(by_consumer) == {c.name for c in PROD.api.consumers}
    for consumer in PROD.api.consumers:
        key = by_consumer[consumer.name]
        assert (key.rate, key.burst, key.quota) == PROD.api.limits_of(consumer)
        assert len(key.key_id) == 10 and key.value not in key.key_id
    assert len({k.value for k in keys.keys.values()}) == len(PROD.api.consumers)


def test_a_keyed_route_needs_a_known_key_and_the_function_sees_its_id_never_a_guess() -> None:
    keys = LocalKeys.for_consumers(DEV.api)
    (key,) = keys.keys.values()
    for sent in ("", "not-a-key"):
        refused = call(keys, key=sent)
        assert refused.status == 403 and json.loads(refused.body)["error"]["code"] == "invalid_api_key"
    answered = call(keys, key=key.value)
    assert answered.status == 200
    seen = json.loads(answered.body)
    assert seen["apiKeyId"] == key.key_id and seen["apiKey"] == key.value
    health = call(keys, path="/health")  # public: no key asked
    assert health.status == 200 and "apiKeyId" not in json.loads(health.body)


def test_without_keys_nothing_is_asked_as_before() -> None:
    answered = call(None)
    assert answered.status == 200 and "apiKeyId" not in json.loads(answered.body)


def test_the_usage_plan_throttles_at_its_burst_and_rate_and_stops_at_its_quota() -> None:
    api = ApiSettings(
        consumers=(ApiConsumer(name="batch", throttle_rate_limit=2.0, throttle_burst_limit=3, quota_limit=5),)
    )
    clock = Clock()
    day = [datetime(2026, 12, 7, 10, tzinfo=UTC)]
    keys = LocalKeys.for_consumers(api, clock=clock, now=lambda: day[0])
    (key,) = keys.keys.values()
    assert [call(keys, key=key.value).status for _ in range(4)] == [200, 200, 200, 429]  # the burst, then throttled
    throttled = call(keys, key=key.value)
    assert json.loads(throttled.body)["error"]["code"] == "throttled"
    clock.t += 1.0  # two tokens back at 2 per second
    assert [call(keys, key=key.value).status for _ in range(3)] == [200, 200, 429]
    clock.t += 10
    quota = call(keys, key=key.value)  # 5 answered: the day's quota is spent
    assert quota.status == 429 and json.loads(quota.body)["error"]["code"] == "quota_exceeded"
    day[0] = datetime(2026, 12, 8, 0, 1, tzinfo=UTC)  # a new period
    assert call(keys, key=key.value).status == 200


def test_the_banner_prints_each_consumers_key(capsys: Any) -> None:
    keys = LocalKeys.for_consumers(PROD.api)
    _print_banner("127.0.0.1", 8080, 9000, keys)
    printed = capsys.readouterr().out
    for key in keys.keys.values():
        assert f"key of {key.consumer}: {key.value}" in printed
    _print_banner("127.0.0.1", 8080, 9000)
    assert "--api-keys" in capsys.readouterr().out
