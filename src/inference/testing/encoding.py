"""Audio encoded as phones, browsers and music libraries encode it, with PyAV's FFmpeg encoders and
libsndfile: what the format tests send and what `make evaluate` compares with the reference.

Development only, like the rest of `inference.testing`: the image leaves this package out.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import soundfile as sf


class _Unseekable(io.RawIOBase):
    """A write-only sink, as a live recorder writes: the muxer cannot go back to fill in sizes."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, chunk: Any) -> int:
        self.data += chunk
        return len(chunk)


def encoded_bytes(
    samples: np.ndarray,
    rate: int,
    container: str,
    codec: str,
    *,
    live: bool = False,
    options: dict[str, str] | None = None,
    bit_rate: int | None = None,
) -> bytes:
    """`samples` (mono, or frames x channels) encoded with PyAV's encoders into `container` (an FFmpeg
    muxer name: ipod for M4A, mp4, ogg, webm, matroska). `live` writes as a recorder does: to a sink
    that cannot seek, with the segment's size left unknown. `bit_rate` in bits per second (default: the
    encoder's)."""
    import av

    frames = samples if samples.ndim == 2 else samples[:, None]
    channels = frames.shape[1]
    layout = {1: "mono", 2: "stereo"}[channels]
    sink: io.BytesIO | _Unseekable = _Unseekable() if live else io.BytesIO()
    with av.open(sink, mode="w", format=container, options={"live": "1"} if live else {}) as out:
        stream: Any = out.add_stream(codec, rate=rate, layout=layout)
        stream.codec_context.options = {"strict": "experimental", **(options or {})}
        if bit_rate:
            stream.codec_context.bit_rate = bit_rate
        step = stream.codec_context.frame_size or 1024
        planar = np.ascontiguousarray(frames.T.astype(np.float32))
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=rate)
        for start in range(0, planar.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(planar[:, start : start + step]), format="fltp", layout=layout
            )
            frame.sample_rate, frame.pts = rate, start
            for converted in resampler.resample(frame):
                for packet in stream.encode(converted):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return bytes(sink.data) if isinstance(sink, _Unseekable) else sink.getvalue()


def libvorbis_webm(samples: np.ndarray, rate: int) -> bytes:
    """Vorbis in WebM as Firefox writes it: libvorbis' packets (through libsndfile, in Ogg), remuxed into
    WebM by FFmpeg without re-encoding. FFmpeg's own Vorbis encoder is experimental and much noisier."""
    import av

    ogg = io.BytesIO()
    frames = samples if samples.ndim == 2 else samples[:, None]
    with sf.SoundFile(ogg, "w", rate, frames.shape[1], format="OGG", subtype="VORBIS") as out:
        for start in range(0, frames.shape[0], 8192):  # libsndfile's Vorbis writer crashes on one large write
            out.write(frames[start : start + 8192])
    ogg.seek(0)
    webm = io.BytesIO()
    with av.open(ogg, mode="r", format="ogg") as source, av.open(webm, mode="w", format="webm") as target:
        stream_in: Any = source.streams.audio[0]
        stream_out: Any = target.add_stream_from_template(stream_in)
        for packet in source.demux(stream_in):
            if packet.dts is None:
                continue
            packet.stream = stream_out
            target.mux(packet)
    return webm.getvalue()
