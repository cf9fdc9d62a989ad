"""A model's result: the service's result document, typed per model, and its stored JSON and MIDI.

Which class a result is follows the document's `model.name` (docs/result-schema.json has one schema
per model): `Transcription` (basic-pitch: notes and a MIDI file), `SpeechSegments` (silero-vad:
where someone speaks). A model this client does not know (a deployment's own) gives a plain `Result`:
its document, duration and parameters. Asking a result for what its model does not answer (notes of
speech segments, MIDI without notes) raises `NotInResultError`, naming what the result does have.
A document off its schema (a field the class reads missing or mistyped) is a `ProtocolError` when the
result is made, not a KeyError later.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from audio_inference_client import shapes
from audio_inference_client.errors import NotInResultError, ProtocolError, ServiceError
from audio_inference_client.transport import MIDI_LIMIT_BYTES, Deadline

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
    def from_document(cls, note: Any, path: str = "note") -> Note:
        """A note of the result document; shapes.OffContract (naming `path`) if it is not one."""
        note = shapes.is_object(note, path)
        bends = None
        if note.get("pitch_bends") is not None:
            listed = shapes.array(note, "pitch_bends", path)
            bends = tuple(shapes.is_integer(bend, f"{path}.pitch_bends[{i}]") for i, bend in enumerate(listed))
        return cls(
            start_s=shapes.number(note, "start_s", path),
            end_s=shapes.number(note, "end_s", path),
            pitch=shapes.integer(note, "pitch", path),
            velocity=shapes.integer(note, "velocity", path),
            amplitude=shapes.number(note, "amplitude", path),
            pitch_bends=bends,
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
    def from_document(cls, segment: Any, path: str = "segment") -> Segment:
        segment = shapes.is_object(segment, path)
        return cls(start_s=shapes.number(segment, "start_s", path), end_s=shapes.number(segment, "end_s", path))


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
        timeout: float = 3600.0,
    ) -> None:
        self.document = document
        self.via = via
        """`predict` (one request) or `job` (the jobs flow)."""
        self.reference = reference
        """The request id (predict) or the job id (job): what to quote to the service's operators."""
        self._midi_url = midi_url
        self._transport = transport
        self._request_timeout = request_timeout
        self._timeout = timeout
        self._check()

    def _check(self) -> None:
        """What this class reads from the document is there and of its type (shapes.OffContract if not)."""
        shapes.text(shapes.obj(self.document, "model", "result"), "name", "result.model")
        shapes.number(shapes.obj(self.document, "audio", "result"), "duration_s", "result.audio")
        shapes.obj(self.document, "parameters", "result")

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

    def save_midi(self, path: str | os.PathLike[str], *, timeout: float | None = None) -> Path:
        """Download the MIDI file the service stored with the result (its link is valid for an hour),
        within `timeout` seconds (default: the client's timeout), at most MIDI_LIMIT_BYTES."""
        if self._midi_url is None:
            raise NotInResultError(
                f"this {self.model} result has no MIDI file (it holds {self.answers}); MIDI comes from "
                "model=basic-pitch"
            )
        answer = self._transport.request(
            "GET",
            self._midi_url,
            api=False,
            deadline=Deadline.after(self._timeout if timeout is None else timeout),
            limit=MIDI_LIMIT_BYTES,
            what="the MIDI download",
        )
        if answer.status != 200 or not answer.body.startswith(b"MThd"):
            raise ServiceError(
                "could not download the MIDI file (its link may have expired)",
                code="download_failed",
                status=answer.status,
            )
        target = Path(path)
        target.write_bytes(answer.body)
        return target


class Transcription(Result):
    """Basic Pitch's result: notes (and a MIDI file stored with them)."""

    answers = "notes and a MIDI file"

    def summary(self) -> str:
        return f"{len(self.notes)} notes in {self.duration_s:.1f} s of audio"

    def _check(self) -> None:
        super()._check()
        self.__dict__["notes"] = self.notes  # read (and checked) once, when the result is made

    @cached_property
    def notes(self) -> list[Note]:  # built once: a long job's document holds tens of thousands
        listed = shapes.array(self.document, "notes", "result")
        return [Note.from_document(note, f"result.notes[{i}]") for i, note in enumerate(listed)]


class SpeechSegments(Result):
    """Silero VAD's result: where someone speaks, the seconds of speech and their share of the audio."""

    answers = "speech segments"

    def summary(self) -> str:
        return (
            f"{len(self.segments)} segments, {self.speech_s:.1f} s of speech in {self.duration_s:.1f} s "
            f"({self.speech_ratio:.0%})"
        )

    def _check(self) -> None:
        super()._check()
        self.__dict__["segments"] = self.segments
        shapes.number(self.document, "speech_s", "result")
        shapes.number(self.document, "speech_ratio", "result")

    @cached_property
    def segments(self) -> list[Segment]:
        listed = shapes.array(self.document, "segments", "result")
        return [Segment.from_document(segment, f"result.segments[{i}]") for i, segment in enumerate(listed)]

    @property
    def speech_s(self) -> float:
        return float(self.document["speech_s"])

    @property
    def speech_ratio(self) -> float:
        """Seconds of speech over the audio's duration (0-1)."""
        return float(self.document["speech_ratio"])


RESULT_TYPES: dict[str, type[Result]] = {"basic-pitch": Transcription, "silero-vad": SpeechSegments}
"""The typed result of each model this client knows, by the document's model.name."""


def result_for(document: Any, *, answer: bytes | None = None, **where: Any) -> Result:
    """The typed result of `document`'s model (a plain Result for a model this client does not know);
    a ProtocolError, showing the first bytes of `answer` (the answer it came in), if it is off its schema."""
    try:
        shapes.is_object(document, "result")
        model = document.get("model")
        name = model.get("name") if isinstance(model, dict) else None
        return RESULT_TYPES.get(str(name), Result)(document, **where)
    except shapes.OffContract as problem:
        shown = answer if answer is not None else json.dumps(document)[:1024]
        raise ProtocolError(f"the result document is off its schema: {problem}", answer=shown) from None
