"""Note-level agreement scores (mir_eval), shared by the precision tests and `make evaluate`.

Development only, like the rest of `inference.testing`: the image leaves this package out.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

ONSET_TOLERANCE_S = 0.05
"""mir_eval's default onset tolerance: a note counts as found when its onset is within 50 ms."""

Note = tuple[float, float, int]
"""(start_s, end_s, MIDI pitch)."""


def onset_f1(reference: list[Note], estimate: list[Note]) -> float:
    """mir_eval's onset-only note F1 (50 ms), pitches compared within a quarter tone."""
    import mir_eval

    def arrays(notes: list[Note]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if not notes:
            return np.zeros((0, 2)), np.zeros(0)
        intervals = np.array([[s, max(e, s + 1e-3)] for s, e, _ in notes])
        return intervals, np.array([440.0 * 2 ** ((p - 69) / 12) for _, _, p in notes])

    ref_i, ref_p = arrays(reference)
    est_i, est_p = arrays(estimate)
    if not len(ref_p) and not len(est_p):
        return 1.0
    if not len(ref_p) or not len(est_p):
        return 0.0
    _, _, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_i, ref_p, est_i, est_p, onset_tolerance=ONSET_TOLERANCE_S, offset_ratio=None
    )
    return float(f1)
