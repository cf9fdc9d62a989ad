"""Audio bytes for tests, rendered in memory (the encoders live in inference.testing.encoding)."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from inference.testing.encoding import encoded_bytes, libvorbis_webm

__all__ = ["clusters_of_unknown_size", "encoded_bytes", "libvorbis_webm", "wav_bytes"]


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """16-bit PCM WAV of `samples` (mono or frames x channels) at `rate`."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def clusters_of_unknown_size(webm: bytes) -> bytes:
    """`webm` with every cluster's size field set to 'unknown' (same length), as Chrome's MediaRecorder
    writes them."""
    from inference.formats import read_ebml_element

    data = bytearray(webm)
    header = read_ebml_element(data, 0)
    assert header is not None and header[1] is not None
    segment = read_ebml_element(data, header[2] + header[1])
    assert segment is not None
    offset = segment[2]
    while offset < len(data):
        element = read_ebml_element(data, offset)
        assert element is not None and element[1] is not None
        element_id, length, start = element
        assert length is not None
        if element_id == 0x1F43B675:
            id_length = 4
            size_length = start - offset - id_length
            data[offset + id_length : start] = ((1 << (7 * size_length)) - 1 | (1 << (7 * size_length))).to_bytes(
                size_length, "big"
            )
        offset = start + length
    return bytes(data)
