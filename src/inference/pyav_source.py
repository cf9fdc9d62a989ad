"""MP4/M4A and WebM/Matroska audio through FFmpeg (PyAV), closed by construction.

FFmpeg can open far more than audio: playlist and concat demuxers (HLS, `ffconcat`) and data
references inside an MP4 name other files and URLs, which FFmpeg's protocols would then open, the
classic path from an upload to reading local files or reaching internal hosts. So here:

- the input is always a Python file object (the request's bytes or the job's file opened by Python):
  FFmpeg reads through PyAV's callbacks and never opens a path or a URL of its own;
- the demuxer is the one the first bytes were sniffed as (`inference.formats`), named to
  `av.open`; FFmpeg probes nothing (`format_whitelist` names that one demuxer alone);
- `protocol_whitelist` names no protocol at all, so any nested open a demuxer might attempt (an MP4
  data reference; `enable_drefs` is off as well) fails instead of reaching a file or a socket;
- only audio streams whose codec is in the format's allowlist are decoded (`codec_whitelist` also
  bounds what FFmpeg's stream probing may open);
- rate, channels and the declared length are checked against the work bounds by the caller before
  the first packet is decoded, and again as frames come.

AAC's encoder delay (priming samples) is dropped as FFmpeg drops it by default: the MP4 demuxer reads
the edit list and the decoder skips what it says, as the ffmpeg command and so the reference's
audioread decoder do. The frames' padding past the stated length is cut to that length.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import av
import av.error
import numpy as np

from inference.errors import UndecodableAudioError, UnsupportedAudioFormatError
from inference.formats import ACCEPTED_DESCRIPTION, AudioFormat

_DECODER_NAMES = {"aac": "aac", "alac": "alac", "opus": "opus", "vorbis": "vorbis"}
"""FFmpeg's native decoder for each allowlisted codec (never an external library's)."""
_NO_PROTOCOL = "none"
"""A protocol whitelist that names no protocol FFmpeg has: every nested open fails."""
_SHORT_TOLERANCE_S = 0.1
"""How far a stream may fall short of the length its header states before it counts as cut."""
_INT_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


def _errors() -> tuple[type[BaseException], ...]:
    return (av.error.FFmpegError, ValueError, EOFError, OSError, RuntimeError, IndexError)


class PyAVSource:
    """An opened container's one audio stream: its header, then float32 frames x channels block by block."""

    def __init__(self, file: IO[bytes], audio_format: AudioFormat, detected: str) -> None:
        assert audio_format.demuxer is not None
        self._detected = detected
        allowed = ",".join(_DECODER_NAMES[codec] for codec in audio_format.pyav_codecs)
        try:
            self._container: Any = av.open(
                file,
                mode="r",
                format=audio_format.demuxer,
                options={
                    "format_whitelist": audio_format.demuxer,
                    "protocol_whitelist": _NO_PROTOCOL,
                    "codec_whitelist": allowed,
                    "enable_drefs": "0",
                    "use_absolute_path": "0",
                },
            )
        except _errors() as exc:
            raise UndecodableAudioError(f"the {detected} data could not be decoded ({_reason(exc)})") from None
        try:
            self._open_stream(audio_format, detected)
        except BaseException:
            self._container.close()
            raise

    def _open_stream(self, audio_format: AudioFormat, detected: str) -> None:
        streams = list(self._container.streams.audio)
        if not streams:
            raise UndecodableAudioError(f"the {detected} data has no audio stream")
        stream = streams[0]
        decoder = stream.codec_context.codec if stream.codec_context is not None else None
        codec = decoder.canonical_name if decoder is not None else "an unknown codec's"
        if codec not in audio_format.pyav_codecs:
            raise UnsupportedAudioFormatError(
                f"{detected} with {codec} audio is not supported: expected {ACCEPTED_DESCRIPTION}"
            )
        if decoder is None or decoder.name != _DECODER_NAMES[codec]:
            raise UnsupportedAudioFormatError(f"no allowed decoder for {codec} audio in {detected}")
        self._stream = stream
        self.format = f"{audio_format.result_name}/{audio_format.codecs[audio_format.pyav_codecs.index(codec)]}"
        self.samplerate: int = int(stream.codec_context.sample_rate or 0)
        self.channels: int = int(stream.codec_context.channels or 0)
        self.frames = self._declared_frames()

    def _declared_frames(self) -> int:
        """The length the header states, in frames at the stream's rate (0: not stated)."""
        stream, rate = self._stream, self.samplerate
        if stream.duration and stream.time_base and rate:
            return max(0, int(round(float(stream.duration * stream.time_base) * rate)))
        if self._container.duration and rate:
            return max(0, int(round(self._container.duration / av.time_base * rate)))
        return 0

    def close(self) -> None:
        self._container.close()

    def blocks(self, blocksize: int) -> Iterator[np.ndarray]:
        """float32 blocks of about `blocksize` frames x channels, in order, at most the stated length."""
        rate, channels, stated = self.samplerate, self.channels, self.frames
        pending: list[np.ndarray] = []
        pending_frames = emitted = 0
        try:
            for packet in self._container.demux(self._stream):
                for frame in packet.decode():
                    if frame.sample_rate != rate or frame.layout.nb_channels != channels:
                        raise UndecodableAudioError(
                            f"the {self._detected} audio changes from {rate:,} Hz x {channels} channels to "
                            f"{frame.sample_rate:,} Hz x {frame.layout.nb_channels} mid-stream"
                        )
                    samples = _to_float32(frame, channels)
                    pending.append(samples)
                    pending_frames += samples.shape[0]
                    if pending_frames >= blocksize:
                        block = np.concatenate(pending)
                        pending, pending_frames = [], 0
                        emitted += block.shape[0]
                        yield block
        except _errors() as exc:
            raise UndecodableAudioError(f"the {self._detected} audio stream is corrupt ({_reason(exc)})") from None
        tail = np.concatenate(pending) if pending else np.zeros((0, channels), dtype=np.float32)
        if stated and emitted + tail.shape[0] > stated:  # the last frame's padding, past the stated length
            tail = tail[: max(0, stated - emitted)]
        total = emitted + tail.shape[0]
        if stated and total < stated - _SHORT_TOLERANCE_S * rate:
            raise UndecodableAudioError(
                f"the {self._detected} data is truncated: its header states {stated / rate:.2f} s, "
                f"{total / rate:.2f} s are there"
            )
        if tail.shape[0]:
            yield tail


def _to_float32(frame: Any, channels: int) -> np.ndarray:
    """One decoded frame as float32 samples x channels, whatever FFmpeg's sample format."""
    array: np.ndarray = frame.to_ndarray()
    samples = array.T if frame.format.is_planar else array.reshape(-1, channels)
    if samples.dtype == np.float32:
        return samples
    if samples.dtype == np.float64:
        return samples.astype(np.float32)
    scale = _INT_SCALE.get(samples.dtype)
    if scale is None:
        raise UndecodableAudioError(f"the decoder gave samples of an unexpected type ({frame.format.name})")
    converted: np.ndarray = (samples / scale).astype(np.float32)
    return converted


def _reason(exc: BaseException) -> str:
    """FFmpeg's own reason, without the file object's repr its messages carry."""
    reason = getattr(exc, "strerror", None)
    return str(reason) if reason else type(exc).__name__
