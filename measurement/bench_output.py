"""What a request's output costs: the steps after the network against the note count, and the slowest
`/predict` the budgets accept, measured against API Gateway's 29 s.

    make bench-output      (= .venv/bin/python -m measurement.bench_output)

1. `drop_overlapping_bends` + `notes_to_midi` for 1,000 to 100,000 notes that all overlap (the worst case
   for the pairwise form it replaced), with the pairwise form beside it where it finishes in seconds.
2. The slowest accepted request: 600 s (the synchronous limit) of dense rendered music, pitch bends on, at
   the lowest thresholds the parameters allow, then at thresholds that stay inside the note budget; each
   through the handler's own path (decode, model, notes, JSON and MIDI), timed end to end.
"""

from __future__ import annotations

import io
import json
import os
import time

import numpy as np
import soundfile as sf

from contract import http as http_contract
from inference.config import load_config
from inference.errors import OutputTooLargeError
from inference.midi import drop_overlapping_bends, notes_to_midi
from inference.models.base import NoteEvent
from inference.testing import signals
from inference.testing.pairwise import pairwise_drop_overlapping_bends
from inference.transcriber import Transcriber


def overlapping(count: int) -> list[NoteEvent]:
    return [NoteEvent(i * 1e-4, 600.0, 21 + i % 88, 0.5, (0, 1, 2)) for i in range(count)]


def timed(fn: object, *args: object) -> float:
    started = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - started


def post_processing_table() -> None:
    print("drop_overlapping_bends and notes_to_midi vs the note count (every note overlapping every other)")
    print(f"{'notes':>8} {'sweep s':>9} {'MIDI s':>8} {'pairwise s':>11} {'pairwise/sweep':>15}")
    for count in (1_000, 3_000, 10_000, 30_000, 100_000):
        notes = overlapping(count)
        sweep = timed(drop_overlapping_bends, notes)
        midi = timed(notes_to_midi, notes)
        pairwise = timed(pairwise_drop_overlapping_bends, notes) if count <= 3_000 else None
        ratio = f"{pairwise / sweep:15.0f}" if pairwise else f"{'(not run)':>15}"
        pairwise_text = f"{pairwise:11.3f}" if pairwise else f"{'':>11}"
        print(f"{count:8,} {sweep:9.4f} {midi:8.3f} {pairwise_text} {ratio}")


def slowest_accepted() -> None:
    seconds = 600.0
    rate = 44100
    mono = signals.render(signals.piece(11, seconds), rate, seconds, seed=11)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([mono, mono * 0.9], axis=1), rate, format="FLAC")
    audio = buffer.getvalue()
    transcriber = Transcriber(load_config(environ={}))
    threads = os.cpu_count()
    print(f"\nthe slowest /predict the budgets allow: {seconds:.0f} s of dense rendered music, stereo {rate} Hz FLAC,")
    print(f"pitch bends on, {threads} CPUs; API Gateway waits {http_contract.GATEWAY_TIMEOUT_S} s")
    print(f"{'thresholds':>22} {'outcome':>26} {'seconds':>8} {'answer MB':>10} {'margin s':>9}")
    for onset, frame in ((0.05, 0.05), (0.1, 0.1), (0.2, 0.2), (0.5, 0.3)):
        parameters = transcriber.defaults.with_overrides(
            onset_threshold=onset, frame_threshold=frame, minimum_note_length_ms=10.0, include_pitch_bends=True
        )
        started = time.perf_counter()
        try:
            result = transcriber.transcribe(audio, parameters)
            answer = len(json.dumps(result.to_dict())) + len(result.to_midi())
            outcome = f"{len(result.notes):,} notes"
        except OutputTooLargeError:
            answer, outcome = 0, "422 output_too_large"
        elapsed = time.perf_counter() - started
        margin = http_contract.GATEWAY_TIMEOUT_S - elapsed
        print(f"{f'onset {onset} frame {frame}':>22} {outcome:>26} {elapsed:8.1f} {answer / 1e6:10.2f} {margin:9.1f}")


def main() -> None:
    post_processing_table()
    slowest_accepted()


if __name__ == "__main__":
    main()
