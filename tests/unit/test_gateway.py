"""The local server's API Gateway: proxy events, binary media types, the gateway's own answers."""

from __future__ import annotations

import base64
import json

from contract import http as http_contract
from emulation import gateway


def request(**overrides: object) -> gateway.HttpRequest:
    fields: dict[str, object] = {
        "method": "POST",
        "path": "/predict",
        "headers": [("Content-Type", "audio/wav")],
        "query": [("onset_threshold", "0.4"), ("onset_threshold", "0.5")],
        "body": b"\x00\xff",
    }
    fields.update(overrides)
    return gateway.HttpRequest(**fields)  # type: ignore[arg-type]


def test_binary_media_types_arrive_base64_and_text_as_is() -> None:
    event = gateway.to_proxy_event(request(), http_contract.PREDICT, "rid")
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\xff"
    text = gateway.to_proxy_event(
        request(headers=[("Content-Type", "application/json")], body=b'{"a": 1}'), http_contract.PREDICT, "rid"
    )
    assert text["isBase64Encoded"] is False and text["body"] == '{"a": 1}'


def test_the_event_carries_what_a_rest_proxy_event_does() -> None:
    event = gateway.to_proxy_event(request(), http_contract.PREDICT, "rid-1")
    assert event["multiValueQueryStringParameters"] == {"onset_threshold": ["0.4", "0.5"]}
    assert event["queryStringParameters"] == {"onset_threshold": "0.5"}
    assert event["requestContext"]["requestId"] == "rid-1" and event["requestContext"]["stage"] == "v1"
    assert event["resource"] == event["requestContext"]["resourcePath"] == "/predict"


def test_wildcards_in_binary_media_types_match() -> None:
    assert gateway.is_binary("audio/x-flac") and gateway.is_binary("multipart/form-data; boundary=x")
    assert not gateway.is_binary("application/json") and not gateway.is_binary("")


def test_base64_answers_are_bytes_only_for_clients_that_accept_binary() -> None:
    result = {
        "statusCode": 200,
        "body": base64.b64encode(b"MThd").decode(),
        "isBase64Encoded": True,
        "multiValueHeaders": {"Content-Type": ["audio/midi"]},
    }
    midi = gateway.from_proxy_result(result, request(headers=[("Accept", "audio/midi")]), "rid")
    assert midi.body == b"MThd" and ("Content-Type", "audio/midi") in midi.headers
    as_text = gateway.from_proxy_result(result, request(headers=[("Accept", "application/json")]), "rid")
    assert as_text.body == base64.b64encode(b"MThd")


def test_gateway_errors_use_the_service_shape_and_the_configured_status() -> None:
    answer = gateway.gateway_error(
        "MISSING_AUTHENTICATION_TOKEN",
        "rid",
        ("https://app.example.com",),
        status=403,
        message="Missing Authentication Token",
    )
    assert answer.status == 404
    assert json.loads(answer.body) == {
        "error": {
            "code": "not_found",
            "message": http_contract.GATEWAY_ERRORS["MISSING_AUTHENTICATION_TOKEN"].message,
            "request_id": "rid",
        }
    }
    assert ("Access-Control-Allow-Origin", "https://app.example.com") in answer.headers
    fallback = gateway.gateway_error("SOMETHING_ELSE", "rid", ("*",), status=502, message="boom")
    assert fallback.status == 502 and json.loads(fallback.body)["error"]["code"] == "internal_error"


def test_preflight_echoes_an_allowed_origin_and_lists_the_resources_methods() -> None:
    origins = ("https://app.example.com", "https://admin.example.com")
    answer = dict(gateway.preflight("/predict", "https://admin.example.com", origins, "rid").headers)
    assert answer["Access-Control-Allow-Origin"] == "https://admin.example.com"
    assert answer["Access-Control-Allow-Methods"] == "OPTIONS,POST"
    stranger = dict(gateway.preflight("/health", "https://evil.example", origins, "rid").headers)
    assert stranger["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert stranger["Access-Control-Allow-Methods"] == "GET,OPTIONS"


def test_the_gateway_template_renders_the_same_shape() -> None:
    template = http_contract.gateway_error_template(http_contract.GATEWAY_ERRORS["THROTTLED"])
    rendered = template.replace("$context.requestId", "rid")
    assert json.loads(rendered) == http_contract.error_body("throttled", "too many requests: retry with backoff", "rid")
    own = http_contract.gateway_error_template(http_contract.GATEWAY_ERRORS["DEFAULT_4XX"])
    assert "$context.error.messageString" in own
