"""Decode audio bytes to mono float32 at the model's sample rate.

Decoding goes through libsndfile (`soundfile`): WAV, FLAC, OGG/Vorbis and MP3,
any sample rate and channel count. Mixing to mono and resampling happen block
by block (`soxr` at high quality, as the reference resamples), so a 10-minute
stereo file never sits in memory at its original rate.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from inference.errors import (
    AudioTooLongError,
    EmptyAudioError,
    NonFiniteAudioError,
    UndecodableAudioError,
    UnsupportedAudioFormatError,
    ZeroLengthAudioError,
)

# libsndfile container names we accept, and how users know them.
SUPPORTED_FORMATS = {"WAV": "WAV", "WAVEX": "WAV", "RF64": "WAV", "FLAC": "FLAC", "OGG": "OGG/Vorbis", "MP3": "MP3"}
SUPPORTED_DESCRIPTION = "WAV, FLAC, OGG/Vorbis or MP3"
_BLOCK_FRAMES = 1 << 18


@dataclass(frozen=True)
class AudioInfo:
    """What the uploaded audio was (kept with results; the samples are not)."""

    duration_s: float
    source_sample_rate: int
    channels: int
    format: str


@dataclass(frozen=True)
class DecodedAudio:
    """Mono float32 samples at `sample_rate`, and what the source was."""

    samples: np.ndarray
    sample_rate: int
    source_sample_rate: int
    channels: int
    format: str

    @property
    def duration_s(self) -> float:
        """Duration of the source audio."""
        return float(self.samples.shape[0] / self.sample_rate)

    @property
    def info(self) -> AudioInfo:
        return AudioInfo(
            duration_s=self.duration_s,
            source_sample_rate=self.source_sample_rate,
            channels=self.channels,
            format=self.format,
        )


def sniff_format(head: bytes) -> str | None:
    """The container the first bytes announce, if it is one we know."""
    if (head[:4] == b"RIFF" and head[8:12] == b"WAVE") or head[:4] in (b"RF64", b"BW64"):
        return "WAV"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"OggS":
        return "OGG/Vorbis"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "MP3"
    return None


def _check_riff_complete(head: bytes, size: int) -> None:
    """A WAV whose RIFF header promises more bytes than arrived was cut off (an interrupted upload).

    libsndfile would decode what is there without a word; the size field of 0 or
    0xFFFFFFFF (streamed files) means unknown and is accepted, as is one missing pad byte.
    """
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    declared = int.from_bytes(head[4:8], "little")
    if declared not in (0, 0xFFFFFFFF) and declared + 8 > size + 1:
        raise UndecodableAudioError(
            f"the WAV data is truncated: its header declares {declared + 8:,} bytes, {size:,} arrived"
        )


class AudioStream:
    """An open audio source: what it is, and its samples (mono float32 at the target rate) block by block.

    `blocks()` yields exactly the samples `decode_audio` returns, in order, holding only one decoded
    block at a time; `n_samples` is known once they are all out. Errors surface where they are found:
    the header at open, a corrupt stream, non-finite samples or excess length while iterating.
    """

    HOLD_BACK = 4096
    """Samples kept back until the end, where the total is cut or padded to ceil(n_in * target / rate)."""

    def __init__(self, sound: sf.SoundFile, *, target_sample_rate: int, max_duration_s: float) -> None:
        self._sound = sound
        self.sample_rate = target_sample_rate
        self.source_sample_rate: int = sound.samplerate
        self.channels: int = sound.channels
        self.format = SUPPORTED_FORMATS[sound.format]
        self._max_frames = int(math.floor(max_duration_s * self.source_sample_rate))
        self.n_samples = 0
        self.n_in = 0

    def blocks(self) -> Iterator[np.ndarray]:
        rate, target = self.source_sample_rate, self.sample_rate
        resampler = soxr.ResampleStream(rate, target, 1, dtype="float32", quality="HQ") if rate != target else None
        held = np.zeros(0, dtype=np.float32)
        try:
            for block in self._sound.blocks(blocksize=_BLOCK_FRAMES, dtype="float32", always_2d=True):
                self.n_in += block.shape[0]
                if self.n_in > self._max_frames:
                    raise AudioTooLongError(f"the audio is longer than the allowed {self._max_frames / rate:g} s")
                mono = _mix_to_mono(block)
                if not np.isfinite(mono).all():
                    raise NonFiniteAudioError("the audio contains NaN or infinite samples")
                held = np.concatenate([held, resampler.resample_chunk(mono) if resampler else mono])
                if held.shape[0] > self.HOLD_BACK:
                    ready, held = held[: -self.HOLD_BACK], held[-self.HOLD_BACK :]
                    self.n_samples += ready.shape[0]
                    yield ready
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise UndecodableAudioError(f"the audio stream is corrupt ({_reason(exc)})") from None
        if self.n_in == 0:
            raise ZeroLengthAudioError("the audio decodes to zero samples")
        if resampler is not None:
            held = np.concatenate([held, resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)])
        expected = int(math.ceil(self.n_in * target / rate))
        missing = expected - self.n_samples
        if missing < 0:  # the hold-back is far larger than any resampler overshoot
            raise RuntimeError(f"resampler overshoot: {self.n_samples} samples out, {expected} expected")
        tail = np.zeros(missing, dtype=np.float32)
        tail[: min(missing, held.shape[0])] = held[:missing]
        self.n_samples += missing
        yield tail

    @property
    def duration_s(self) -> float:
        """Duration of the source audio (once every block is out)."""
        return float(self.n_samples / self.sample_rate)

    @property
    def info(self) -> AudioInfo:
        return AudioInfo(
            duration_s=self.duration_s,
            source_sample_rate=self.source_sample_rate,
            channels=self.channels,
            format=self.format,
        )


@contextmanager
def open_audio(
    source: bytes | bytearray | memoryview | str | Path,
    *,
    target_sample_rate: int,
    max_duration_s: float,
) -> Iterator[AudioStream]:
    """Open and check the audio's header (typed errors for every bad input); iterate `blocks()` inside."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.stat().st_size == 0:
            raise EmptyAudioError("the audio file is empty (0 bytes)")
        with path.open("rb") as fh:
            head = fh.read(16)
        readable: str | io.BytesIO = str(path)
        size = path.stat().st_size
    else:
        data = bytes(source)
        if not data:
            raise EmptyAudioError("no audio bytes were sent")
        head = data[:16]
        readable = io.BytesIO(data)
        size = len(data)

    sniffed = sniff_format(head)
    _check_riff_complete(head, size)
    try:
        sound = sf.SoundFile(readable)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        if sniffed:
            raise UndecodableAudioError(f"the {sniffed} data could not be decoded ({_reason(exc)})") from None
        raise UnsupportedAudioFormatError(f"not a supported audio format: expected {SUPPORTED_DESCRIPTION}") from None

    with sound:
        if sound.format not in SUPPORTED_FORMATS:
            raise UnsupportedAudioFormatError(
                f"{sound.format} audio is not supported: expected {SUPPORTED_DESCRIPTION}"
            )
        if sound.format == "OGG" and sound.subtype != "VORBIS":
            raise UnsupportedAudioFormatError(f"OGG/{sound.subtype} is not supported: expected {SUPPORTED_DESCRIPTION}")
        rate, channels = sound.samplerate, sound.channels
        if rate <= 0 or channels <= 0:
            raise UndecodableAudioError("the file declares no sample rate or no channels")
        if sound.frames and sound.frames / rate > max_duration_s:
            raise AudioTooLongError(
                f"the audio lasts {sound.frames / rate:.1f} s; at most {max_duration_s:g} s is allowed"
            )
        yield AudioStream(sound, target_sample_rate=target_sample_rate, max_duration_s=max_duration_s)


def decode_audio(
    source: bytes | bytearray | memoryview | str | Path,
    *,
    target_sample_rate: int,
    max_duration_s: float,
) -> DecodedAudio:
    """Decode, mix to mono and resample, into memory; typed errors for every bad input."""
    with open_audio(source, target_sample_rate=target_sample_rate, max_duration_s=max_duration_s) as stream:
        samples = np.concatenate(list(stream.blocks()))
    return DecodedAudio(
        samples=samples,
        sample_rate=target_sample_rate,
        source_sample_rate=stream.source_sample_rate,
        channels=stream.channels,
        format=stream.format,
    )


def _reason(exc: Exception) -> str:
    """libsndfile's own reason, without the file path or object repr its messages carry."""
    reason = getattr(exc, "error_string", None)
    return str(reason) if reason else type(exc).__name__


def _mix_to_mono(block: np.ndarray) -> np.ndarray:
    """Channel mean, summed in channel order then divided, as numpy's mean does.

    Column adds are several times faster than `block.mean(axis=1)` on
    interleaved frames and give the same float32 result.
    """
    channels = block.shape[1]
    if channels >= 8:  # numpy switches to pairwise summation from 8 terms on
        averaged: np.ndarray = block.mean(axis=1, dtype=np.float32)
        return averaged
    mono = block[:, 0].copy()
    if channels == 1:
        return mono
    for ch in range(1, channels):
        mono += block[:, ch]
    mono /= np.float32(channels)
    return mono
