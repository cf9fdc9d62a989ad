"""What prod's web ACL does to a request, read from the synthesized rules.

No emulator runs WAF, so these tests evaluate the synthesized web ACL themselves: the rules in priority
order, the statements the stack uses (labels, and/not, URI path, a header regex, the rate limit), and the
managed groups modelled by the one behaviour that matters here (AWSManagedRulesCommonRuleSet's
SizeRestrictions_BODY labels a body over 8 KB). A 4 MB audio upload to /predict is the case that broke.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from config.environments import PROD
from inference.config import load_config
from infra_constructs.web_acl import OVERSIZE_BODY_LABEL, integer_above_pattern
from tests.support.stacks import Stack, one_resource

COMMON_SET_BODY_LIMIT = 8 * 1024
"""What SizeRestrictions_BODY allows (AWS's documentation of the common rule set)."""
SYNC_LIMIT = load_config(environ={}).audio.max_upload_bytes


@dataclass(frozen=True)
class Request:
    path: str
    body_bytes: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    managed_labels: tuple[str, ...] = ()
    """Labels other managed rules would add (an XSS pattern, a Log4j probe ...)."""
    over_rate: bool = False


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    status: int | None = None
    body: dict[str, Any] | None = None
    rule: str | None = None


def evaluate(acl: dict[str, Any], request: Request) -> Verdict:
    labels: set[str] = set()
    headers = {"content-length": str(request.body_bytes), **{k.lower(): v for k, v in request.headers.items()}}
    bodies = {b["key"]: json.loads(b["content"]) for b in acl.get("custom_response_body", [])}
    for rule in sorted(acl["rule"], key=lambda r: r["priority"]):
        statement = rule["statement"]
        if "managed_rule_group_statement" in statement:
            group_spec = statement["managed_rule_group_statement"]
            group = group_spec["name"]
            matched = set(request.managed_labels)
            if group == "AWSManagedRulesCommonRuleSet" and request.body_bytes > COMMON_SET_BODY_LIMIT:
                matched.add(OVERSIZE_BODY_LABEL)
            prefix = {
                "AWSManagedRulesCommonRuleSet": "awswaf:managed:aws:core-rule-set:",
                "AWSManagedRulesKnownBadInputsRuleSet": "awswaf:managed:aws:known-bad-inputs:",
            }[group]
            matched = {label for label in matched if label.startswith(prefix)}
            labels |= matched
            counted = {
                o["name"].lower() for o in group_spec.get("rule_action_override", []) if "count" in o["action_to_use"]
            }
            blocking = {label for label in matched if label.rsplit(":", 1)[-1].lower() not in counted}
            if blocking and rule["override_action"] == {"none": {}}:
                return Verdict(allowed=False, status=403, rule=rule["name"])  # WAF's own 403
            continue
        if _matches(statement, request, headers, labels):
            block = rule["action"]["block"]
            custom = block["custom_response"]
            return Verdict(
                allowed=False,
                status=custom["response_code"],
                body=bodies[custom["custom_response_body_key"]],
                rule=rule["name"],
            )
    assert acl["default_action"] == {"allow": {}}
    return Verdict(allowed=True)


def _matches(statement: dict[str, Any], request: Request, headers: dict[str, str], labels: set[str]) -> bool:
    ((kind, spec),) = statement.items()
    if kind == "and_statement":
        return all(_matches(s, request, headers, labels) for s in spec["statement"])
    if kind == "or_statement":
        return any(_matches(s, request, headers, labels) for s in spec["statement"])
    if kind == "not_statement":
        (inner,) = spec["statement"]
        return not _matches(inner, request, headers, labels)
    if kind == "label_match_statement":
        if spec["scope"] == "NAMESPACE":
            return any(label.startswith(spec["key"]) for label in labels)
        return spec["key"] in labels
    if kind == "rate_based_statement":
        return request.over_rate
    if kind == "byte_match_statement":
        assert spec["field_to_match"] == {"uri_path": {}} and spec["positional_constraint"] == "ENDS_WITH"
        return request.path.endswith(spec["search_string"])
    if kind == "regex_match_statement":
        (header,) = [spec["field_to_match"]["single_header"]["name"]]
        return re.search(spec["regex_string"], headers.get(header, "")) is not None
    raise AssertionError(f"the evaluator does not know {kind}: teach it before using it in the web ACL")


@pytest.fixture(scope="module")
def acl(stacks: dict[str, Stack]) -> dict[str, Any]:
    return one_resource(stacks["inference-prod"], "aws_wafv2_web_acl")


def test_only_the_common_sets_body_size_rule_is_counted(acl):
    (common,) = [r for r in acl["rule"] if r["name"] == "AWSManagedRulesCommonRuleSet"]
    assert common["override_action"] == {"none": {}}
    assert common["statement"]["managed_rule_group_statement"]["rule_action_override"] == [
        {"name": "SizeRestrictions_BODY", "action_to_use": {"count": {}}}
    ]


def test_a_4_mb_audio_upload_to_predict_passes_although_the_common_set_labels_it_oversize(acl):
    request = Request(path="/v1/predict", body_bytes=4_000_000, headers={"content-type": "multipart/form-data"})
    assert request.body_bytes > COMMON_SET_BODY_LIMIT
    assert evaluate(acl, request) == Verdict(allowed=True)
    assert evaluate(acl, Request(path="/v1/predict", body_bytes=SYNC_LIMIT)).allowed


def test_a_predict_body_over_the_services_limit_is_a_413_in_the_services_shape(acl):
    verdict = evaluate(acl, Request(path="/v1/predict", body_bytes=SYNC_LIMIT + 1))
    assert verdict.status == 413 and verdict.rule == "predict-body-over-limit"
    assert verdict.body is not None
    assert verdict.body["error"]["code"] == "payload_too_large"
    assert f"{SYNC_LIMIT:,}" in verdict.body["error"]["message"] and "/jobs" in verdict.body["error"]["message"]


def test_other_routes_keep_the_8_kb_body_limit(acl):
    verdict = evaluate(acl, Request(path="/v1/jobs", body_bytes=COMMON_SET_BODY_LIMIT + 1))
    assert (verdict.status, verdict.rule) == (413, "oversize-body")
    assert evaluate(acl, Request(path="/v1/jobs", body_bytes=300)).allowed


def test_the_common_rule_set_still_blocks_attacks_on_every_route_predict_included(acl):
    for path, body_bytes in (("/v1/health", 0), ("/v1/predict", 4_000_000)):
        xss = Request(
            path=path,
            body_bytes=body_bytes,
            managed_labels=("awswaf:managed:aws:core-rule-set:CrossSiteScripting_QueryArguments",),
        )
        assert evaluate(acl, xss) == Verdict(allowed=False, status=403, rule="AWSManagedRulesCommonRuleSet")


def test_known_bad_inputs_block_even_on_predict(acl):
    log4j = Request(
        path="/v1/predict", body_bytes=4_000_000, managed_labels=("awswaf:managed:aws:known-bad-inputs:Log4JRCE_Body",)
    )
    assert evaluate(acl, log4j) == Verdict(allowed=False, status=403, rule="AWSManagedRulesKnownBadInputsRuleSet")


def test_the_rate_limit_answers_429_throttled_and_is_not_below_the_usage_plan(acl):
    verdict = evaluate(acl, Request(path="/v1/predict", body_bytes=1000, over_rate=True))
    assert verdict.status == 429 and verdict.body is not None and verdict.body["error"]["code"] == "throttled"
    (rate,) = [r for r in acl["rule"] if "rate_based_statement" in r["statement"]]
    assert rate["statement"]["rate_based_statement"]["limit"] >= PROD.api.throttle_rate_limit * 300


def test_every_waf_answer_is_json_in_the_error_shape(acl):
    for body in acl["custom_response_body"]:
        assert body["content_type"] == "APPLICATION_JSON"
        error = json.loads(body["content"])["error"]
        assert set(error) == {"code", "message", "request_id"} and error["message"]


def test_waf_logs_redact_the_api_key(stacks):
    logging = one_resource(stacks["inference-prod"], "aws_wafv2_web_acl_logging_configuration")
    assert {"single_header": {"name": "x-api-key"}} in logging["redacted_fields"]


@pytest.mark.parametrize("limit", [0, 1, 8, 9, 10, 99, 100, 4_500_000, 4_499_999, 8_999_999, 10_485_760])
def test_integer_above_pattern_matches_exactly_the_larger_integers(limit):
    pattern = re.compile(integer_above_pattern(limit))
    rng = random.Random(limit)
    candidates = {0, 1, limit - 1, limit, limit + 1, limit * 10, limit + 10, 10 ** len(str(limit))}
    candidates |= {rng.randrange(0, 2 * limit + 20) for _ in range(2000)}
    for value in (c for c in candidates if c >= 0):
        for text in (str(value), f"00{value}"):
            assert bool(pattern.search(text)) == (value > limit), (limit, text)
    for text in ("", "abc", f"{limit + 1}x", f"-{limit + 1}", f" {limit + 1}"):
        assert not pattern.search(text), text
