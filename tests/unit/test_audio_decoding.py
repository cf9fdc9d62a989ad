"""Decoding: every supported format, rate and channel count; a typed error per bad input."""

from __future__ import annotations

import io
import math
import struct

import numpy as np
import pytest
import soundfile as sf
import soxr

from inference.audio import decode_audio
from inference.errors import (
    AudioTooLongError,
    EmptyAudioError,
    NonFiniteAudioError,
    UndecodableAudioError,
    UnsupportedAudioFormatError,
    ZeroLengthAudioError,
)
from inference.testing.signals import sine

TARGET = 22050


def encode(samples: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def decode(data, max_duration_s=600.0):
    return decode_audio(data, target_sample_rate=TARGET, max_duration_s=max_duration_s)


@pytest.mark.parametrize(
    "fmt, subtype, rate, channels",
    [
        ("WAV", "PCM_16", 44100, 2),
        ("WAV", "FLOAT", 22050, 1),
        ("WAV", "PCM_24", 8000, 1),
        ("FLAC", "PCM_16", 48000, 2),
        ("FLAC", "PCM_24", 96000, 6),
        ("OGG", "VORBIS", 32000, 2),
        ("MP3", "MPEG_LAYER_III", 44100, 1),
        # Telephony and voicemail codecs in WAV; libsndfile opens the first three as not seekable.
        ("WAV", "GSM610", 8000, 1),
        ("WAV", "G721_32", 8000, 1),
        ("WAV", "NMS_ADPCM_16", 8000, 1),
        ("WAV", "IMA_ADPCM", 22050, 2),
        ("WAV", "ULAW", 8000, 1),
    ],
)
def test_decodes_to_mono_float32_at_model_rate(fmt, subtype, rate, channels):
    tone = sine(69, rate, 1.5)
    data = encode(np.stack([tone] * channels, axis=1), rate, fmt, subtype)
    audio = decode(data)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert (audio.source_sample_rate, audio.channels, audio.sample_rate) == (rate, channels, TARGET)
    with sf.SoundFile(io.BytesIO(data)) as f:
        frames = f.frames
    assert audio.samples.shape[0] == math.ceil(frames * TARGET / rate)
    assert abs(audio.duration_s - frames / rate) < 1e-3
    # the tone survives: its spectrum peaks at 440 Hz
    spectrum = np.abs(np.fft.rfft(audio.samples))
    assert abs(np.argmax(spectrum) * TARGET / audio.samples.shape[0] - 440) < 3


def test_streaming_resample_equals_one_shot_resample_of_the_channel_mean():
    rng = np.random.default_rng(1)
    stereo = (rng.standard_normal((300_000, 2)) * 0.1).astype(np.float32)
    audio = decode(encode(stereo, 44100, "WAV", "FLOAT"))
    expected = soxr.resample(stereo.mean(axis=1), 44100, TARGET, quality="HQ")
    assert audio.samples.shape == expected.shape
    np.testing.assert_allclose(audio.samples, expected, atol=1e-6)


def test_reads_from_a_path(tmp_path):
    path = tmp_path / "a.flac"
    sf.write(path, sine(60, 22050, 0.5), 22050)
    assert decode(path).samples.shape[0] == 11025


def test_fails_empty_bytes():
    with pytest.raises(EmptyAudioError):
        decode(b"")


def test_fails_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(EmptyAudioError):
        decode(path)


def test_fails_bytes_that_are_no_audio_format():
    with pytest.raises(UnsupportedAudioFormatError) as e:
        decode(b"%PDF-1.7 this is not audio at all" * 10)
    assert "WAV, FLAC, MP3, Ogg (Vorbis, Opus), MP4/M4A (AAC, ALAC), WebM/Matroska (Opus, Vorbis)" in str(e.value)


def test_fails_a_known_format_that_does_not_decode():
    broken = b"RIFF" + struct.pack("<I", 1000) + b"WAVEfmt " + b"\x00" * 10
    with pytest.raises(UndecodableAudioError):
        decode(broken)


def test_fails_truncated_flac():
    data = encode(sine(60, 44100, 1.0), 44100, "FLAC")
    with pytest.raises((UndecodableAudioError, ZeroLengthAudioError)):
        decode(data[:60])


def test_fails_unsupported_container_even_if_libsndfile_reads_it():
    with pytest.raises(UnsupportedAudioFormatError) as e:
        decode(encode(sine(60, 44100, 0.5), 44100, "AIFF", "PCM_16"))
    assert "AIFF" in str(e.value)


def test_fails_zero_length_audio():
    with pytest.raises(ZeroLengthAudioError):
        decode(encode(np.zeros((0, 1), dtype=np.float32), 44100, "WAV", "PCM_16"))


def test_fails_audio_longer_than_the_maximum():
    with pytest.raises(AudioTooLongError) as e:
        decode(encode(sine(60, 8000, 3.0), 8000, "WAV", "PCM_16"), max_duration_s=2.0)
    assert "2 s" in str(e.value)


def test_fails_non_finite_samples():
    samples = sine(60, 22050, 0.5)
    samples[100] = np.nan
    with pytest.raises(NonFiniteAudioError):
        decode(encode(samples, 22050, "WAV", "FLOAT"))


def test_fails_infinite_samples():
    samples = sine(60, 22050, 0.5)
    samples[5] = np.inf
    with pytest.raises(NonFiniteAudioError):
        decode(encode(samples, 22050, "WAV", "FLOAT"))


def test_fails_a_truncated_wav_that_libsndfile_would_silently_shorten():
    data = encode(sine(69, TARGET, 1.0), TARGET, "WAV", "PCM_16")
    with pytest.raises(UndecodableAudioError, match="truncated"):
        decode(data[: len(data) // 2])
    assert decode(data).info.duration_s == 1.0  # the whole file decodes


def test_accepts_a_streamed_wav_whose_header_size_is_unknown():
    data = bytearray(encode(sine(69, TARGET, 0.1), TARGET, "WAV", "PCM_16"))
    data[4:8] = (0xFFFFFFFF).to_bytes(4, "little")
    assert decode(bytes(data)).samples.shape[0] == round(0.1 * TARGET)


@pytest.mark.parametrize("placeholder", [0, 0x7FFFFFFF, 0xFFFFFFFF])
@pytest.mark.parametrize("fields", ["riff and data", "data only"])
def test_a_wav_streamed_with_a_placeholder_length_decodes_what_arrived(placeholder: int, fields: str) -> None:
    """A recorder writing to a pipe cannot go back to write the length: it leaves 0 or the largest 32-bit
    size there. Such a file is the recording, not a truncated one (0 read as no samples; 2^31-1 was
    refused as cut short)."""
    whole = encode(sine(69, 16000, 1.0), 16000, "WAV", "PCM_16")
    assert whole[36:40] == b"data"
    streamed = bytearray(whole)
    streamed[40:44] = struct.pack("<I", placeholder)
    if fields == "riff and data":
        streamed[4:8] = struct.pack("<I", placeholder)
    expected = decode(whole).samples
    np.testing.assert_array_equal(decode(bytes(streamed)).samples, expected)
    # cut while still recording (a half sample at the end too): what arrived is decoded
    cut = decode(bytes(streamed[: 44 + 16000 + 1])).samples
    assert cut.shape[0] == math.ceil(8000 * TARGET / 16000)


def test_a_wav_cut_short_of_a_real_length_is_still_refused() -> None:
    whole = encode(sine(69, 16000, 1.0), 16000, "WAV", "PCM_16")
    with pytest.raises(UndecodableAudioError, match="truncated"):
        decode(whole[: len(whole) // 2])
