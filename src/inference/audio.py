"""Decode audio bytes to mono float32 at the model's sample rate.

The container is sniffed from the first bytes against the one list of accepted formats
(`inference.formats`); a file name or a content type never chooses it. WAV, FLAC, MP3 and
Ogg/Vorbis are decoded by libsndfile (`soundfile`); Ogg/Opus, MP4/M4A (AAC, ALAC) and WebM/Matroska
(Opus, Vorbis) by FFmpeg through PyAV, with that one demuxer and no protocol
(`inference.pyav_source`). Any sample rate in bounds and any channel count. Mixing to mono and
resampling happen block by block (`soxr` at high quality, as the reference resamples), so a
10-minute stereo file never sits in memory at its original rate.
"""

from __future__ import annotations

import io
import math
import mmap
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, cast

import numpy as np
import soundfile as sf
import soxr

from inference import wav_header
from inference.byte_views import FromOffset
from inference.errors import (
    AudioTooLargeError,
    AudioTooLongError,
    EmptyAudioError,
    NonFiniteAudioError,
    TooManyChannelsError,
    UndecodableAudioError,
    UnsupportedAudioFormatError,
    UnsupportedSampleRateError,
    ZeroLengthAudioError,
)
from inference.formats import ACCEPTED_DESCRIPTION, FLAC, MP3, OGG, SNIFF_BYTES, WAV, AudioFormat, Sniffed, sniff
from inference.truncation import (
    OGG_MAX_PAGE,
    ebml_truncation,
    has_id3v2_footer,
    id3v2_end,
    mp3_truncation,
    mp4_truncation,
    ogg_truncation,
)

# libsndfile's container names, and the sniffed format each must agree with.
_SNDFILE_FORMATS = {"WAV": WAV, "WAVEX": WAV, "RF64": WAV, "FLAC": FLAC, "OGG": OGG, "MP3": MP3}
_OGG_SUBTYPES = {"VORBIS": "Vorbis", "OPUS": "Opus"}
_BLOCK_FRAMES = 1 << 18


@dataclass(frozen=True, kw_only=True)
class WorkBounds:
    """What a decode may cost, checked from the header before decoding and again as samples come
    (headers may not state a length, or may lie): a sample-rate range, a channel cap and a budget of
    decoded samples x channels, which is what decoding, mixing and resampling cost in proportion to.
    The duration limit alone bounds the model's work, not the decoder's."""

    min_sample_rate_hz: int
    max_sample_rate_hz: int
    max_channels: int
    max_decoded_samples: int
    """Frames x channels at the source's own rate."""


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
    """What the first bytes announce, if it is a format we accept (`inference.formats.sniff` says more)."""
    sniffed = sniff(head)
    return sniffed.detected if sniffed.format is not None else None


class _Source(Protocol):
    """An opened decoder: its header, and float32 frames x channels block by block (errors typed)."""

    samplerate: int
    channels: int
    frames: int
    format: str

    def blocks(self, blocksize: int) -> Iterator[np.ndarray]: ...


class _SndfileSource:
    """libsndfile's SoundFile as a `_Source`."""

    def __init__(self, sound: sf.SoundFile, format_name: str) -> None:
        self._sound = sound
        self.samplerate: int = sound.samplerate
        self.channels: int = sound.channels
        self.frames: int = sound.frames
        self.format = format_name

    def blocks(self, blocksize: int) -> Iterator[np.ndarray]:
        """Block by block with `read`: libsndfile opens some WAV codecs (GSM 6.10, G.721, NMS ADPCM, common
        from telephony and voicemail) as not seekable, and SoundFile.blocks refuses those."""
        try:
            while (block := self._sound.read(blocksize, dtype="float32", always_2d=True)).shape[0]:
                yield block
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise UndecodableAudioError(f"the audio stream is corrupt ({_reason(exc)})") from None


class AudioStream:
    """An open audio source: what it is, and its samples (mono float32 at the target rate) block by block.

    `blocks()` yields exactly the samples `decode_audio` returns, in order, holding only one decoded
    block at a time; `n_samples` is known once they are all out. Errors surface where they are found:
    the header at open, a corrupt stream, non-finite samples or excess length while iterating.
    """

    HOLD_BACK = 4096
    """Samples kept back until the end, where the total is cut or padded to ceil(n_in * target / rate)."""

    def __init__(
        self,
        source: _Source,
        *,
        target_sample_rate: int,
        max_duration_s: float,
        max_decoded_samples: int | None = None,
    ) -> None:
        self._source = source
        self._max_decoded_samples = max_decoded_samples
        self.sample_rate = target_sample_rate
        self.source_sample_rate: int = source.samplerate
        self.channels: int = source.channels
        self.format = source.format
        self._max_frames = int(math.floor(max_duration_s * self.source_sample_rate))
        self.n_samples = 0
        self.n_in = 0

    def blocks(self) -> Iterator[np.ndarray]:
        rate, target = self.source_sample_rate, self.sample_rate
        resampler = soxr.ResampleStream(rate, target, 1, dtype="float32", quality="HQ") if rate != target else None
        held = np.zeros(0, dtype=np.float32)
        for block in self._source.blocks(_BLOCK_FRAMES):
            self.n_in += block.shape[0]
            if self.n_in > self._max_frames:
                raise AudioTooLongError(f"the audio is longer than the allowed {self._max_frames / rate:g} s")
            if self._max_decoded_samples is not None and self.n_in * self.channels > self._max_decoded_samples:
                raise _too_large(self.n_in, rate, self.channels, self._max_decoded_samples, so_far=True)
            mono = _mix_to_mono(block)
            if not np.isfinite(mono).all():
                raise NonFiniteAudioError("the audio contains NaN or infinite samples")
            held = np.concatenate([held, resampler.resample_chunk(mono) if resampler else mono])
            if held.shape[0] > self.HOLD_BACK:
                ready, held = held[: -self.HOLD_BACK], held[-self.HOLD_BACK :]
                self.n_samples += ready.shape[0]
                yield ready
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
    bounds: WorkBounds | None = None,
) -> Iterator[AudioStream]:
    """Open and check the audio's header (typed errors for every bad input); iterate `blocks()` inside.

    With `bounds`, audio whose rate, channels or size the header shows to be out of bounds is refused
    before one sample is decoded, and decoding stops as soon as the budget is passed."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.stat().st_size == 0:
            raise EmptyAudioError("the audio file is empty (0 bytes)")
        with path.open("rb") as fh:  # one read serves the sniffer and a WAV header behind long chunks
            prefix = fh.read(max(SNIFF_BYTES, wav_header.HEADER_BYTES))
        head = prefix[:SNIFF_BYTES]
        size = path.stat().st_size
    else:
        data = bytes(source)
        if not data:
            raise EmptyAudioError("no audio bytes were sent")
        prefix = data[: max(SNIFF_BYTES, wav_header.HEADER_BYTES)]
        head = prefix[:SNIFF_BYTES]
        size = len(data)

    sniffed = sniff(head)
    if sniffed.format is None:
        raise UnsupportedAudioFormatError(
            f"not a supported audio format: this is {sniffed.detected}; accepted: {ACCEPTED_DESCRIPTION}"
        )
    wav = wav_header.parse(prefix) if sniffed.format is WAV else None
    if wav is not None:
        _check_wav_header(wav, size, bounds)
    _check_container_complete(sniffed.format, source)
    with ExitStack() as closing:
        file: IO[bytes] = (
            closing.enter_context(Path(source).open("rb")) if isinstance(source, (str, Path)) else io.BytesIO(data)
        )
        if wav is not None and wav.magic == b"BW64":
            file = wav_header.as_rf64(file)
        if wav is not None and wav.streamed_sizes_at is not None:
            file = wav_header.with_sizes_of(file, wav, size)
        if sniffed.format is MP3 and has_id3v2_footer(prefix):
            file = cast(IO[bytes], FromOffset(file, id3v2_end(prefix)))  # libsndfile misses the footer
        opened = _open_source(sniffed, file, closing)
        rate, channels = opened.samplerate, opened.channels
        if rate <= 0 or channels <= 0:
            raise UndecodableAudioError("the file declares no sample rate or no channels")
        if bounds is not None:
            _check_bounds(bounds, rate, channels, opened.frames)
        if opened.frames and opened.frames / rate > max_duration_s:
            raise AudioTooLongError(
                f"the audio lasts {opened.frames / rate:.1f} s; at most {max_duration_s:g} s is allowed"
            )
        yield AudioStream(
            opened,
            target_sample_rate=target_sample_rate,
            max_duration_s=max_duration_s,
            max_decoded_samples=bounds.max_decoded_samples if bounds else None,
        )


def _open_source(sniffed: Sniffed, file: IO[bytes], closing: ExitStack) -> _Source:
    """The sniffed format's decoder on `file`, closed with `closing`; typed errors for what it refuses."""
    audio_format = sniffed.format
    assert audio_format is not None
    if audio_format.decoder == "pyav":
        from inference.pyav_source import PyAVSource  # FFmpeg is loaded for the formats that need it

        opened = PyAVSource(file, audio_format, sniffed.detected)
        closing.callback(opened.close)
        return opened
    try:
        sound = closing.enter_context(sf.SoundFile(file))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise UndecodableAudioError(f"the {sniffed.detected} data could not be decoded ({_reason(exc)})") from None
    if _SNDFILE_FORMATS.get(sound.format) is not audio_format:
        raise UndecodableAudioError(f"the {sniffed.detected} data could not be decoded (it reads as {sound.format})")
    if audio_format is OGG:
        codec = _OGG_SUBTYPES.get(sound.subtype)
        if codec is None or codec != sniffed.codec:
            raise UnsupportedAudioFormatError(
                f"Ogg/{sound.subtype.title()} is not supported: expected {ACCEPTED_DESCRIPTION}"
            )
        return _SndfileSource(sound, f"{OGG.result_name}/{codec}")
    return _SndfileSource(sound, audio_format.result_name)


def _check_wav_header(wav: wav_header.WavHeader, size: int, bounds: WorkBounds | None) -> None:
    """What the header declares, checked before libsndfile: it decodes a cut file without a word and
    refuses a rate of 0 in its own words."""
    problem = wav.truncation(size)
    if problem:
        raise UndecodableAudioError(problem)
    if wav.sample_rate is not None and bounds is not None:
        _check_rate(bounds, wav.sample_rate)
    if wav.sample_rate == 0 or wav.channels == 0:
        raise UndecodableAudioError("the file declares no sample rate or no channels")


def _check_rate(bounds: WorkBounds, rate: int) -> None:
    if not bounds.min_sample_rate_hz <= rate <= bounds.max_sample_rate_hz:
        raise UnsupportedSampleRateError(
            f"the audio's sample rate is {rate:,} Hz; allowed {bounds.min_sample_rate_hz:,} to "
            f"{bounds.max_sample_rate_hz:,} Hz"
        )


def _check_bounds(bounds: WorkBounds, rate: int, channels: int, frames: int) -> None:
    _check_rate(bounds, rate)
    if channels > bounds.max_channels:
        raise TooManyChannelsError(f"the audio has {channels} channels; at most {bounds.max_channels} are allowed")
    if frames and frames * channels > bounds.max_decoded_samples:
        raise _too_large(frames, rate, channels, bounds.max_decoded_samples, so_far=False)


def _too_large(frames: int, rate: int, channels: int, budget: int, *, so_far: bool) -> AudioTooLargeError:
    what = "has more than" if so_far else "has"
    return AudioTooLargeError(
        f"the audio {what} {frames * channels:,} samples to decode ({frames / rate:.1f} s x {rate:,} Hz x "
        f"{channels} channels); at most {budget:,} are allowed (e.g. {budget / (48_000 * 2):g} s of 48 kHz stereo)"
    )


def _check_container_complete(audio_format: AudioFormat, source: bytes | bytearray | memoryview | str | Path) -> None:
    """Ogg, MP3, MP4 and WebM files cut short may decode without a word: their containers say how they end."""
    ogg = audio_format.result_name == OGG.result_name
    if not ogg and audio_format is not MP3 and audio_format.decoder != "pyav":
        return
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            if ogg:
                fh.seek(max(0, Path(source).stat().st_size - OGG_MAX_PAGE))
                problem = ogg_truncation(fh.read())
            else:
                with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped, memoryview(mapped) as view:
                    problem = _whole_file_truncation(audio_format, view)
    else:
        data = memoryview(source)
        problem = ogg_truncation(bytes(data[-OGG_MAX_PAGE:])) if ogg else _whole_file_truncation(audio_format, data)
    if problem:
        raise UndecodableAudioError(problem)


def _whole_file_truncation(audio_format: AudioFormat, view: memoryview) -> str | None:
    if audio_format is MP3:
        return mp3_truncation(view)
    if audio_format.demuxer == "mp4":
        return mp4_truncation(view)
    if audio_format.demuxer == "matroska":
        return ebml_truncation(view)
    return None


def decode_audio(
    source: bytes | bytearray | memoryview | str | Path,
    *,
    target_sample_rate: int,
    max_duration_s: float,
    bounds: WorkBounds | None = None,
) -> DecodedAudio:
    """Decode, mix to mono and resample, into memory; typed errors for every bad input."""
    with open_audio(
        source, target_sample_rate=target_sample_rate, max_duration_s=max_duration_s, bounds=bounds
    ) as stream:
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
