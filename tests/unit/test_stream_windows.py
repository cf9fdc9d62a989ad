"""Windows over audio arriving in blocks equal the windows over the whole signal."""

from __future__ import annotations

import numpy as np
import pytest

from inference.models.basic_pitch import constants as c
from inference.models.basic_pitch.windows import output_frames, run_windows, stream_windows


def fake_model(batch: np.ndarray):
    """A stand-in whose outputs depend on every sample of each window and on its batch position."""
    b = batch.shape[0]
    frames = np.linspace(0, 1, c.WINDOW_FRAMES, dtype=np.float32)
    sums = np.add.reduceat(
        batch[:, :, 0], np.linspace(0, c.WINDOW_SAMPLES, c.WINDOW_FRAMES, endpoint=False).astype(int), axis=1
    )
    note = (sums[:, :, None] * np.arange(1, c.N_PITCHES + 1, dtype=np.float32)[None, None, :]).astype(np.float32)
    onset = note + frames[None, :, None] + np.float32(b)
    contour = np.repeat(note, 3, axis=2)
    return note, onset, contour


@pytest.mark.parametrize("n_samples", [0, 1, 5_000, 43_844, 200_003, 731_000])
@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_streamed_windows_equal_the_whole_signal_windows(n_samples, batch_size):
    rng = np.random.default_rng(n_samples + batch_size)
    audio = rng.standard_normal(n_samples).astype(np.float32)
    whole = run_windows(audio, fake_model, batch_size, want_contour=True)
    cuts = np.sort(rng.integers(0, n_samples + 1, size=7))
    blocks = np.split(audio, cuts)  # uneven blocks, some empty
    rows: dict[str, list[np.ndarray]] = {"note": [], "onset": [], "contour": []}

    def emit(note, onset, contour):
        rows["note"].append(note.copy())
        rows["onset"].append(onset.copy())
        rows["contour"].append(contour.copy())

    assert stream_windows(blocks, fake_model, batch_size, emit) == n_samples
    n_out = output_frames(n_samples)
    for name in ("note", "onset", "contour"):
        expected = getattr(whole, name)
        streamed = np.concatenate(rows[name])[:n_out] if rows[name] else np.zeros((0, expected.shape[1]))
        assert np.array_equal(streamed, expected), name
