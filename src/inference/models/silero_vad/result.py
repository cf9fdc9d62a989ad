"""Silero VAD's result document: speech segments in seconds, the seconds of speech and their ratio."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from inference.audio import AudioInfo
from inference.documents import document_header
from inference.models.base import EngineUsed, ModelDescription
from inference.models.silero_vad.model import VadOutput
from inference.models.silero_vad.parameters import VadParameters


@dataclass(frozen=True, kw_only=True)
class SpeechActivity:
    model: ModelDescription
    parameters: VadParameters
    audio: AudioInfo
    output: VadOutput
    engine: EngineUsed

    @property
    def segments_s(self) -> list[tuple[float, float]]:
        rate = self.output.sample_rate
        return [(start / rate, end / rate) for start, end in self.output.segments]

    def to_dict(self) -> dict[str, Any]:
        segments = [{"start_s": round(start, 6), "end_s": round(end, 6)} for start, end in self.segments_s]
        speech_s = sum(end - start for start, end in self.segments_s)
        duration = self.audio.duration_s
        return {
            **document_header(self.model, self.engine, dataclasses.asdict(self.parameters), self.audio),
            "segments": segments,
            "speech_s": round(speech_s, 6),
            "speech_ratio": round(min(1.0, speech_s / duration), 6) if duration > 0 else 0.0,
        }

    def to_midi(self) -> bytes:
        raise TypeError("silero-vad answers speech segments; it has no notes to write as MIDI")

    def summary(self) -> dict[str, Any]:
        document = self.to_dict()
        return {"segments_count": len(document["segments"]), "speech_ratio": document["speech_ratio"]}
