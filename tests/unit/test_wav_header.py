"""What a WAV-family header declares (inference/wav_header.py): sizes in RIFF's and RF64's fields, the fmt
chunk behind a long bext chunk, streamed sizes accepted, and BW64 read as RF64."""

from __future__ import annotations

import io
import struct

import numpy as np
import soundfile as sf

from inference import wav_header


def written(fmt: str, seconds: float = 0.5, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(int(rate * seconds), dtype=np.float32), rate, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


def with_bext_before_fmt(data: bytes) -> bytes:
    """A Broadcast WAV's layout: a 602-byte bext chunk between the RIFF header and fmt (past SNIFF_BYTES)."""
    bext = b"bext" + struct.pack("<I", 602) + b"\0" * 602
    body = data[12:]
    riff = data[:4] + struct.pack("<I", len(body) + len(bext) + 4) + b"WAVE"
    return riff + bext + body


def test_riff_size_rate_and_channels() -> None:
    data = written("WAV")
    header = wav_header.parse(data)
    assert header == wav_header.WavHeader(b"RIFF", len(data), 16_000, 1)
    assert header.truncation(len(data)) is None and header.truncation(len(data) - 1) is None  # a missing pad byte
    assert header.truncation(len(data) // 2) == (
        f"the WAV data is truncated: its header declares {len(data):,} bytes, {len(data) // 2:,} arrived"
    )


def test_the_fmt_chunk_is_found_behind_a_long_bext_chunk() -> None:
    data = with_bext_before_fmt(written("WAV"))
    header = wav_header.parse(data[: wav_header.HEADER_BYTES])
    assert header is not None and (header.sample_rate, header.channels) == (16_000, 1)
    assert header.declared_bytes == len(data)


def test_a_streamed_riff_declares_no_size_and_is_not_truncated() -> None:
    data = bytearray(written("WAV"))
    for unknown in (0, 0xFFFFFFFF):
        data[4:8] = unknown.to_bytes(4, "little")
        header = wav_header.parse(bytes(data))
        assert header is not None and header.declared_bytes is None and header.truncation(10) is None


def test_rf64_declares_its_size_in_ds64() -> None:
    data = written("RF64")
    assert data[4:8] == b"\xff\xff\xff\xff" and data[12:16] == b"ds64"
    header = wav_header.parse(data)
    assert header == wav_header.WavHeader(b"RF64", len(data), 16_000, 1)
    assert header.truncation(len(data) - 100) is not None


def test_bw64_is_read_as_rf64_without_copying_the_file() -> None:
    rf64 = written("RF64")
    bw64 = io.BytesIO(b"BW64" + rf64[4:])
    assert wav_header.parse(bw64.getvalue()) is not None
    shown = wav_header.as_rf64(bw64)
    assert shown.read(6) == rf64[:6] and shown.read() == rf64[6:]
    shown.seek(2)
    assert shown.read(4) == rf64[2:6]
    samples, rate = sf.read(wav_header.as_rf64(io.BytesIO(b"BW64" + rf64[4:])))
    assert rate == 16_000 and len(samples) == 8_000


def test_anything_else_is_not_a_wav_header() -> None:
    assert wav_header.parse(b"fLaC" + b"\0" * 40) is None
    assert wav_header.parse(b"RIFF\0\0\0\0AVI LIST") is None
    assert wav_header.parse(b"RIFF") is None
