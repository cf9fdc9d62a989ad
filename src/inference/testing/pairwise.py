"""The pairwise form of `inference.midi.drop_overlapping_bends` (the reference's), quadratic in overlapping
notes: the definition the sweep must equal (tests) and its baseline (make bench-output). Development only."""

from __future__ import annotations

from inference.models.base import NoteEvent


def pairwise_drop_overlapping_bends(notes: list[NoteEvent]) -> list[NoteEvent]:
    ordered = sorted(notes, key=lambda n: (n.start_s, n.end_s, n.pitch))
    keep = [n.pitch_bends for n in ordered]
    for i in range(len(ordered)):
        for j in range(i + 1, len(ordered)):
            if ordered[j].start_s >= ordered[i].end_s:
                break
            keep[i] = None
            keep[j] = None
    return [NoteEvent(n.start_s, n.end_s, n.pitch, n.amplitude, b) for n, b in zip(ordered, keep, strict=True)]
