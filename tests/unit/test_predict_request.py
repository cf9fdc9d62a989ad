"""Parsing POST /predict: both forms, parameters, Accept and file names, refused before any work."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from urllib3 import encode_multipart_formdata

from inference.config import InferenceParameters
from inference.models.silero_vad.parameters import VadParameters
from service.http.errors import ApiError
from service.http.parameters import sanitize_filename
from service.predict.request import parse_predict_request

DEFAULTS = InferenceParameters()
MODELS = {
    "basic-pitch": SimpleNamespace(defaults=DEFAULTS),
    "silero-vad": SimpleNamespace(defaults=VadParameters()),
}
"""What the service passes: each served model's loaded Transcriber (here only its defaults), default first."""
AUDIO = b"RIFF....WAVEfmt "


def parse(
    body: bytes, content_type: str, *, query: dict[str, list[str]] | None = None, accept: str = "", limit: int = 1000
) -> object:
    headers = {"content-type": content_type, **({"accept": accept} if accept else {})}
    return parse_predict_request(
        headers=headers,
        query=query or {},
        body=body,
        models=MODELS,
        max_upload_bytes=limit,
        long_audio_hint="send shorter clips",
    )


def multipart(*parts: tuple[str, object]) -> tuple[bytes, str]:
    return encode_multipart_formdata(list(parts), boundary="b0undary")  # type: ignore[arg-type]


def refused(body: bytes, content_type: str, **kwargs: object) -> ApiError:
    with pytest.raises(ApiError) as e:
        parse(body, content_type, **kwargs)  # type: ignore[arg-type]
    return e.value


def test_multipart_gives_the_file_its_name_and_the_field_parameters() -> None:
    body, content_type = multipart(
        ("file", ("song.wav", AUDIO, "audio/wav")), ("onset_threshold", "0.7"), ("melodia_trick", "false")
    )
    request = parse(body, content_type)
    assert request.audio == AUDIO and request.filename == "song.wav"  # type: ignore[attr-defined]
    assert request.parameters == DEFAULTS.with_overrides(onset_threshold=0.7, melodia_trick=False)  # type: ignore[attr-defined]


def test_raw_audio_takes_query_parameters() -> None:
    request = parse(AUDIO, "audio/wav", query={"midi_tempo": ["90"], "maximum_frequency_hz": ["2000"]})
    assert request.parameters.midi_tempo == 90 and request.parameters.maximum_frequency_hz == 2000  # type: ignore[attr-defined]
    assert request.content_type == "audio/wav" and request.filename is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "accept, midi",
    [
        ("audio/midi", True),
        ("application/json", False),
        ("", False),
        ("*/*", False),
        ("audio/midi;q=0.1, application/json", True),
        ("audio/x-midi", True),
        ("audio/midi;q=0, application/json", False),
        # API Gateway converts a binary answer only when the FIRST listed type is binary: q-values aside,
        # MIDI after JSON would reach the client as base64 text.
        ("application/json;q=0.1, audio/midi;q=0.9", False),
        ("application/json;q=0.5, audio/midi", False),
        ("text/html, audio/x-midi", False),
    ],
)
def test_accept_picks_midi_only_when_it_is_the_first_type(accept: str, midi: bool) -> None:
    assert parse(AUDIO, "audio/wav", accept=accept).wants_midi is midi  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "content_type, status, code",
    [
        ("", 415, "unsupported_media_type"),
        ("application/json", 415, "unsupported_media_type"),
        ("text/plain; charset=utf-8", 415, "unsupported_media_type"),
        ("multipart/form-data", 400, "bad_request"),
    ],
)
def test_fails_content_types_it_cannot_read(content_type: str, status: int, code: str) -> None:
    error = refused(AUDIO, content_type)
    assert (error.status, error.code) == (status, code)


def test_fails_a_body_over_the_limit_before_parsing_it() -> None:
    error = refused(b"x" * 1001, "multipart/form-data; boundary=zzz")
    assert (error.status, error.code) == (413, "payload_too_large") and "send shorter clips" in error.message


@pytest.mark.parametrize(
    "parts, message",
    [
        ((("onset_threshold", "0.5"),), "no 'file' part"),
        ((("file", ("a.wav", AUDIO)), ("file", ("b.wav", AUDIO))), "2 'file' parts"),
        ((("file", ("a.wav", AUDIO)), ("extra", ("b.wav", AUDIO))), "unexpected file part"),
    ],
)
def test_fails_forms_without_exactly_one_file(parts: tuple[tuple[str, object], ...], message: str) -> None:
    body, content_type = multipart(*parts)
    error = refused(body, content_type)
    assert error.status == 400 and message in error.message


def test_a_multipart_preamble_and_epilogue_are_ignored_as_rfc_2046_says() -> None:
    body, content_type = multipart(("file", ("song.wav", AUDIO, "audio/wav")), ("midi_tempo", "90"))
    request = parse(b"This is a preamble.\r\n" + body + b"\r\nand an epilogue", content_type)
    assert request.audio == AUDIO and request.parameters.midi_tempo == 90  # type: ignore[attr-defined]


def test_fails_a_multipart_body_without_its_boundary_in_plain_words() -> None:
    body, content_type = multipart(("file", ("song.wav", AUDIO, "audio/wav")))
    refusal = refused(body.replace(b"--b0undary", b"--other"), content_type)
    assert refusal.code == "bad_request" and "no line starts with its boundary, --b0undary" in refusal.message


def test_fails_a_multipart_body_cut_short() -> None:
    body, content_type = multipart(("file", ("a.wav", AUDIO)))
    assert refused(body[:-20], content_type).code == "bad_request"


@pytest.mark.parametrize(
    "query, fragment",
    [
        ({"onset_threshold": ["2"]}, "onset_threshold=2.0 is invalid: allowed a number from 0.05 to 0.95"),
        ({"midi_tempo": ["fast"]}, "midi_tempo='fast' is invalid"),
        ({"batch_size": ["64"]}, "unknown parameter 'batch_size'"),
        ({"runtime": ["openvino"]}, "unknown parameter 'runtime'"),
        ({"threads": ["16"]}, "unknown parameter 'threads'"),
        ({"precision": ["int4"]}, "precision='int4' is invalid: allowed one of ('exact', 'fast')"),
        ({"onset_threshold": ["0.3", "0.4"]}, "given 2 times"),
        ({"minimum_frequency_hz": ["500"], "maximum_frequency_hz": ["100"]}, "minimum_frequency_hz=500.0"),
    ],
)
def test_fails_parameters_with_the_name_the_value_and_what_is_allowed(
    query: dict[str, list[str]], fragment: str
) -> None:
    error = refused(AUDIO, "audio/wav", query=query)
    assert (error.status, error.code) == (422, "invalid_parameter") and fragment in error.message


def test_a_parameter_in_both_the_query_and_the_form_is_given_twice() -> None:
    body, content_type = multipart(("file", ("a.wav", AUDIO)), ("onset_threshold", "0.4"))
    assert "given 2 times" in refused(body, content_type, query={"onset_threshold": ["0.6"]}).message


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("song.wav", "song.wav"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\take 1.wav", "take 1.wav"),
        ("Café ピアノ.flac", "Caf%C3%A9%20%E3%83%94%E3%82%A2%E3%83%8E.flac".replace("%20", " ")),
        ("..", None),
        ("", None),
        ("a" * 300 + ".wav", "a" * 200),
    ],
)
def test_file_names_become_safe_ascii_metadata(raw: str, safe: str | None) -> None:
    assert sanitize_filename(raw) == safe


def test_the_default_model_is_the_first_served() -> None:
    request = parse(AUDIO, "audio/wav")
    assert request.model == "basic-pitch" and request.parameters == DEFAULTS  # type: ignore[attr-defined]


def test_a_model_takes_its_own_parameters_from_fields_or_query() -> None:
    body, content_type = multipart(
        ("file", ("a.wav", AUDIO, "audio/wav")), ("model", "silero-vad"), ("threshold", "0.6")
    )
    request = parse(body, content_type, query={"speech_pad_ms": ["50"]})
    assert request.model == "silero-vad"  # type: ignore[attr-defined]
    assert request.parameters == VadParameters(threshold=0.6, speech_pad_ms=50.0)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {"model": ["silero-vad"], "onset_threshold": ["0.5"]},
            "unknown parameter 'onset_threshold' for model silero-vad",
        ),
        ({"threshold": ["0.5"]}, "unknown parameter 'threshold' for model basic-pitch"),
        ({"model": ["silero-vad"], "precision": ["fast"]}, "unknown parameter 'precision' for model silero-vad"),
        ({"model": ["whisper"]}, "model='whisper' is not served here: allowed basic-pitch, silero-vad"),
        ({"model": ["silero-vad", "basic-pitch"]}, "parameter 'model' is given 2 times"),
        (
            {"model": ["silero-vad"], "threshold": ["1.5"]},
            "threshold=1.5 is invalid: allowed a number from 0.01 to 0.99",
        ),
    ],
)
def test_parameters_belong_to_their_model(query: dict[str, list[str]], expected: str) -> None:
    error = refused(AUDIO, "audio/wav", query=query)
    assert (error.status, error.code) == (422, "invalid_parameter")
    assert expected in error.message


def test_midi_from_a_model_without_notes_is_406() -> None:
    error = refused(AUDIO, "audio/wav", query={"model": ["silero-vad"]}, accept="audio/midi")
    assert (error.status, error.code) == (406, "not_acceptable")
    assert "application/json" in error.message
