#!/usr/bin/env python
"""Where `fast` departs from exact on real music, per stage and per output (issue #31's measurements).

For every recording of the real-music set (measurement/real_music.py) and each variant that isolates one
of fast's reductions (int8 alone, bf16 alone, both = fast), the activation maps against exact's:

- per output (note, onset, contour): mean signed difference (systematic shift) and the spread of the
  difference (noise), over all cells and over the cells near the thresholds where notes are decided;
- the notes: consistency (onset F1 vs exact, 50 ms), precision and recall vs exact;
- the int8 input (the harmonic stack) on real audio against its calibrated range: the share of values
  outside it (clipped) and the observed min / max.

    .venv/bin/python -m measurement.precision_diagnose [--seconds 60]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

import numpy as np

from inference.artifact import resolve_artifact
from inference.config import load_config
from inference.models.basic_pitch import constants as c
from inference.models.basic_pitch.model import note_events, note_settings
from inference.models.basic_pitch.notes import notes_from_activations
from measurement import real_music
from measurement.precision_eval import FAST, FAST_WITHOUT_BF16, HARMONIC, Variant, session_for, transcriber_for

BF16_ONLY = "f32 front + note/onset heads, bf16 rest (no int8)"


def diagnostic_variants() -> list[Variant]:
    front, note_onset = c.F32_FRONT_OUTPUT, c.F32_NOTE_ONSET_INPUTS
    return [
        Variant("onnxruntime f32 (exact)", "onnxruntime"),
        Variant("openvino f32, as fast compiles it", "openvino", rewrite_f32_stages=True),
        Variant(FAST_WITHOUT_BF16, "openvino", int8=HARMONIC, rewrite_f32_stages=True),
        Variant(BF16_ONLY, "openvino", True, front, note_onset, rewrite_f32_stages=True),
        Variant(FAST, "openvino", True, front, note_onset, int8=HARMONIC, rewrite_f32_stages=True),
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


def prf(reference: list[tuple[float, float, int]], estimate: list[tuple[float, float, int]]) -> tuple[float, ...]:
    import mir_eval

    def arrays(notes: list[tuple[float, float, int]]) -> tuple[np.ndarray, np.ndarray]:
        if not notes:
            return np.zeros((0, 2)), np.zeros(0)
        return np.array([[s, max(e, s + 1e-3)] for s, e, _ in notes]), np.array(
            [440.0 * 2 ** ((p - 69) / 12) for _, _, p in notes]
        )

    (ri, rp), (ei, ep) = arrays(reference), arrays(estimate)
    if not len(rp) or not len(ep):
        return (float(len(rp) == len(ep)),) * 3
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ri, rp, ei, ep, onset_tolerance=0.05, offset_ratio=None
    )
    return float(p), float(r), float(f)


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
    models = {
        v.label: transcriber_for(config, session_for(v, artifact, args.threads), v.batch_size).model for v in points
    }
    settings = note_settings(config.inference)
    thresholds = {"note": config.inference.frame_threshold, "onset": config.inference.onset_threshold}
    for rec in real_music.recordings():
        wav = real_music.materialise(rec)
        samples = real_music.decoded("", "", 0, None) if False else None
        import soundfile as sf

        samples = sf.read(wav, dtype="float32")[0][: int(args.seconds * c.SAMPLE_RATE)]
        clipped, lo, hi = stack_range(artifact, samples)
        print(
            f"\n{rec.name} ({rec.kind}, {samples.shape[0] / c.SAMPLE_RATE:.0f} s): harmonic stack "
            f"{lo:+.3f}..{hi:+.3f} vs calibrated {c.INT8_BODY_RANGE[0]:+.3f}..{c.INT8_BODY_RANGE[1]:+.3f}, "
            f"clipped {clipped:.2%}"
        )
        maps = {label: m.activations(samples, 2, True, "exact") for label, m in models.items()}
        exact = maps[points[0].label]
        exact_notes = [
            (n.start_s, n.end_s, n.pitch)
            for n in note_events(
                notes_from_activations(exact.note, exact.onset, **asdict(settings)),
                [None] * 0 or [None] * len(notes_from_activations(exact.note, exact.onset, **asdict(settings))),
            )
        ]
        for v in points[1:]:
            act = maps[v.label]
            cells = []
            for out in ("note", "onset", "contour"):
                a, e = getattr(act, out), getattr(exact, out)
                d = a - e
                near = (e > thresholds.get(out, 0.3) - 0.15) & (e < thresholds.get(out, 0.3) + 0.15)
                dn = d[near] if near.any() else np.zeros(1)
                cells.append(
                    f"{out} mean {d.mean():+.4f} sd {d.std():.4f} near-thr mean {dn.mean():+.4f} sd {dn.std():.4f}"
                )
            frame_notes = notes_from_activations(act.note, act.onset, **asdict(settings))
            notes = [(n.start_s, n.end_s, n.pitch) for n in note_events(frame_notes, [None] * len(frame_notes))]
            p, r, f = prf(exact_notes, notes)
            print(f"  {v.label}: notes {len(notes)} vs {len(exact_notes)}  consistency {f:.3f} (P {p:.3f} R {r:.3f})")
            for cell in cells:
                print(f"      {cell}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
