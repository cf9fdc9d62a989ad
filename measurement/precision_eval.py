#!/usr/bin/env python
"""What reduced precision does to the notes: two evaluation sets, scored with mir_eval.

The rendered set: writes General MIDI pieces (several instruments; dense and sparse; a band with drums as the dense
mix), renders them with Debian's fluidsynth and its GM soundfont (fluid-soundfont-gm) into
build/precision-eval/, transcribes each with every engine variant, and prints per file:

- F1: onset F1 (mir_eval, 50 ms) of a variant's notes against the score's (drums left out);
- consistency: onset F1 of a variant's notes against the exact notes of the same audio.

The real-music set (measurement/real_music.py, fetched by `make real-music`): recordings from Debian's
packages, dense band mixes, lossy soundtracks, solo instruments, voice. No score: per file, each
variant's consistency with exact (with precision and recall: a variant that loses notes shows it in
recall), per kind the worst file, the frontier (the network alone, ms per window, beside the worst
consistency), and end to end (decode, network, notes) exact vs fast on 10 minutes of the set's longest
recording.

    make evaluate          (= .venv/bin/python -m measurement.precision_eval)

The targets: fast's F1 no more than 0.01 below exact's on any rendered file, consistency >= 0.95 on
every rendered file (issue #19); on every real recording consistency >= 0.95 at >= 1.8x exact end to
end on 10 minutes at 2 threads (goal 0.97 at 2x; issue #31). A report, not a test:
tests/runtime/test_precision.py checks the property on a small generated file.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mido
import numpy as np

from inference.artifact import resolve_artifact
from inference.config import InferenceConfig, load_config
from inference.models import NoteEvent
from inference.runtimes import Int8Input, Session, open_onnxruntime, open_openvino
from inference.testing.scoring import ONSET_TOLERANCE_S, onset_f1
from inference.transcriber import Transcriber

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "build" / "precision-eval"
SOUNDFONTS = (Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), Path("/usr/share/sounds/sf2/default-GM.sf2"))
RENDER_RATE = 44100
TICKS_PER_BEAT = 480
TEMPO_BPM = 100
DRUM_CHANNEL = 9


@dataclass(frozen=True)
class ScoreNote:
    start_s: float
    end_s: float
    pitch: int
    velocity: int
    channel: int
    program: int


def _beats(seconds: float) -> int:
    return int(round(seconds * TEMPO_BPM / 60 * TICKS_PER_BEAT))


def melody(
    rng: np.random.Generator,
    channel: int,
    program: int,
    low: int,
    high: int,
    seconds: float,
    step: tuple[float, float],
    legato: float,
) -> list[ScoreNote]:
    """A line stepping through a scale, notes `step` seconds apart, each held `legato` of the gap."""
    scale = [p for p in range(low, high + 1) if p % 12 in (0, 2, 4, 5, 7, 9, 11)]
    notes, t, i = [], 0.25, len(scale) // 2
    while t < seconds - 1.0:
        gap = float(rng.uniform(*step))
        i = int(np.clip(i + rng.integers(-3, 4), 0, len(scale) - 1))
        notes.append(ScoreNote(t, t + gap * legato, scale[i], int(rng.integers(60, 110)), channel, program))
        t += gap
    return notes


def chords(
    rng: np.random.Generator,
    channel: int,
    program: int,
    root_low: int,
    seconds: float,
    step: tuple[float, float],
    arpeggio_s: float = 0.0,
) -> list[ScoreNote]:
    """Triads and sevenths, block or arpeggiated."""
    shapes = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 10), (0, 3, 7, 10), (0, 4, 7, 11))
    notes, t = [], 0.25
    while t < seconds - 1.5:
        length = float(rng.uniform(*step))
        root = root_low + int(rng.integers(0, 12))
        for k, interval in enumerate(shapes[int(rng.integers(len(shapes)))]):
            start = t + k * arpeggio_s
            notes.append(
                ScoreNote(start, t + length * 0.95, root + interval, int(rng.integers(55, 100)), channel, program)
            )
        t += length
    return notes


def drums(rng: np.random.Generator, seconds: float) -> list[ScoreNote]:
    """Kick, snare and hi-hat in eighths: unpitched, left out of the score the notes are scored on."""
    notes, t, eighth = [], 0.25, 60 / TEMPO_BPM / 2
    k = 0
    while t < seconds - 0.5:
        for pitch, hit in ((42, True), (36, k % 4 == 0), (38, k % 4 == 2)):
            if hit:
                notes.append(ScoreNote(t, t + 0.1, pitch, int(rng.integers(70, 110)), DRUM_CHANNEL, 0))
        t += eighth
        k += 1
    return notes


def pieces(seconds: float = 30.0) -> dict[str, list[ScoreNote]]:
    """The evaluation set: each piece seeded, so every machine renders the same MIDI."""
    r = np.random.default_rng
    return {
        "piano-sparse-melody": melody(r(1), 0, 0, 60, 84, seconds, (0.35, 0.8), 0.9),
        "piano-dense-chords": chords(r(2), 0, 0, 48, seconds, (0.4, 0.9))
        + melody(r(3), 1, 0, 72, 96, seconds, (0.15, 0.3), 0.9),
        "guitar-arpeggios": chords(r(4), 0, 25, 43, seconds, (0.8, 1.4), arpeggio_s=0.12),
        "violin-legato": melody(r(5), 0, 40, 55, 88, seconds, (0.3, 0.7), 1.0),
        "flute-fast-line": melody(r(6), 0, 73, 72, 96, seconds, (0.12, 0.25), 0.85),
        "band-dense-mix": chords(r(7), 0, 0, 48, seconds, (0.5, 1.0))
        + melody(r(8), 1, 33, 28, 45, seconds, (0.25, 0.5), 0.9)
        + chords(r(9), 2, 48, 55, seconds, (1.0, 2.0))
        + melody(r(10), 3, 65, 65, 89, seconds, (0.2, 0.5), 0.9)
        + drums(r(11), seconds),
    }


def write_midi(notes: list[ScoreNote], path: Path) -> None:
    midi = mido.MidiFile(ticks_per_beat=TICKS_PER_BEAT)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(TEMPO_BPM), time=0))
    events: list[tuple[int, int, mido.Message]] = []
    for channel, program in sorted({(n.channel, n.program) for n in notes}):
        events.append((0, 0, mido.Message("program_change", channel=channel, program=program)))
    for n in notes:
        events.append(
            (_beats(n.start_s), 2, mido.Message("note_on", channel=n.channel, note=n.pitch, velocity=n.velocity))
        )
        events.append((_beats(n.end_s), 1, mido.Message("note_off", channel=n.channel, note=n.pitch, velocity=0)))
    now = 0
    for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(message.copy(time=tick - now))
        now = tick
    midi.save(path)


def soundfont() -> Path:
    found = next((path for path in SOUNDFONTS if path.exists()), None)
    if found is None or shutil.which("fluidsynth") is None:
        raise SystemExit("needs fluidsynth and a General MIDI soundfont: apt-get install fluidsynth fluid-soundfont-gm")
    return found


def render(name: str, notes: list[ScoreNote]) -> Path:
    """The piece as 44.1 kHz WAV through fluidsynth (no audio device: -n -i -F)."""
    wav, mid = OUT / f"{name}.wav", OUT / f"{name}.mid"
    if not wav.exists():
        write_midi(notes, mid)
        subprocess.run(
            [
                "fluidsynth",
                "-n",
                "-i",
                "-q",
                "-g",
                "0.5",
                "-r",
                str(RENDER_RATE),
                "-F",
                str(wav),
                str(soundfont()),
                str(mid),
            ],
            check=True,
            capture_output=True,
        )
    return wav


def as_tuples(notes: list[NoteEvent]) -> list[tuple[float, float, int]]:
    return [(n.start_s, n.end_s, n.pitch) for n in notes]


@dataclass(frozen=True)
class Variant:
    """One point of the frontier: which part of the network runs in f32, which in bf16, on what."""

    label: str
    runtime: str
    bf16: bool = False
    f32_until: tuple[str, ...] = ()
    f32_from: tuple[str, ...] = ()
    batch_size: int = 2
    int8: tuple[str, ...] | None = None
    """The body's two convolutions (on the harmonic stack) in int8, calibrated (constants.INT8_BODY_*)."""
    rewrite_f32_stages: bool = False
    """As fast compiles it: the f32 stages rewritten (inference.graph_rewrites), the shapes static for
    the batch size (OpenVINO's `rows`)."""
    weight_rounding: str = "row-sums"
    """How the int8 weights are rounded (inference.runtimes.Int8Input): fast's "row-sums", or "nearest"
    (fast before issue #31)."""


def body_tensors(artifact: Path) -> dict[str, str]:
    """Names of the tensors around the network's body: `stack` (the harmonic stack both body
    convolutions read), `harmonic` and `wide` (the outputs, after ReLU, of its 8x8 3x39 convolution,
    ~70% of the work, and of its 8x32 5x5 one, ~20%), which the output heads read (constants.py
    names the last two, F32_HEADS_INPUTS)."""
    import openvino as ov

    model = ov.Core().read_model(str(artifact))

    def relu_after(prefix: str) -> tuple[Any, str]:
        conv = next(
            op
            for op in model.get_ops()
            if op.get_type_name() == "Convolution" and op.get_friendly_name().startswith(prefix)
        )
        add = next(t.get_node() for t in conv.output(0).get_target_inputs() if t.get_node().get_type_name() == "Add")
        relu = next(iter(add.output(0).get_target_inputs())).get_node()
        return conv, next(iter(relu.output(0).get_names()))

    harmonic_conv, harmonic = relu_after("model_1/re_lu_1/")
    _, wide = relu_after("model_1/re_lu_3/")
    return {
        "stack": next(iter(harmonic_conv.input(0).get_source_output().get_names())),
        "harmonic": harmonic,
        "wide": wide,
    }


FAST = "f32 front + note/onset heads, int8 3x39, bf16 rest (fast)"
FAST_WITHOUT_BF16 = "int8 3x39, f32 rest (fast without bf16)"
HARMONIC = ("model_1/re_lu_1/",)
"""The body's 8x8 3x39 convolution (~70% of the work; constants.INT8_CONVOLUTION)."""
BODY = ()
"""Both body convolutions on the harmonic stack: the 3x39 one and the 8x32 5x5 one (~20%)."""


def variants(artifact: Path) -> list[Variant]:
    from inference.models.basic_pitch import constants as c

    body = body_tensors(artifact)
    front, heads, note_onset = c.F32_FRONT_OUTPUT, c.F32_HEADS_INPUTS, c.F32_NOTE_ONSET_INPUTS
    return [
        Variant("onnxruntime f32 (exact)", "onnxruntime"),
        Variant("onnxruntime f32, batches of 1", "onnxruntime", batch_size=1),
        Variant("onnxruntime f32, batches of 4", "onnxruntime", batch_size=4),
        Variant("openvino f32", "openvino"),
        Variant("f32 to harmonic conv incl., bf16 after", "openvino", True, (body["stack"], body["harmonic"])),
        Variant("f32 front + heads, bf16 body (fast before)", "openvino", True, front, heads),
        Variant("f32 front + note/onset heads, bf16 rest", "openvino", True, front, note_onset),
        Variant("f32 front, bf16 after", "openvino", True, front),
        Variant("bf16 whole model", "openvino", True),
        Variant(FAST, "openvino", True, front, note_onset, int8=HARMONIC, rewrite_f32_stages=True),
        Variant(FAST + ", as shipped, dynamic batch", "openvino", True, front, note_onset, int8=HARMONIC),
        Variant(FAST + ", batches of 1", "openvino", True, front, note_onset, 1, HARMONIC, rewrite_f32_stages=True),
        Variant(FAST + ", batches of 4", "openvino", True, front, note_onset, 4, HARMONIC, rewrite_f32_stages=True),
        Variant("f32 front + heads, int8 3x39, bf16 5x5", "openvino", True, front, heads, int8=HARMONIC),
        Variant("f32 front, int8 3x39, bf16 after", "openvino", True, front, int8=HARMONIC),
        Variant(
            "int8 3x39, bf16 front and rest, f32 note/onset heads", "openvino", True, (), note_onset, int8=HARMONIC
        ),
        Variant("bf16 front and body, f32 note/onset heads", "openvino", True, (), note_onset),
        Variant(FAST_WITHOUT_BF16, "openvino", int8=HARMONIC, rewrite_f32_stages=True),
        Variant("openvino f32, as fast compiles it", "openvino", rewrite_f32_stages=True),
        Variant("int8 3x39 + 5x5, f32 rest", "openvino", int8=BODY),
        Variant("f32 front + heads, int8 3x39 + 5x5, bf16 glue", "openvino", True, front, heads, int8=BODY),
        Variant("f32 front, int8 3x39 + 5x5, bf16 after", "openvino", True, front, int8=BODY),
    ]


NEAREST = ", weights rounded to nearest (fast before #31)"
NO_INT8 = "f32 front + note/onset heads, bf16 between, no int8"


def real_variants() -> list[Variant]:
    """The real-music set's points: exact, fast and fast without bf16 (what a CPU with VNNI but no
    bf16 runs) with their int8 weights rounded as shipped and to nearest, and fast's split without
    int8 (what more of the network in higher precision buys)."""
    from inference.models.basic_pitch import constants as c

    front, note_onset = c.F32_FRONT_OUTPUT, c.F32_NOTE_ONSET_INPUTS
    return [
        Variant("onnxruntime f32 (exact)", "onnxruntime"),
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
        Variant(FAST_WITHOUT_BF16, "openvino", int8=HARMONIC, rewrite_f32_stages=True),
        Variant(
            FAST_WITHOUT_BF16 + NEAREST, "openvino", int8=HARMONIC, rewrite_f32_stages=True, weight_rounding="nearest"
        ),
        Variant(NO_INT8, "openvino", True, front, note_onset, rewrite_f32_stages=True),
    ]


def session_for(variant: Variant, artifact: Path, threads: int) -> Session:
    if variant.runtime == "onnxruntime":
        return open_onnxruntime(artifact, threads=threads)
    from inference.models.basic_pitch import constants as c

    int8 = (
        []
        if variant.int8 is None
        else [Int8Input(c.INT8_BODY_INPUT, *c.INT8_BODY_RANGE, variant.int8, variant.weight_rounding)]
    )
    return open_openvino(
        artifact,
        threads=threads,
        bf16=variant.bf16,
        f32_until=variant.f32_until,
        f32_from=variant.f32_from,
        int8=int8,
        rewrite_f32_stages=variant.rewrite_f32_stages,
        rows=variant.batch_size if variant.rewrite_f32_stages else None,
    )


def transcriber_for(config: InferenceConfig, session: Session, batch_size: int) -> Transcriber:
    """A transcriber whose exact precision runs `session` (the frontier's points are not all settings)."""
    inference = dataclasses.replace(config.inference, batch_size=batch_size)
    transcriber = Transcriber(dataclasses.replace(config, inference=inference))
    transcriber.model._sessions["exact"] = session  # type: ignore[attr-defined]  # Basic Pitch's own table
    return transcriber


def evaluate(seconds: float = 30.0, threads: int = 2) -> tuple[list[Variant], list[dict[str, object]]]:
    """One row per file: the score's note count, and per variant its F1 and consistency with exact."""
    OUT.mkdir(parents=True, exist_ok=True)
    config = load_config(environ={})
    artifact = resolve_artifact(
        config.model.artifact_uri, config.model.sha256, model_name=config.model.name, version=config.model.version
    )
    points = variants(artifact)
    transcribers = {v.label: transcriber_for(config, session_for(v, artifact, threads), v.batch_size) for v in points}
    rows = []
    for name, score in pieces(seconds).items():
        path = render(name, score)
        truth = [(n.start_s, n.end_s, n.pitch) for n in score if n.channel != DRUM_CHANNEL]
        results = {label: t.transcribe_file(path) for label, t in transcribers.items()}
        exact = as_tuples(results[points[0].label].notes)
        row: dict[str, object] = {"file": name, "score_notes": len(truth)}
        for label, result in results.items():
            notes = as_tuples(result.notes)
            row[label] = {"f1": onset_f1(truth, notes), "consistency": onset_f1(exact, notes), "notes": len(notes)}
        rows.append(row)
    return points, rows


def precision_recall(
    reference: list[tuple[float, float, int]], estimate: list[tuple[float, float, int]]
) -> tuple[float, float]:
    """Onset precision and recall of `estimate` against `reference` (mir_eval, 50 ms)."""
    import mir_eval

    if not reference or not estimate:
        return float(not reference), float(not estimate)

    def arrays(notes: list[tuple[float, float, int]]) -> tuple[Any, Any]:
        intervals = np.array([[start, max(end, start + 1e-3)] for start, end, _ in notes])
        return intervals, np.array([440.0 * 2 ** ((pitch - 69) / 12) for _, _, pitch in notes])

    (ref_i, ref_p), (est_i, est_p) = arrays(reference), arrays(estimate)
    precision, recall, _, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_i, ref_p, est_i, est_p, onset_tolerance=ONSET_TOLERANCE_S, offset_ratio=None
    )
    return float(precision), float(recall)


def evaluate_real(threads: int = 2) -> tuple[list[Variant], list[dict[str, object]]]:
    """One row per real recording: its kind, exact's note count, and per variant its consistency with
    exact, precision and recall against exact's notes, and its note count."""
    from measurement import real_music

    config = load_config(environ={})
    artifact = resolve_artifact(
        config.model.artifact_uri, config.model.sha256, model_name=config.model.name, version=config.model.version
    )
    points = real_variants()
    transcribers = {v.label: transcriber_for(config, session_for(v, artifact, threads), v.batch_size) for v in points}
    rows = []
    for recording in real_music.recordings():
        path = real_music.materialise(recording)
        results = {label: as_tuples(t.transcribe_file(path).notes) for label, t in transcribers.items()}
        exact = results[points[0].label]
        row: dict[str, object] = {"file": recording.name, "kind": recording.kind, "packages": recording.packages}
        for label, notes in results.items():
            precision, recall = precision_recall(exact, notes)
            row[label] = {
                "consistency": onset_f1(exact, notes),
                "precision": precision,
                "recall": recall,
                "notes": len(notes),
            }
        rows.append(row)
    return points, rows


def end_to_end(seconds: float = 600.0, threads: int = 2, rounds: int = 3) -> dict[str, Any]:
    """Seconds to transcribe the first `seconds` of the real set's longest recording (a file, decoded,
    the network, the notes: Transcriber.transcribe_file as the service runs it), exact and fast, in
    fresh transcribers at `threads`, rounds interleaved, medians; and fast's consistency with exact."""
    from measurement import real_music

    config = load_config(environ={})
    path = real_music.long_file(seconds)
    inference = dataclasses.replace(config.inference, threads=threads)
    transcriber = Transcriber(dataclasses.replace(config, inference=inference))
    parameters = {p: inference.with_overrides(precision=p) for p in ("exact", "fast")}
    notes = {p: as_tuples(transcriber.transcribe_file(path, parameters[p]).notes) for p in parameters}  # warm
    spent: dict[str, list[float]] = {p: [] for p in parameters}
    for _ in range(rounds):
        for precision, chosen in parameters.items():
            begin = time.perf_counter()
            transcriber.transcribe_file(path, chosen)
            spent[precision].append(time.perf_counter() - begin)
    figures: dict[str, Any] = {p: statistics.median(times) for p, times in spent.items()}
    figures["consistency"] = onset_f1(notes["exact"], notes["fast"])
    figures["compute"] = transcriber.model.engine_for("fast").compute
    return figures


def model_speed(
    points: list[Variant], threads: int, windows: int = 8, rounds: int = 7, clock: str = "wall"
) -> dict[str, float]:
    """Milliseconds per 2 s window of each variant's network alone, in its batches, rounds interleaved,
    medians: on a shared machine only side-by-side figures compare. `clock` "cpu" counts the process's
    CPU time instead of wall time: at 1 thread that is the work itself, whatever else the machine runs
    (at 2, it would count onnxruntime's spinning threads too)."""
    now = time.process_time if clock == "cpu" else time.perf_counter
    from inference.models.basic_pitch import constants as c
    from inference.models.basic_pitch.windows import fill_window, window_starts
    from inference.testing import signals

    config = load_config(environ={})
    artifact = resolve_artifact(
        config.model.artifact_uri, config.model.sha256, model_name=config.model.name, version=config.model.version
    )
    audio = signals.render(signals.piece(5, windows * 1.7), c.SAMPLE_RATE, windows * 1.7, seed=5)
    starts = list(window_starts(audio.shape[0]))[:windows]
    batch = np.zeros((len(starts), c.WINDOW_SAMPLES, 1), dtype=np.float32)
    for row, start in enumerate(starts):
        fill_window(batch[row, :, 0], audio, start)
    sessions = {v.label: session_for(v, artifact, threads) for v in points}
    outputs = [c.OUTPUT_NOTE, c.OUTPUT_ONSET]
    spent: dict[str, list[float]] = {label: [] for label in sessions}
    sizes = {v.label: v.batch_size for v in points}
    for _ in range(rounds):
        for label, session in sessions.items():
            size = sizes[label]
            session.run(batch[:size], outputs)  # warm
            begin = now()
            for first in range(0, len(starts), size):
                session.run(batch[first : first + size], outputs)
            spent[label].append((now() - begin) / len(starts) * 1000)
    return {label: statistics.median(times) for label, times in spent.items()}


def summary(points: list[Variant], rows: list[dict[str, object]]) -> dict[str, tuple[float, float]]:
    """Per variant: (largest F1 drop vs exact over the files, lowest consistency with exact)."""
    out = {}
    for v in points:
        drops, consistencies = [], []
        for row in rows:
            cell, exact = row[v.label], row[points[0].label]
            assert isinstance(cell, dict) and isinstance(exact, dict)
            drops.append(exact["f1"] - cell["f1"])
            consistencies.append(cell["consistency"])
        out[v.label] = (max(drops), min(consistencies))
    return out


REAL_TARGET, REAL_GOAL, SPEED_TARGET, SPEED_GOAL = 0.95, 0.97, 1.8, 2.0


def print_rendered() -> None:
    points, rows = evaluate()
    print(
        f"the rendered set: {len(rows)} files of 30 s rendered by fluidsynth ({soundfont().name}); onset F1 "
        f"(mir_eval, {ONSET_TOLERANCE_S * 1000:.0f} ms) vs the score, and consistency = onset F1 vs exact's notes\n"
    )
    for v in points:
        print(f"{v.label}")
        for row in rows:
            cell = row[v.label]
            assert isinstance(cell, dict)
            print(
                f"  {row['file']:22} score {row['score_notes']:4d} notes {cell['notes']:4d}   "
                f"F1 {cell['f1']:.3f}   consistency {cell['consistency']:.3f}"
            )
    cpu = model_speed(points, 1, clock="cpu")
    wall = {threads: model_speed(points, threads) for threads in (1, 2)}
    quality = summary(points, rows)
    base = points[0].label
    print("\nthe frontier: the network alone, ms per 2 s window (CPU time at 1 thread; wall time at 1 and 2),")
    print("speed-up vs onnxruntime f32 in brackets; notes against exact over the rendered set")
    columns = ("CPU, 1 thread", "wall, 1 thread", "wall, 2 threads")
    print(f"{'variant':40} " + " ".join(f"{c:>16}" for c in columns) + f" {'F1 drop':>8} {'consist.':>8}")
    for v in points:
        cells = [(figures[v.label], figures[base] / figures[v.label]) for figures in (cpu, wall[1], wall[2])]
        drop, consistency = quality[v.label]
        print(
            f"{v.label:40} "
            + " ".join(f"{ms:8.1f} ({x:4.2f}x)" for ms, x in cells)
            + f" {drop:+8.3f} {consistency:8.3f}"
        )
    for label in (FAST, FAST_WITHOUT_BF16):
        drop, consistency = quality[label]
        print(
            f"\n{label}: largest F1 drop vs exact {drop:+.3f} (target <= 0.010), lowest consistency "
            f"{consistency:.3f} (target >= 0.95)"
        )


def worst(
    points: list[Variant], rows: list[dict[str, object]], label: str, kind: str | None = None
) -> tuple[float, str]:
    """The lowest consistency of a variant over the real set (or one kind of it), and its file."""
    cells = []
    for row in rows:
        cell = row[label]
        assert isinstance(cell, dict)
        if kind is None or row["kind"] == kind:
            cells.append((float(cell["consistency"]), str(row["file"])))
    return min(cells)


def print_real() -> None:
    points, rows = evaluate_real()
    print(
        f"\nthe real-music set: {len(rows)} recordings from Debian's packages (measurement/real_music.tsv); no "
        "score, so no F1: consistency = onset F1 vs exact's notes (mir_eval, 50 ms), P / R = precision and "
        "recall of the variant's notes against exact's (recall below precision: notes lost)\n"
    )
    for v in points:
        print(v.label)
        for row in rows:
            cell = row[v.label]
            assert isinstance(cell, dict)
            print(
                f"  {row['file']:26} {row['kind']:9} notes {cell['notes']:5d}   F1 vs score  -     consistency "
                f"{cell['consistency']:.3f}   P {cell['precision']:.3f} R {cell['recall']:.3f}"
            )
    kinds = sorted({str(row["kind"]) for row in rows})
    print("\nper kind, the lowest consistency with exact (its file):")
    print(f"{'variant':60} " + " ".join(f"{kind:>28}" for kind in kinds))
    for v in points[1:]:
        cells = [worst(points, rows, v.label, kind) for kind in kinds]
        print(f"{v.label:60} " + " ".join(f"{value:.3f} ({name[:19]:>19})" for value, name in cells))
    cpu = model_speed(points, 1, clock="cpu")
    wall = model_speed(points, 2)
    base = points[0].label
    print("\nthe frontier on real music: the network alone, ms per 2 s window (CPU time at 1 thread, wall at 2;")
    print("speed-up vs exact in brackets), and the lowest consistency with exact over the real set (its file)")
    for v in points:
        value, name = worst(points, rows, v.label)
        print(
            f"{v.label:80} {cpu[v.label]:6.1f} ({cpu[base] / cpu[v.label]:4.2f}x) "
            f"{wall[v.label]:6.1f} ({wall[base] / wall[v.label]:4.2f}x)   {value:.3f} ({name})"
        )
    figures = end_to_end()
    ratio = figures["exact"] / figures["fast"]
    value, name = worst(points, rows, FAST)
    print(
        f"\nend to end, 10 min of the set's longest recording, 2 threads: exact {figures['exact']:.2f} s, fast "
        f"({figures['compute']}) {figures['fast']:.2f} s: {ratio:.2f}x (target >= {SPEED_TARGET}x, goal "
        f"{SPEED_GOAL}x); fast's consistency with exact on it {figures['consistency']:.4f}"
    )
    verdict = (
        "meets the goal"
        if value >= REAL_GOAL and ratio >= SPEED_GOAL
        else "meets the target"
        if value >= REAL_TARGET and ratio >= SPEED_TARGET
        else "DOES NOT HOLD the target"
    )
    print(
        f"fast on real music: lowest consistency {value:.4f} ({name}; target >= {REAL_TARGET}, goal >= "
        f"{REAL_GOAL}) at {ratio:.2f}x exact: {verdict} on this CPU"
    )
    for v in points[1:]:
        value, name = worst(points, rows, v.label)
        if value < REAL_TARGET:
            print(f"  {v.label}: lowest consistency {value:.3f} ({name}), below {REAL_TARGET}")


def main() -> int:
    parser = argparse.ArgumentParser(description="what fast precision does to the notes, on both sets")
    parser.add_argument("--set", choices=("all", "rendered", "real"), default="all")
    chosen = parser.parse_args().set
    if chosen in ("all", "rendered"):
        print_rendered()
    if chosen in ("all", "real"):
        print_real()
    return 0


if __name__ == "__main__":
    sys.exit(main())
