"""A transcription's result: the service's result document, its notes, and its stored JSON and MIDI."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from audio_inference_client.errors import ServiceError

if TYPE_CHECKING:
    from audio_inference_client.transport import Transport


@dataclass(frozen=True)
class Note:
    start_s: float
    end_s: float
    pitch: int
    """MIDI note number (21-108)."""
    velocity: int
    amplitude: float
    pitch_bends: tuple[int, ...] | None = None

    @classmethod
    def from_document(cls, note: dict[str, Any]) -> Note:
        bends = note.get("pitch_bends")
        return cls(
            start_s=float(note["start_s"]),
            end_s=float(note["end_s"]),
            pitch=int(note["pitch"]),
            velocity=int(note["velocity"]),
            amplitude=float(note["amplitude"]),
            pitch_bends=tuple(int(b) for b in bends) if bends is not None else None,
        )


class Result:
    """The result document (docs/result-schema.json on the service's side) and where it is stored."""

    def __init__(
        self,
        document: dict[str, Any],
        *,
        via: Literal["predict", "job"],
        reference: str,
        midi_url: str,
        transport: Transport,
        request_timeout: float,
    ) -> None:
        self.document = document
        self.via = via
        """`predict` (one request) or `job` (the jobs flow)."""
        self.reference = reference
        """The request id (predict) or the job id (job): what to quote to the service's operators."""
        self._midi_url = midi_url
        self._transport = transport
        self._request_timeout = request_timeout

    def __repr__(self) -> str:
        return f"<Result {len(self.notes)} notes, {self.duration_s:.1f} s of audio, via {self.via} {self.reference}>"

    @cached_property
    def notes(self) -> list[Note]:  # built once: a long job's document holds tens of thousands
        return [Note.from_document(note) for note in self.document["notes"]]

    @property
    def duration_s(self) -> float:
        return float(self.document["audio"]["duration_s"])

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.document["parameters"])

    def save_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the result document as JSON."""
        target = Path(path)
        target.write_text(json.dumps(self.document, indent=2) + "\n")
        return target

    def save_midi(self, path: str | os.PathLike[str]) -> Path:
        """Download the MIDI file the service stored with the result (its link is valid for an hour)."""
        response = self._transport.request("GET", self._midi_url, api=False, timeout=self._request_timeout)
        if response.status_code != 200 or not response.content.startswith(b"MThd"):
            raise ServiceError(
                "could not download the MIDI file (its link may have expired)",
                code="download_failed",
                status=response.status_code,
            )
        target = Path(path)
        target.write_bytes(response.content)
        return target
