"""POST /predict as a plain function: decode, store the upload, transcribe, store and link the results.

Audio is decoded and checked before anything is written, so a refused request
leaves both buckets as they were. The upload is then stored while the model
runs (network I/O overlapping CPU work) and must have succeeded before results
are written; once stored, a failure keeps it for inspection.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from contract.validation import ConfigError
from inference.errors import InferenceError
from inference.transcriber import Transcriber
from service.http.errors import from_inference_error
from service.http.responses import download_stem
from service.predict.request import PredictRequest
from service.storage import DOWNLOAD_URL_EXPIRY_S, Storage

# S3 writes run here, next to the model; built once per container like the rest.
_STORAGE_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="s3-write")


@dataclass(frozen=True, kw_only=True)
class PredictOutcome:
    request_id: str
    document: dict[str, Any]
    """The result document (docs/result-schema.json), as the CLI writes it."""
    midi: bytes | None
    """None for a model without notes."""
    json_url: str
    midi_url: str | None
    summary: dict[str, Any]
    """The result's counts for the log (notes_count, segments_count...)."""
    audio_seconds: float
    inference_seconds: float

    def downloads(self) -> dict[str, Any]:
        return {
            "json_url": self.json_url,
            **({"midi_url": self.midi_url} if self.midi_url else {}),
            "expires_in_s": DOWNLOAD_URL_EXPIRY_S,
        }

    def to_response(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "result": self.document, "downloads": self.downloads()}

    def to_links_response(self, *, size_bytes: int, limit_bytes: int, what: str) -> dict[str, Any]:
        """The answer when the result itself would not fit one: where it is stored, and why it is not here."""
        return {
            "request_id": self.request_id,
            "result_in_downloads": {
                "reason": (
                    f"the {what} is {size_bytes:,} bytes, over the {limit_bytes:,} an answer can carry "
                    "(Lambda's 6 MB response limit): it is stored, download it from downloads"
                ),
                "size_bytes": size_bytes,
                "summary": self.summary,
            },
            "downloads": self.downloads(),
        }


def run_predict(
    request: PredictRequest, *, request_id: str, transcriber: Transcriber, storage: Storage, long_audio_hint: str
) -> PredictOutcome:
    """`transcriber` is the request's model, loaded."""
    try:
        audio = transcriber.decode(request.audio)
    except (InferenceError, ConfigError) as exc:
        raise from_inference_error(exc, long_audio_hint=long_audio_hint) from None
    upload = _STORAGE_THREADS.submit(
        storage.put_upload, request_id, request.audio, request.content_type, request.filename
    )
    started = time.perf_counter()
    try:
        transcription = transcriber.transcribe_decoded(audio, request.parameters)
    except InferenceError as exc:  # the output budget: the request's parameters, not our fault
        raise from_inference_error(exc, long_audio_hint=long_audio_hint) from None
    finally:
        upload.result()  # the input is stored (or its error raised) whatever the model did
    inference_seconds = time.perf_counter() - started
    document = transcription.to_dict()
    midi = transcription.to_midi() if transcriber.spec.produces_midi else None
    keys = storage.put_result(request_id, json.dumps(document).encode(), midi, pool=_STORAGE_THREADS)
    stem = download_stem(request.filename) or request_id
    return PredictOutcome(
        request_id=request_id,
        document=document,
        midi=midi,
        json_url=storage.download_url(keys.json_key, f"{stem}.json"),
        midi_url=storage.download_url(keys.midi_key, f"{stem}.mid") if keys.midi_key else None,
        summary=transcription.summary(),
        audio_seconds=transcription.audio.duration_s,
        inference_seconds=inference_seconds,
    )
