"""The real-music evaluation set: recordings from Debian's packages (measurement/real_music.tsv, fetched
by `make real-music` into build/real-music/), joined and cut as the list says into 22,050 Hz mono WAVs
under build/real-music/recordings/ (decoded as the service decodes: inference.audio)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from inference.audio import decode_audio
from inference.models.basic_pitch import constants as c

REPO = Path(__file__).resolve().parents[1]
LIST = REPO / "measurement" / "real_music.tsv"
FETCHED = REPO / "build" / "real-music"
RECORDINGS = FETCHED / "recordings"
LONG_SOURCE = ("warzone2100-music", "usr/share/games/warzone2100/music/albums/legacy_soundtrack/track4.opus")
"""The set's longest source (11 min, Opus): its first 10 minutes are the end-to-end speed file."""


@dataclass(frozen=True)
class Source:
    package: str
    version: str
    licence: str
    path: str
    start_s: float
    seconds: float | None
    sha256: str


@dataclass(frozen=True)
class Recording:
    name: str
    kind: str
    sources: tuple[Source, ...]

    @property
    def packages(self) -> str:
        return ", ".join(sorted({f"{s.package} ({s.licence})" for s in self.sources}))


def recordings(listing: Path = LIST) -> list[Recording]:
    """The set, in the list's order."""
    rows = [line for line in listing.read_text().splitlines() if line and not line.startswith("#")]
    grouped: dict[str, tuple[str, list[Source]]] = {}
    for row in csv.DictReader(rows, delimiter="\t"):
        seconds = None if row["seconds"] == "-" else float(row["seconds"])
        source = Source(
            row["package"], row["version"], row["licence"], row["path"], float(row["start_s"]), seconds, row["sha256"]
        )
        grouped.setdefault(row["recording"], (row["kind"], []))[1].append(source)
    return [Recording(name, kind, tuple(sources)) for name, (kind, sources) in grouped.items()]


def ogg_streams(data: bytes) -> list[bytes]:
    """The Ogg streams stored whole in a container (a Qt resource file keeps Ogg uncompressed), in order:
    from each page that begins a stream (flag 2) to the page that ends it (flag 4)."""
    streams, begin, at = [], -1, data.find(b"OggS")
    while at >= 0 and at + 27 <= len(data):
        flags, segments = data[at + 5], data[at + 26]
        end = at + 27 + segments + sum(data[at + 27 : at + 27 + segments])
        if flags & 2:
            begin = at
        if flags & 4 and begin >= 0:
            streams.append(data[begin:end])
            begin = -1
        at = data.find(b"OggS", end)
    return streams


def decoded(package: str, path: str, start_s: float = 0.0, seconds: float | None = None) -> np.ndarray:
    """One fetched file as the model's samples (a .rcc: its Ogg streams joined), cut to
    [start_s, start_s + seconds)."""
    file = FETCHED / package / path
    if not file.exists():
        raise SystemExit(f"{file} is missing: run make real-music")
    parts = ogg_streams(file.read_bytes()) if file.suffix == ".rcc" else [file]
    samples = np.concatenate(
        [decode_audio(part, target_sample_rate=c.SAMPLE_RATE, max_duration_s=4 * 3600).samples for part in parts]
    )
    first = int(start_s * c.SAMPLE_RATE)
    last = None if seconds is None else first + int(seconds * c.SAMPLE_RATE)
    return samples[first:last]


def materialise(recording: Recording) -> Path:
    """The recording as a WAV (written once)."""
    wav = RECORDINGS / f"{recording.name}.wav"
    if not wav.exists():
        RECORDINGS.mkdir(parents=True, exist_ok=True)
        parts = [decoded(s.package, s.path, s.start_s, s.seconds) for s in recording.sources]
        sf.write(wav, np.concatenate(parts), c.SAMPLE_RATE, subtype="FLOAT")
    return wav


def long_file(seconds: float = 600.0) -> Path:
    """The first `seconds` of the set's longest source, as a WAV (the 10-minute speed file)."""
    wav = RECORDINGS / f"long-{int(seconds)}s.wav"
    if not wav.exists():
        RECORDINGS.mkdir(parents=True, exist_ok=True)
        sf.write(wav, decoded(*LONG_SOURCE, 0.0, seconds), c.SAMPLE_RATE, subtype="FLOAT")
    return wav
