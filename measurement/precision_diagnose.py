#!/usr/bin/env python
"""Where `fast` departs from exact on real music, per stage and per output (issue #31's measurements).

For every recording of the real-music set (measurement/real_music.py) and each variant that isolates one
of fast's reductions (int8 alone, bf16 alone, both = fast), the activation maps against exact's:

- per output (note, onset, contour): mean signed difference (systematic shift) and the spread of the
  difference (noise), over all cells and over the cells near the thresholds where notes are decided;
- the notes: consistency (onset F1 vs exact, 50 ms), precision and recall vs exact;
- the int8 input (the harmonic stack) on real audio against its calibrated range: the share of values
  outside it (clipped) and the observed min / max;
- the note map's logit shift near the frame threshold (exact minus variant, mean): a systematic shift
  is what a correction could take out; then such a correction fitted on half the set (every other
  recording) and applied to the other half, to see whether it buys consistency.

Each int8 variant twice: its weights rounded as fast ships them ("row-sums") and to nearest (fast
before issue #31).

    .venv/bin/python -m measurement.precision_diagnose [--seconds 60]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

import numpy as np
import soundfile as sf

from inference.artifact import resolve_artifact
from inference.config import load_config
from inference.models.basic_pitch import constants as c
from inference.models.basic_pitch.model import note_events, note_settings
from inference.models.basic_pitch.notes import NoteSettings, notes_from_activations
from inference.testing.scoring import onset_f1
from measurement import real_music
from measurement.precision_eval import (
    FAST,
    FAST_WITHOUT_BF16,
    HARMONIC,
    Variant,
    precision_recall,
    session_for,
    transcriber_for,
)

BF16_ONLY = "f32 front + note/onset heads, bf16 rest (no int8)"
NEAREST = ", weights to nearest"


def diagnostic_variants() -> list[Variant]:
    front, note_onset = c.F32_FRONT_OUTPUT, c.F32_NOTE_ONSET_INPUTS
    return [
        Variant("onnxruntime f32 (exact)", "onnxruntime"),
        Variant("openvino f32, as fast compiles it", "openvino", rewrite_f32_stages=True),
        Variant(FAST_WITHOUT_BF16, "openvino", int8=HARMONIC, rewrite_f32_stages=True),
        Variant(
            FAST_WITHOUT_BF16 + NEAREST, "openvino", int8=HARMONIC, rewrite_f32_stages=True, weight_rounding="nearest"
        ),
        Variant(BF16_ONLY, "openvino", True, front, note_onset, rewrite_f32_stages=True),
        Variant(FAST, "openvino", True, front, note_onset, int8=HARMONIC, rewrite_f32_stages=True),
        Variant(
            FAST + NEAREST,
            "openvino",
            True,
            front,
            note_onset,
            int8=HARMONIC,
            rewrite_f32_stages=True,
            weight_rounding="nearest",
        ),
    ]


def stack_range(artifact: Any, samples: np.ndarray) -> tuple[float, float, float]:
    """The harmonic stack (int8's input) over the audio's windows in f32: share outside the calibrated
    range, min, max."""
    import openvino as ov

    from inference.models.basic_pitch.windows import fill_window, window_starts

    core = ov.Core()
    model = core.read_model(str(artifact))
    out = next(o for op in model.get_ops() for o in op.outputs() if c.INT8_BODY_INPUT in o.get_names())
    compiled = core.compile_model(ov.Model([out], model.get_parameters()), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    low, high = c.INT8_BODY_RANGE
    outside = total = 0
    lo, hi = np.inf, -np.inf
    window = np.zeros((1, c.WINDOW_SAMPLES, 1), dtype=np.float32)
    for start in window_starts(samples.shape[0]):
        fill_window(window[0, :, 0], samples, start)
        stack = compiled(window)[0]
        outside += int(np.count_nonzero((stack < low) | (stack > high)))
        total += stack.size
        lo, hi = min(lo, float(stack.min())), max(hi, float(stack.max()))
    return outside / total, lo, hi


Notes = list[tuple[float, float, int]]


def notes_of(note: np.ndarray, onset: np.ndarray, settings: NoteSettings) -> Notes:
    frame_notes = notes_from_activations(note.copy(), onset.copy(), **asdict(settings))
    return [(n.start_s, n.end_s, n.pitch) for n in note_events(frame_notes, [None] * len(frame_notes))]


def logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p.astype(np.float64), 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def shifted(p: np.ndarray, beta: float) -> np.ndarray:
    """sigmoid(logit(p) + beta), without the logarithms."""
    return (p / (p + (1 - p) * np.float32(np.exp(-beta)))).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0, help="the first seconds of each recording")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    config = load_config(environ={})
    artifact = resolve_artifact(
        config.model.artifact_uri, config.model.sha256, model_name=config.model.name, version=config.model.version
    )
    points = diagnostic_variants()
    models: dict[str, Any] = {
        v.label: transcriber_for(config, session_for(v, artifact, args.threads), v.batch_size).model for v in points
    }
    settings = note_settings(config.inference)
    thresholds = {"note": config.inference.frame_threshold, "onset": config.inference.onset_threshold, "contour": 0.3}
    kept: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {v.label: [] for v in points[1:]}
    summary: dict[str, list[tuple[float, float, float, float]]] = {v.label: [] for v in points[1:]}
    for rec in real_music.recordings():
        samples = sf.read(real_music.materialise(rec), dtype="float32")[0][: int(args.seconds * c.SAMPLE_RATE)]
        clipped, lo, hi = stack_range(artifact, samples)
        print(
            f"\n{rec.name} ({rec.kind}, {samples.shape[0] / c.SAMPLE_RATE:.0f} s): harmonic stack "
            f"{lo:+.3f}..{hi:+.3f} vs calibrated {c.INT8_BODY_RANGE[0]:+.3f}..{c.INT8_BODY_RANGE[1]:+.3f}, "
            f"clipped {clipped:.2%}"
        )
        maps = {label: m.activations(samples, 2, True, "exact") for label, m in models.items()}
        exact = maps[points[0].label]
        assert exact.contour is not None
        exact_notes = notes_of(exact.note, exact.onset, settings)
        decided = (exact.note > 0.2) & (exact.note < 0.6)
        for v in points[1:]:
            act = maps[v.label]
            cells = []
            for out in ("note", "onset", "contour"):
                a, e = getattr(act, out), getattr(exact, out)
                d = a - e
                near = np.abs(e - thresholds[out]) < 0.15
                dn = d[near] if near.any() else np.zeros(1)
                cells.append(
                    f"{out} mean {d.mean():+.4f} sd {d.std():.4f} near-thr mean {dn.mean():+.4f} sd {dn.std():.4f}"
                )
            beta = float(np.mean(logit(exact.note[decided]) - logit(act.note[decided])))
            notes = notes_of(act.note, act.onset, settings)
            p, r = precision_recall(exact_notes, notes)
            f = onset_f1(exact_notes, notes)
            summary[v.label].append(
                (f, r - p, beta, float((act.onset - exact.onset)[np.abs(exact.onset - 0.5) < 0.15].mean()))
            )
            kept[v.label].append((exact.note, exact.onset, act.note, act.onset))
            print(
                f"  {v.label}: notes {len(notes)} vs {len(exact_notes)}  consistency {f:.3f} (P {p:.3f} R {r:.3f}) "
                f"note logit shift near threshold {beta:+.4f}"
            )
            for cell in cells:
                print(f"      {cell}")
    print("\nper variant over the set: lowest consistency, recall - precision (most negative), note logit shift")
    print("near the threshold (range), onset shift near 0.5 (range)")
    for label, figures in summary.items():
        f1s, gaps, betas, onsets = (np.array(column) for column in zip(*figures, strict=True))
        print(
            f"  {label:70} {f1s.min():.3f}  {gaps.min():+.3f}  {betas.min():+.4f}..{betas.max():+.4f}  "
            f"{onsets.min():+.4f}..{onsets.max():+.4f}"
        )
    print("\na logit correction of the note map fitted on every other recording, applied to the rest:")
    for label, maps_kept in kept.items():
        fit = [(en, fn) for i, (en, _, fn, _) in enumerate(maps_kept) if i % 2 == 0]
        beta = float(
            np.mean(
                np.concatenate(
                    [logit(en[(en > 0.2) & (en < 0.6)]) - logit(fn[(en > 0.2) & (en < 0.6)]) for en, fn in fit]
                )
            )
        )
        before, after = [], []
        for en, eo, fn, fo in maps_kept[1::2]:
            exact_notes = notes_of(en, eo, settings)
            before.append(onset_f1(exact_notes, notes_of(fn, fo, settings)))
            after.append(onset_f1(exact_notes, notes_of(shifted(fn, beta), fo, settings)))
        print(
            f"  {label:70} beta {beta:+.4f}: lowest consistency on the other half {min(before):.3f} -> "
            f"{min(after):.3f}, mean {np.mean(before):.3f} -> {np.mean(after):.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
