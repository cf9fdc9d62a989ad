"""The small print of the contract: strict types, documented booleans, file names cut on characters and
saved as the client named them (RFC 6266), and a file part named only by RFC 5987's `filename*=`."""

from __future__ import annotations

import json
import urllib.parse
from types import SimpleNamespace

import pytest

from contract.settings import JobLimits
from contract.validation import ConfigError
from inference.config import InferenceParameters, coerce
from service.http.errors import ApiError
from service.http.parameters import sanitize_filename
from service.http.responses import attachment, download_stem
from service.jobs.requests import parse_job_request
from service.predict.request import parse_predict_request

MODELS = {"basic-pitch": SimpleNamespace(defaults=InferenceParameters())}


@pytest.mark.parametrize("parameters", [[], "", 0, None, "{}", [["onset_threshold", 0.5]]])
def test_job_parameters_must_be_an_object(parameters: object) -> None:
    body = json.dumps({"filename": "a.wav", "content_type": "audio/wav", "parameters": parameters}).encode()
    with pytest.raises(ApiError) as refused:
        parse_job_request(content_type="application/json", body=body, models=MODELS, limits=JobLimits())
    assert refused.value.status == 400 and "JSON object" in refused.value.message


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"filename": 5}, "filename must be a string (got a JSON number)"),
        ({"filename": ["a.wav"]}, "filename must be a string (got a JSON array)"),
        ({"filename": True}, "filename must be a string (got a JSON boolean)"),
        ({"filename": "  "}, "filename is required"),
        ({"filename": None}, "filename is required"),
        ({"content_type": {"type": "audio/wav"}}, "content_type must be a string (got a JSON object)"),
        ({"content_type": ""}, "content_type is required"),
    ],
)
def test_a_job_field_of_the_wrong_type_is_named_as_such(fields: dict[str, object], message: str) -> None:
    """A filename given as a number is not a missing filename: the message says what was wrong."""
    body = json.dumps({"filename": "a.wav", "content_type": "audio/wav", **fields}).encode()
    with pytest.raises(ApiError) as refused:
        parse_job_request(content_type="application/json", body=body, models=MODELS, limits=JobLimits())
    assert refused.value.status == 400 and refused.value.message.startswith(message), refused.value.message


def test_a_size_over_the_limit_written_as_a_huge_float_is_quoted_short() -> None:
    body = json.dumps({"filename": "a.wav", "content_type": "audio/wav", "size_bytes": 1e300}).encode()
    with pytest.raises(ApiError) as refused:
        parse_job_request(content_type="application/json", body=body, models=MODELS, limits=JobLimits())
    assert refused.value.status == 413 and refused.value.message.startswith("size_bytes=1e+300 is over the ")
    assert len(refused.value.message) < 120


def test_job_parameters_may_be_left_out() -> None:
    body = json.dumps({"filename": "a.wav", "content_type": "audio/wav"}).encode()
    request = parse_job_request(content_type="application/json", body=body, models=MODELS, limits=JobLimits())
    assert request.parameters == {}


@pytest.mark.parametrize("spelling", ["yes", "no", "on", "off", "1", "0", "t", "", "truee"])
def test_booleans_are_true_or_false_only(spelling: str) -> None:
    with pytest.raises(ConfigError, match="true or false"):
        coerce("melodia_trick", spelling or "x", "bool")


@pytest.mark.parametrize(("spelling", "value"), [("true", True), ("False", False), (" TRUE ", True), (True, True)])
def test_the_documented_booleans(spelling: object, value: bool) -> None:
    assert coerce("melodia_trick", spelling, "bool") is value


@pytest.mark.parametrize("name", ["日" * 150 + ".wav", "é" * 199 + ".mp3", "a" * 199 + "ü.wav", "x" * 300])
def test_a_long_file_name_is_cut_on_a_character(name: str) -> None:
    cut = sanitize_filename(name)
    assert cut is not None and len(cut) <= 200
    decoded = urllib.parse.unquote(cut, errors="strict")
    assert name.startswith(decoded) and "%" not in decoded


def test_a_non_ascii_download_name_is_saved_as_named() -> None:
    stored = sanitize_filename("日本の歌.wav")
    stem = download_stem(stored)
    assert stem == "日本の歌"
    header = attachment(f"{stem}.mid")
    assert header.startswith('attachment; filename="____.mid"; ')
    assert header.endswith("filename*=UTF-8''" + urllib.parse.quote("日本の歌.mid", safe=""))


def test_an_ascii_download_name_is_plain_and_quotes_cannot_break_out() -> None:
    assert attachment("take 1.mid") == 'attachment; filename="take 1.mid"'
    tricky = attachment('a"; filename="evil.exe.mid')
    assert tricky.count('"') == 2 and "filename*=UTF-8''" in tricky


def test_a_file_part_named_only_by_filename_star_is_the_file() -> None:
    audio = bytes(range(256)) * 4  # not UTF-8 text
    body = (
        b"--b0undary\r\n"
        b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''%E6%AD%8C.wav\r\n"
        b"Content-Type: audio/wav\r\n\r\n" + audio + b"\r\n--b0undary--\r\n"
    )
    request = parse_predict_request(
        headers={"content-type": "multipart/form-data; boundary=b0undary"},
        query={},
        body=body,
        models=MODELS,
        max_upload_bytes=10_000,
        long_audio_hint="",
    )
    assert request.audio == audio
