"""What every route needs, built once per container: settings, the loaded models, storage, the job store.

Its own module so that the features' routes (`service.predict.route`, `service.jobs.routes`) and the
resolver that adds them (`service.api`) read it one way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contract.settings import ServiceSettings
from inference.config import InferenceConfig
from inference.transcriber import Transcriber
from service.jobs.quotas import Quotas
from service.jobs.store import JobStore
from service.storage import Storage


@dataclass(frozen=True, kw_only=True)
class Service:
    """What the routes need, built once per container."""

    settings: ServiceSettings
    config: InferenceConfig
    models: Mapping[str, Transcriber]
    """Each served model, loaded (`inference.transcriber.load_models`); the default first."""
    storage: Storage
    jobs: JobStore
    quotas: Quotas | None = None
    """Per-key limits on jobs (None: none, as where no key is asked)."""
    sqs: Any = None
    """Reads the jobs queue's depth for a queued job's place (None: no place shown)."""

    @property
    def transcriber(self) -> Transcriber:
        """The default model's (what a request that names no model gets)."""
        return next(iter(self.models.values()))

    @property
    def long_audio_hint(self) -> str:
        limits = self.config.audio
        return (
            f"synchronous requests take at most {limits.max_duration_s:g} s of audio and "
            f"{limits.max_upload_bytes:,} bytes: send longer recordings as a job (POST /jobs, then upload "
            "with the returned form and poll GET /jobs/{job_id})"
        )
