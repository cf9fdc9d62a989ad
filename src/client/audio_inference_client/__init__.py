"""Client for the Audio Inference API: `Client(base_url).transcribe("song.mp3")` picks `POST /predict`
for what fits a request and the jobs flow for the rest, and returns the model's typed result:
`Transcription` (basic-pitch: notes, JSON, MIDI) or `SpeechSegments` (`model="silero-vad"`: speech)."""

from audio_inference_client.client import MODEL_PARAMETERS, SYNC_LIMIT_BYTES, Client
from audio_inference_client.errors import (
    AudioInferenceError,
    BadAudioJobError,
    BadInputError,
    JobFailedError,
    NotInResultError,
    ProtocolError,
    ServiceError,
    TranscriptionTimeout,
)
from audio_inference_client.result import Note, Result, Segment, SpeechSegments, Transcription
from audio_inference_client.version import __version__

__all__ = [
    "MODEL_PARAMETERS",
    "SYNC_LIMIT_BYTES",
    "AudioInferenceError",
    "BadAudioJobError",
    "BadInputError",
    "Client",
    "JobFailedError",
    "NotInResultError",
    "Note",
    "ProtocolError",
    "Result",
    "Segment",
    "ServiceError",
    "SpeechSegments",
    "Transcription",
    "TranscriptionTimeout",
    "__version__",
]
