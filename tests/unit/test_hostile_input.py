"""The pure parts of hostile-input handling: bounded JSON, ASCII numbers, status URLs, container ends."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from contract.validation import ConfigError
from inference.audio import decode_audio
from inference.config import coerce
from inference.errors import UndecodableAudioError
from inference.truncation import OGG_MAX_PAGE, mp3_truncation, ogg_truncation
from service.http.errors import ApiError
from service.http.json_body import MAX_DEPTH, nesting_depth, parse_json_body
from service.jobs.requests import status_url_template


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"[" * 2000 + b"]" * 2000, "nests 2000 levels"),
        (b'{"n": ' + b"7" * 4301 + b"}", "has 4,301 characters (777777777777...)"),
        (b'{"n": 1e999}', "out of range"),
        (b'{"n": 1e-400}', "the number 1e-400 is out of range: it is too small to tell from 0"),
        (b'{"n": NaN}', "NaN is not a JSON number"),
        (b'{"n": -Infinity}', "-Infinity is not a JSON number"),
        (b" " * 70_000, "at most 65,536"),
        (b'{"model": "silero-vad", "model": "basic-pitch"}', "'model' appear more than once in one object"),
        (b'{"parameters": {"threshold": 0.4, "threshold": 0.9}}', "'threshold' appear more than once"),
    ],
)
def test_json_bodies_are_bounded_before_and_while_parsing(body: bytes, fragment: str) -> None:
    with pytest.raises(ApiError) as refused:
        parse_json_body(body)
    assert refused.value.status == 400 and fragment in refused.value.message
    assert len(refused.value.message) < 200


def test_zeros_and_small_numbers_still_parse() -> None:
    assert parse_json_body(b"[0, -0, 0.0, 0e5, 1e-300, 0.05]") == [0, 0, 0.0, 0.0, 1e-300, 0.05]


def test_depth_is_counted_outside_strings_only() -> None:
    assert nesting_depth(b'{"a": "[[[[[[[[[[[[\\"[[[[", "b": [[1]]}') == 3
    assert parse_json_body(b'{"a": "' + b"[" * 100 + b'"}') == {"a": "[" * 100}
    assert parse_json_body(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


@pytest.mark.parametrize("text", ["٠.٥", "０.５", "1_0", " nan", "inf", "Infinity", "0x10", "+1", ".5", "1.", "𝟏"])
def test_numbers_take_json_grammar_in_ascii_only(text: str) -> None:
    with pytest.raises(ConfigError):
        coerce("midi_tempo", text, "float")


@pytest.mark.parametrize("text, value", [("0.5", 0.5), ("-2", -2.0), ("1e3", 1000.0), ("1.5E-2", 0.015), (" 7 ", 7.0)])
def test_json_numbers_still_parse(text: str, value: float) -> None:
    assert coerce("midi_tempo", text, "float") == value


def test_integers_keep_the_grammar_and_refuse_fractions() -> None:
    assert coerce("batch_size", "4", "int") == 4 and coerce("batch_size", "4.0", "int") == 4
    with pytest.raises(ConfigError):
        coerce("batch_size", "٤", "int")
    with pytest.raises(ConfigError):
        coerce("batch_size", "4.5", "int")


@pytest.mark.parametrize(
    "context, path, url",
    [
        (
            {"domainName": "abc123.execute-api.eu-west-1.amazonaws.com", "stage": "v1", "path": "/v1/jobs"},
            "/jobs",
            "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/jobs/{job_id}",
        ),
        (
            {"domainName": "api.example.com", "stage": "v1", "path": "/audio/jobs"},
            "/jobs",
            "https://api.example.com/audio/jobs/{job_id}",
        ),
        (
            {"domainName": "127.0.0.1:8080", "stage": "v1", "path": "/jobs"},
            "/jobs",
            "http://127.0.0.1:8080/jobs/{job_id}",
        ),
        ({"domainName": "javascript://evil.example", "path": "/jobs"}, "/jobs", "/jobs/{job_id}"),
        ({"domainName": "evil.example/x#", "path": "/jobs"}, "/jobs", "/jobs/{job_id}"),
        ({}, "/jobs", "/jobs/{job_id}"),
    ],
)
def test_status_urls_come_from_the_request_context(context: dict[str, str], path: str, url: str) -> None:
    assert status_url_template(context, path) == url


def _encoded(fmt: str, subtype: str, seconds: float = 4.0) -> bytes:
    rate = 22050
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype(np.float32)
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", rate, 1, format=fmt, subtype=subtype) as out:
        for start in range(0, len(tone), 8192):
            out.write(tone[start : start + 8192])
    return buffer.getvalue()


def test_an_ogg_file_ends_with_an_end_of_stream_page() -> None:
    ogg = _encoded("OGG", "VORBIS")
    assert ogg_truncation(ogg[-OGG_MAX_PAGE:]) is None
    assert "incomplete" in str(ogg_truncation(ogg[: len(ogg) // 2][-OGG_MAX_PAGE:]))
    last_page = ogg.rfind(b"OggS")
    assert "does not end the stream" in str(ogg_truncation(ogg[:last_page]))


def test_an_mp3_with_a_xing_header_has_the_frames_it_states() -> None:
    mp3 = _encoded("MP3", "MPEG_LAYER_III")
    assert b"Xing" in mp3[:1000] or b"Info" in mp3[:1000]
    assert mp3_truncation(mp3) is None
    assert mp3_truncation(mp3 + b"TAG" + b"\0" * 125) is None  # an ID3v1 tag after the frames
    message = str(mp3_truncation(mp3[: len(mp3) // 2]))
    assert "declares" in message and "frames" in message
    assert mp3_truncation(b"\xff\xfb\x90\x00" + b"\0" * 50) is None  # no Xing header: nothing states a length


def _id3v2(version: int, body: bytes, footer: bool = False) -> bytes:
    size = len(body)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    header = b"ID3" + bytes([version, 0, 0x10 if footer else 0]) + syncsafe
    return header + body + (b"3DI" + bytes([version, 0, 0x10]) + syncsafe if footer else b"")


def test_an_mp3_cut_inside_its_id3_tag_says_so() -> None:
    """A stranger's MP3 cut inside a 49 kB cover-art tag got libsndfile's "File does not exist or is not a
    regular file (possibly a pipe?)"."""
    tagged = _id3v2(3, b"APIC" + b"\0" * 49_000) + _encoded("MP3", "MPEG_LAYER_III")
    with pytest.raises(UndecodableAudioError, match="truncated inside its ID3 tag"):
        decode_audio(tagged[:20_000], target_sample_rate=22050, max_duration_s=60)
    assert decode_audio(tagged, target_sample_rate=22050, max_duration_s=60).samples.size > 0


def test_an_mp3_behind_an_id3v24_tag_with_a_footer_decodes() -> None:
    """libsndfile skips the tag's size but not v2.4's footer, and called the file "not recognised"."""
    mp3 = _encoded("MP3", "MPEG_LAYER_III")
    plain = decode_audio(mp3, target_sample_rate=22050, max_duration_s=60).samples
    tagged = decode_audio(
        _id3v2(4, b"TIT2" + b"\0" * 200, footer=True) + mp3, target_sample_rate=22050, max_duration_s=60
    )
    np.testing.assert_array_equal(tagged.samples, plain)
