"""One list of formats (`inference.formats.FORMATS`): the refusal message, the OpenAPI document, the API
docs, the result schema, the page's file picker and the client's help all say what it says."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import yaml

from inference.errors import UnsupportedAudioFormatError
from inference.formats import ACCEPT_ATTRIBUTE, ACCEPTED_DESCRIPTION, FORMATS, RESULT_FORMATS

REPO = Path(__file__).resolve().parents[2]


def test_the_list_reads_as_users_know_the_formats():
    assert ACCEPTED_DESCRIPTION == (
        "WAV, FLAC, MP3, Ogg (Vorbis, Opus), MP4/M4A (AAC, ALAC), WebM/Matroska (Opus, Vorbis)"
    )
    assert len({f.name for f in FORMATS}) == len(FORMATS)


def test_the_refusal_lists_the_formats():
    from inference.audio import decode_audio

    try:
        decode_audio(b"not audio at all, just text", target_sample_rate=22050, max_duration_s=10)
    except UnsupportedAudioFormatError as refused:
        assert str(refused).endswith(f"accepted: {ACCEPTED_DESCRIPTION}")
    else:
        raise AssertionError("text was decoded")


def test_openapi_describes_the_file_with_the_list():
    document = yaml.safe_load((REPO / "openapi.yaml").read_text())
    form = document["paths"]["/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert form["schema"]["properties"]["file"]["description"] == (
        f"Audio formats: {ACCEPTED_DESCRIPTION}. Any rate, any channel count."
    )


def test_the_api_docs_list_the_formats():
    text = (REPO / "docs" / "api.md").read_text()
    assert f"Audio formats: {ACCEPTED_DESCRIPTION}." in text
    table = re.findall(r"^\| ([^|]+?) \| [^|]+ \| [^|]+ \| (libsndfile|FFmpeg \(PyAV\)[^|]*) \|$", text, flags=re.M)
    documented = [name.split(" (RIFF")[0] for name, _ in table]
    expected = [
        name for f in FORMATS for name in ([f"Ogg/{c}" for c in f.codecs] if f.name == "Ogg" else [f.description])
    ]
    assert documented == expected
    assert ", ".join(f"`{name}`" for name in RESULT_FORMATS[:-1]) + f" or `{RESULT_FORMATS[-1]}`" in " ".join(
        text.split()
    )


def test_the_result_schema_lists_every_result_format():
    schema = json.loads((REPO / "docs" / "result-schema.json").read_text())
    enums = [
        node["enum"] for node in _nodes(schema) if isinstance(node, dict) and "enum" in node and "WAV" in node["enum"]
    ]
    assert enums and all(tuple(enum) == RESULT_FORMATS for enum in enums)


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.files: list[dict[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input" and dict(attrs).get("type") == "file":
            self.files.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_pages_file_picker_accepts_the_list():
    page = _Inputs()
    page.feed((REPO / "web" / "index.html").read_text())
    assert [attrs.get("accept") for attrs in page.files] == [ACCEPT_ATTRIBUTE]
    assert f"{ACCEPTED_DESCRIPTION}." in "".join(page.text)
    for audio_format in FORMATS:
        assert all(ext in ACCEPT_ATTRIBUTE.split(",") for ext in audio_format.extensions)


def test_the_clients_help_lists_the_formats():
    from audio_inference_client.cli import FORMATS_HELP

    assert FORMATS_HELP == ACCEPTED_DESCRIPTION


def _nodes(node: object) -> list[object]:
    found = [node]
    if isinstance(node, dict):
        for value in node.values():
            found += _nodes(value)
    elif isinstance(node, list):
        for value in node:
            found += _nodes(value)
    return found
