"""Standard MIDI file from note events (mido), laid out as the reference writes it.

One track per instrument, 220 ticks per beat, the configured tempo, program
"Electric Piano 1". Pitch bends (±2 semitones) are written when present; notes
that overlap in time lose their bends unless each pitch gets its own
instrument (`multiple_pitch_bends`), since MIDI bends apply to a channel.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict

import mido
import numpy as np

from inference.models.base import NoteEvent

TICKS_PER_BEAT = 220
ELECTRIC_PIANO_1 = 4
BEND_RANGE_TICKS = 8192
BEND_STEPS_PER_SEMITONE = 3


def drop_overlapping_bends(notes: list[NoteEvent]) -> list[NoteEvent]:
    """Without one instrument per pitch, a bend would bend every note sounding with it: drop the bends
    of each note that overlaps another, as the reference does. One sweep in start order (n log n for
    the sort): a note overlaps a later one when the next start is before its end, and an earlier one
    when an earlier note's end (the running maximum) is after its start."""
    ordered = sorted(notes, key=lambda n: (n.start_s, n.end_s, n.pitch))
    if not any(n.pitch_bends for n in ordered):
        return ordered
    keep = [n.pitch_bends for n in ordered]
    latest_end = -math.inf
    for i, note in enumerate(ordered):
        if latest_end > note.start_s:
            keep[i] = None
        if i + 1 < len(ordered) and ordered[i + 1].start_s < note.end_s:
            keep[i] = None
        latest_end = max(latest_end, note.end_s)
    return [NoteEvent(n.start_s, n.end_s, n.pitch, n.amplitude, b) for n, b in zip(ordered, keep, strict=True)]


def notes_to_midi(notes: list[NoteEvent], *, tempo_bpm: float = 120.0, multiple_pitch_bends: bool = False) -> bytes:
    if not multiple_pitch_bends:
        notes = drop_overlapping_bends(notes)
    seconds_per_tick = 60.0 / (tempo_bpm * TICKS_PER_BEAT)

    def tick(seconds: float) -> int:
        return int(round(seconds / seconds_per_tick))

    groups: dict[int, list[NoteEvent]] = defaultdict(list)
    for note in notes:
        groups[note.pitch if multiple_pitch_bends else 0].append(note)

    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    meta.append(mido.MetaMessage("end_of_track", time=0))
    midi.tracks.append(meta)

    for index, key in enumerate(sorted(groups)):
        channel = index % 16 if index % 16 != 9 else 10  # skip the drum channel
        # (tick, order within a tick: note-offs 0 before bends 1 before note-ons 2, message type, fields)
        events: list[tuple[int, int, str, dict[str, int]]] = []
        for note in groups[key]:
            velocity = max(0, min(127, note.velocity))
            events.append((tick(note.start_s), 2, "note_on", {"note": note.pitch, "velocity": velocity}))
            events.append((tick(note.end_s), 0, "note_off", {"note": note.pitch, "velocity": 0}))
            if note.pitch_bends:
                times = np.linspace(note.start_s, note.end_s, len(note.pitch_bends))
                for t, bend in zip(times, note.pitch_bends, strict=True):
                    value = int(round(bend * 4096 / BEND_STEPS_PER_SEMITONE))
                    value = max(-BEND_RANGE_TICKS, min(BEND_RANGE_TICKS - 1, value))
                    events.append((tick(float(t)), 1, "pitchwheel", {"pitch": value}))
        events.sort(key=lambda e: (e[0], e[1]))
        track = mido.MidiTrack()
        track.append(mido.Message("program_change", program=ELECTRIC_PIANO_1, channel=channel, time=0))
        now = 0
        for at, _, kind, fields in events:
            # Every value is clamped to its MIDI range above; mido's per-field checks would cost more
            # than the rest of the file for long pieces.
            track.append(mido.Message(kind, skip_checks=True, channel=channel, time=at - now, **fields))
            now = at
        track.append(mido.MetaMessage("end_of_track", time=0))
        midi.tracks.append(track)

    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()
