"""Client for the Audio Inference API: `Client(base_url).transcribe("song.mp3")` picks `POST /predict`
for what fits a request and the jobs flow for the rest, and returns a `Result` (notes, JSON, MIDI)."""

from audio_inference_client.client import SYNC_LIMIT_BYTES, Client
from audio_inference_client.errors import (
    AudioInferenceError,
    BadAudioJobError,
    BadInputError,
    JobFailedError,
    ServiceError,
    TranscriptionTimeout,
)
from audio_inference_client.result import Note, Result
from audio_inference_client.version import __version__

__all__ = [
    "SYNC_LIMIT_BYTES",
    "AudioInferenceError",
    "BadAudioJobError",
    "BadInputError",
    "Client",
    "JobFailedError",
    "Note",
    "Result",
    "ServiceError",
    "TranscriptionTimeout",
    "__version__",
]
