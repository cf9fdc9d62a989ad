"""Speech probabilities per 32 ms window -> speech segments: silero-vad's own post-processing.

A line-by-line port of `get_speech_timestamps_from_probs` (silero-vad 6.2.3, utils_vad.py) for
16 kHz and no maximum segment length (its default), in samples; `tests/runtime/test_vad.py` runs
the wheel's own function on the same probabilities and checks the segments are identical.
"""

from __future__ import annotations

from collections.abc import Sequence

WINDOW_SAMPLES = 512
"""One model step at 16 kHz (32 ms)."""


def speech_segments(
    probabilities: Sequence[float],
    *,
    audio_samples: int,
    sample_rate: int,
    threshold: float,
    min_speech_duration_ms: float,
    min_silence_duration_ms: float,
    speech_pad_ms: float,
) -> list[tuple[int, int]]:
    """(start, end) sample positions of each speech segment, padded, in order."""
    min_speech_samples = sample_rate * min_speech_duration_ms / 1000
    speech_pad_samples = sample_rate * speech_pad_ms / 1000
    min_silence_samples = sample_rate * min_silence_duration_ms / 1000
    neg_threshold = max(threshold - 0.15, 0.01)

    speeches: list[list[int]] = []
    start: int | None = None  # the open segment's start (the reference's `triggered`)
    temp_end = 0  # where the probability first fell below neg_threshold, while it stays there
    for i, probability in enumerate(probabilities):
        sample = WINDOW_SAMPLES * i
        if probability >= threshold and temp_end:
            temp_end = 0
        if probability >= threshold and start is None:
            start = sample
            continue
        if probability < neg_threshold and start is not None:
            if not temp_end:
                temp_end = sample
            if sample - temp_end < min_silence_samples:
                continue
            if temp_end - start > min_speech_samples:
                speeches.append([start, temp_end])
            start, temp_end = None, 0
    if start is not None and audio_samples - start > min_speech_samples:
        speeches.append([start, audio_samples])

    for i, speech in enumerate(speeches):
        if i == 0:
            speech[0] = int(max(0, speech[0] - speech_pad_samples))
        if i != len(speeches) - 1:
            following = speeches[i + 1]
            silence = following[0] - speech[1]
            if silence < 2 * speech_pad_samples:
                speech[1] += int(silence // 2)
                following[0] = int(max(0, following[0] - silence // 2))
            else:
                speech[1] = int(min(audio_samples, speech[1] + speech_pad_samples))
                following[0] = int(max(0, following[0] - speech_pad_samples))
        else:
            speech[1] = int(min(audio_samples, speech[1] + speech_pad_samples))
    return [(s, e) for s, e in speeches]
