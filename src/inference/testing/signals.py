"""Deterministic musical test signals, rendered with numpy (no external synthesizer).

Notes are additive tones with a few harmonics and a piano-like envelope, so the
model sees realistic onsets and decays. Everything is seeded: the same call
gives the same samples on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Note:
    start_s: float
    duration_s: float
    pitch: int
    velocity: float = 0.8


def midi_to_hz(pitch: float) -> float:
    return float(440.0 * 2.0 ** ((pitch - 69) / 12.0))


def render(
    notes: list[Note], sample_rate: int, duration_s: float, *, seed: int = 0, noise_db: float = -60.0
) -> np.ndarray:
    """Mono float32 mix of `notes`, peak-normalised to 0.8, with faint noise."""
    n = int(round(duration_s * sample_rate))
    out = np.zeros(n, dtype=np.float64)
    for note in notes:
        start = int(round(note.start_s * sample_rate))
        length = min(int(round(note.duration_s * sample_rate)), n - start)
        if length <= 0:
            continue
        t = np.arange(length) / sample_rate
        f0 = midi_to_hz(note.pitch)
        tone = np.zeros(length)
        for harmonic, weight in ((1, 1.0), (2, 0.5), (3, 0.25), (4, 0.12)):
            if f0 * harmonic < sample_rate / 2:
                tone += weight * np.sin(2 * np.pi * f0 * harmonic * t)
        attack = np.minimum(t / 0.01, 1.0)
        release = np.minimum((length - np.arange(length)) / (0.03 * sample_rate), 1.0)
        envelope = attack * np.exp(-1.5 * t) * release
        out[start : start + length] += note.velocity * tone * envelope
    peak = np.max(np.abs(out)) or 1.0
    out = 0.8 * out / peak
    rng = np.random.default_rng(seed)
    out += rng.standard_normal(n) * 10 ** (noise_db / 20)
    return out.astype(np.float32)


def sine(pitch: int, sample_rate: int, duration_s: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(duration_s * sample_rate))) / sample_rate
    return (amplitude * np.sin(2 * np.pi * midi_to_hz(pitch) * t)).astype(np.float32)


def melody(seed: int, duration_s: float, low: int = 55, high: int = 79) -> list[Note]:
    """A random monophonic line of notes from 0.15 to 0.6 s."""
    rng = np.random.default_rng(seed)
    notes, t = [], 0.2
    while t < duration_s - 0.5:
        length = float(rng.uniform(0.15, 0.6))
        notes.append(Note(t, length, int(rng.integers(low, high + 1)), float(rng.uniform(0.5, 1.0))))
        t += length + float(rng.uniform(0.0, 0.1))
    return notes


def chords(seed: int, duration_s: float) -> list[Note]:
    """Triads and sevenths, one per 0.5-1.2 s, roots between C3 and C5."""
    rng = np.random.default_rng(seed)
    shapes = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 10), (0, 3, 7, 10), (0, 5, 7))
    notes, t = [], 0.1
    while t < duration_s - 0.8:
        length = float(rng.uniform(0.5, 1.2))
        root = int(rng.integers(48, 73))
        for interval in shapes[int(rng.integers(len(shapes)))]:
            notes.append(Note(t, length, root + interval, float(rng.uniform(0.6, 0.9))))
        t += length + 0.05
    return notes


def piece(seed: int, duration_s: float) -> list[Note]:
    """Chords under a melody: dense polyphony, like a piano piece."""
    return chords(seed, duration_s) + [
        Note(n.start_s, n.duration_s, n.pitch + 12, n.velocity) for n in melody(seed + 1000, duration_s, 60, 84)
    ]
