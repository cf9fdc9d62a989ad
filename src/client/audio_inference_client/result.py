"""A model's result: the service's result document, typed per model, and its stored JSON and MIDI.

Which class a result is follows the document's `model.name` (docs/result-schema.json has one schema
per model): `Transcription` (basic-pitch: notes and a MIDI file), `SpeechSegments` (silero-vad:
where someone speaks). A model this client does not know (a deployment's own) gives a plain `Result`:
its document, duration and parameters. Asking a result for what its model does not answer (notes of
speech segments, MIDI without notes) raises `NotInResultError`, naming what the result does have.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from audio_inference_client.errors import NotInResultError, ServiceError

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


@dataclass(frozen=True)
class Segment:
    """A stretch of speech, in seconds from the start of the audio."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @classmethod
    def from_document(cls, segment: dict[str, Any]) -> Segment:
        return cls(start_s=float(segment["start_s"]), end_s=float(segment["end_s"]))


class Result:
    """The result document (docs/result-schema.json on the service's side) and where it is stored.

    `transcribe` returns the subclass of the document's model; this class itself is what a model the
    client does not know gives."""

    answers: ClassVar[str] = "a result document"
    """What this kind of result holds, for error messages."""

    def __init__(
        self,
        document: dict[str, Any],
        *,
        via: Literal["predict", "job"],
        reference: str,
        midi_url: str | None,
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
        return f"<{type(self).__name__} {self.summary()}, via {self.via} {self.reference}>"

    def summary(self) -> str:
        """One line for people: what the model found, in how much audio."""
        return f"{self.model} result for {self.duration_s:.1f} s of audio"

    @property
    def model(self) -> str:
        """The model that answered (the document's model.name)."""
        return str(self.document["model"]["name"])

    @property
    def duration_s(self) -> float:
        return float(self.document["audio"]["duration_s"])

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.document["parameters"])

    @property
    def has_midi(self) -> bool:
        return self._midi_url is not None

    # What other models answer: a clear error here rather than a KeyError or AttributeError.

    @property
    def notes(self) -> list[Note]:
        raise self._not_here("notes", "basic-pitch")

    @property
    def segments(self) -> list[Segment]:
        raise self._not_here("segments", "silero-vad")

    @property
    def speech_s(self) -> float:
        raise self._not_here("speech_s", "silero-vad")

    @property
    def speech_ratio(self) -> float:
        raise self._not_here("speech_ratio", "silero-vad")

    def _not_here(self, what: str, model: str) -> NotInResultError:
        return NotInResultError(
            f"this {self.model} result has no {what} (it holds {self.answers}); {what} come from model={model}"
        )

    def save_json(self, path: str | os.PathLike[str]) -> Path:
        """Write the result document as JSON."""
        target = Path(path)
        target.write_text(json.dumps(self.document, indent=2) + "\n")
        return target

    def save_midi(self, path: str | os.PathLike[str]) -> Path:
        """Download the MIDI file the service stored with the result (its link is valid for an hour)."""
        if self._midi_url is None:
            raise NotInResultError(
                f"this {self.model} result has no MIDI file (it holds {self.answers}); MIDI comes from "
                "model=basic-pitch"
            )
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


class Transcription(Result):
    """Basic Pitch's result: notes (and a MIDI file stored with them)."""

    answers = "notes and a MIDI file"

    def summary(self) -> str:
        return f"{len(self.notes)} notes in {self.duration_s:.1f} s of audio"

    @cached_property
    def notes(self) -> list[Note]:  # built once: a long job's document holds tens of thousands
        return [Note.from_document(note) for note in self.document["notes"]]


class SpeechSegments(Result):
    """Silero VAD's result: where someone speaks, the seconds of speech and their share of the audio."""

    answers = "speech segments"

    def summary(self) -> str:
        return (
            f"{len(self.segments)} segments, {self.speech_s:.1f} s of speech in {self.duration_s:.1f} s "
            f"({self.speech_ratio:.0%})"
        )

    @cached_property
    def segments(self) -> list[Segment]:
        return [Segment.from_document(segment) for segment in self.document["segments"]]

    @property
    def speech_s(self) -> float:
        return float(self.document["speech_s"])

    @property
    def speech_ratio(self) -> float:
        """Seconds of speech over the audio's duration (0-1)."""
        return float(self.document["speech_ratio"])


RESULT_TYPES: dict[str, type[Result]] = {"basic-pitch": Transcription, "silero-vad": SpeechSegments}
"""The typed result of each model this client knows, by the document's model.name."""


def result_for(document: dict[str, Any], **where: Any) -> Result:
    """The typed result of `document`'s model (a plain Result for a model this client does not know)."""
    model = document.get("model")
    name = model.get("name") if isinstance(model, dict) else None
    return RESULT_TYPES.get(str(name), Result)(document, **where)
