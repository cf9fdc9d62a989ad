#!/usr/bin/env python
"""API keys, outside Terraform: create, list, rotate and revoke a consumer's keys.

    make keys ENV=prod ACTION=create CONSUMER=web-app
        (.venv/bin/python -m operations.keys --env prod create --consumer web-app)
    make keys ENV=prod ACTION=list
    make keys ENV=prod ACTION=rotate CONSUMER=web-app
    make keys ENV=prod ACTION=revoke CONSUMER=web-app   (KEY_ID=... revokes one key only)

Terraform stores every attribute of what it manages, and an API key's value is one of them, so the
stacks make each consumer's usage plan (tagged `Consumer=<name>`, with the environment's `Environment`
and `Project` tags) and never a key. This command makes a key with a value from `secrets` and shows it
once, to the operator; it is not kept anywhere else. `list` shows ids, consumers and state, never a
value. `rotate` makes a new key, attaches it, then detaches and deletes the consumer's other keys (jobs
belong to the key id that created them: the old key's jobs are no longer readable with the new one).
`revoke` deletes the consumer's keys (or one, `--key-id`). Runs with the operator's credentials in the
environment's region; the CI roles may not read or write keys. Bad input: one line, exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
from typing import Any

from contract.object_keys import key_consumer_document
from operations.build_and_push import EXPECTED_ERRORS, ReleaseError, report

CONSUMER_TAG = "Consumer"
"""The usage plan's and the key's tag naming the consumer (infra_constructs.rest_api.CONSUMER_TAG)."""
MANAGED_BY = "make keys"
KEY_VALUE_BYTES = 30
"""Random bytes in a key value (40 URL-safe characters; API Gateway wants at least 20)."""


def _tags(env: Any) -> dict[str, str]:
    return {"Environment": env.name, "Project": env.project}


def _is_ours(tags: dict[str, str], env: Any, consumer: str | None = None) -> bool:
    wanted = _tags(env) | ({CONSUMER_TAG: consumer} if consumer else {})
    return all(tags.get(k) == v for k, v in wanted.items()) and CONSUMER_TAG in tags


def usage_plan(apigw: Any, env: Any, consumer: str) -> dict[str, Any]:
    """The consumer's usage plan in the deployed stack, found by its tags."""
    found = [
        plan
        for page in apigw.get_paginator("get_usage_plans").paginate()
        for plan in page.get("items", [])
        if _is_ours(plan.get("tags") or {}, env, consumer)
    ]
    if len(found) != 1:
        what = "no usage plan" if not found else f"{len(found)} usage plans"
        raise ReleaseError(
            f"{env.name}: {what} tagged {CONSUMER_TAG}={consumer} "
            f"(deploy {env.stack_name} first: make deploy ENV={env.name})"
        )
    return found[0]


def consumer_keys(apigw: Any, env: Any, consumer: str | None = None) -> list[dict[str, Any]]:
    """The environment's keys this command made (of one consumer, or all), without their values."""
    return sorted(
        (
            key
            for page in apigw.get_paginator("get_api_keys").paginate(includeValues=False)
            for key in page.get("items", [])
            if _is_ours(key.get("tags") or {}, env, consumer)
        ),
        key=lambda k: (k["tags"][CONSUMER_TAG], str(k.get("createdDate", "")), k["id"]),
    )


def name_the_consumer(s3: Any, env: Any, key_id: str, consumer: str | None) -> list[str]:
    """Write (or, with None, delete) the document naming the key's consumer in the environment's output
    bucket, where the service reads a key's job limits (`contract.object_keys.key_consumer_document`);
    the service never reads keys through API Gateway, which could read their values."""
    prefix = f"{env.resource_prefix}-output-"
    buckets = [b["Name"] for b in s3.list_buckets().get("Buckets", []) if b["Name"].startswith(prefix)]
    if len(buckets) != 1:
        if consumer is None:
            return []
        return [f"{env.name}: no single {prefix}* bucket: key {key_id} gets the environment's job limits"]
    key = key_consumer_document(env.storage.output_prefix, key_id)
    if consumer is None:
        s3.delete_object(Bucket=buckets[0], Key=key)
        return []
    s3.put_object(Bucket=buckets[0], Key=key, Body=consumer.encode(), ContentType="text/plain")
    return [f"{env.name}: key {key_id} counts toward {consumer}'s job limits"]


def _create(apigw: Any, env: Any, consumer: str, plan: dict[str, Any]) -> tuple[str, str]:
    value = secrets.token_urlsafe(KEY_VALUE_BYTES)
    key = apigw.create_api_key(
        name=f"{env.resource_prefix}-api-{consumer}-{secrets.token_hex(4)}",
        description=f"{consumer}'s key for {env.stack_name} ({MANAGED_BY})",
        enabled=True,
        value=value,
        tags={**_tags(env), CONSUMER_TAG: consumer, "ManagedBy": MANAGED_BY},
    )
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    return key["id"], value


def _shown_once(env: Any, consumer: str, key_id: str, value: str) -> list[str]:
    return [
        f"{env.name}: key {key_id} for {consumer} created and attached to its usage plan",
        f"{env.name}: its value, shown this once (hand it to {consumer}; it is stored nowhere else): {value}",
    ]


def create(apigw: Any, env: Any, consumer: str) -> list[str]:
    plan = usage_plan(apigw, env, consumer)
    key_id, value = _create(apigw, env, consumer, plan)
    return _shown_once(env, consumer, key_id, value)


def list_keys(apigw: Any, env: Any) -> list[str]:
    attached: dict[str, str] = {}
    for consumer in (c.name for c in env.api.consumers):
        try:
            plan = usage_plan(apigw, env, consumer)
        except ReleaseError:
            continue
        for key in consumer_keys(apigw, env, consumer):
            plans = apigw.get_usage_plans(keyId=key["id"]).get("items", [])
            attached[key["id"]] = "attached" if any(p["id"] == plan["id"] for p in plans) else "not attached"
    lines = [
        f"{env.name}: {key['tags'][CONSUMER_TAG]} {key['id']} {'enabled' if key.get('enabled') else 'disabled'} "
        f"{attached.get(key['id'], 'no usage plan')} created {key.get('createdDate', '?')}"
        for key in consumer_keys(apigw, env)
    ]
    return lines or [f"{env.name}: no keys (make keys ENV={env.name} ACTION=create CONSUMER=<name>)"]


def rotate(apigw: Any, env: Any, consumer: str) -> list[str]:
    plan = usage_plan(apigw, env, consumer)
    old = consumer_keys(apigw, env, consumer)
    key_id, value = _create(apigw, env, consumer, plan)
    lines = _shown_once(env, consumer, key_id, value)
    for key in old:
        _delete(apigw, plan, key["id"])
        lines.append(f"{env.name}: old key {key['id']} of {consumer} detached and deleted")
    return lines


def revoke(apigw: Any, env: Any, consumer: str, key_id: str | None = None) -> list[str]:
    plan = usage_plan(apigw, env, consumer)
    keys = [k for k in consumer_keys(apigw, env, consumer) if key_id in (None, k["id"])]
    if not keys:
        raise ReleaseError(f"{env.name}: {consumer} has no key{f' {key_id}' if key_id else ''} to revoke")
    for key in keys:
        _delete(apigw, plan, key["id"])
    return [f"{env.name}: key {key['id']} of {consumer} revoked (detached and deleted)" for key in keys]


def _delete(apigw: Any, plan: dict[str, Any], key_id: str) -> None:
    with contextlib.suppress(apigw.exceptions.NotFoundException):  # not attached any more
        apigw.delete_usage_plan_key(usagePlanId=plan["id"], keyId=key_id)
    apigw.delete_api_key(apiKey=key_id)


def run(
    environment: str,
    action: str,
    consumer: str | None,
    key_id: str | None = None,
    apigw: Any = None,
    s3: Any = None,
) -> str:
    import boto3

    from config.environments import get_environment
    from contract.validation import ConfigError

    try:
        env = get_environment(environment)
    except ConfigError as exc:
        raise ReleaseError(str(exc)) from None
    names = [c.name for c in env.api.consumers]
    if action != "list" and consumer not in names:
        raise ReleaseError(f"consumer={consumer!r} is invalid: allowed one of {names} (api.consumers of {env.name})")
    apigw = boto3.client("apigateway", region_name=env.region) if apigw is None else apigw
    s3 = boto3.client("s3", region_name=env.region) if s3 is None else s3
    before = {k["id"] for k in consumer_keys(apigw, env, consumer)} if action != "list" else set()
    if action == "list":
        lines = list_keys(apigw, env)
    elif action == "create":
        lines = create(apigw, env, str(consumer))
    elif action == "rotate":
        lines = rotate(apigw, env, str(consumer))
    else:
        lines = revoke(apigw, env, str(consumer), key_id)
    if action != "list":  # name each new key's consumer; forget the deleted ones
        after = {k["id"] for k in consumer_keys(apigw, env, consumer)}
        for made in sorted(after - before):
            lines += name_the_consumer(s3, env, made, consumer)
        for gone in sorted(before - after):
            lines += name_the_consumer(s3, env, gone, None)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="operations.keys", description=__doc__.split("\n")[0])
    parser.add_argument("--env", required=True, help="the environment: dev or prod (config/environments.py)")
    parser.add_argument("action", choices=("create", "list", "rotate", "revoke"))
    parser.add_argument("--consumer", help="one of the environment's api.consumers (not for list)")
    parser.add_argument("--key-id", help="revoke: only this key of the consumer")
    args = parser.parse_args(argv)
    try:
        print(run(args.env, args.action, args.consumer, args.key_id))
        return 0
    except EXPECTED_ERRORS as exc:
        return report(exc)


if __name__ == "__main__":
    sys.exit(main())
