"""Audio bytes for tests, rendered in memory."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """16-bit PCM WAV of `samples` (mono or frames x channels) at `rate`."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
