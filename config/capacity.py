"""The jobs' capacity arithmetic: how much /tmp and time the longest allowed job needs.

`JobSettings` refuses a combination that would not fit the worker; the README's
"How long a job may be" walks through the same numbers.
"""

from __future__ import annotations

import math

from inference.models.basic_pitch.constants import SCRATCH_BYTES_PER_AUDIO_SECOND

MIB = 1 << 20
SCRATCH_HEADROOM_MB = 256
"""/tmp the worker keeps free beyond the upload and the transcription's scratch (the runtime's own files)."""
MEASURED_SECONDS_PER_AUDIO_SECOND = 0.0153
"""What a streamed transcription takes on two vCPUs (make bench: 55 s for the 60-minute file)."""
MEASURED_SECONDS_PER_DECODED_SAMPLE = 40e-9
"""Decoding, mixing and resampling one sample of one channel on one core: Ogg Vorbis and FLAC at 48 and
192 kHz stereo, the slowest decoders (README, "How much work a request may be")."""
TIMEOUT_SAFETY = 2.0
"""Jobs must fit the worker's timeout this many times over (slower CPUs, the download, a cold start)."""


def required_scratch_mb(max_duration_s: int, max_upload_bytes: int) -> int:
    """The worker's /tmp for the longest allowed job, in MB (MiB, as Lambda counts): the upload, the
    transcription's scratch at its worst case (SCRATCH_BYTES_PER_AUDIO_SECOND) and headroom."""
    upload = max_upload_bytes / MIB
    scratch = max_duration_s * SCRATCH_BYTES_PER_AUDIO_SECOND / MIB
    return int(math.ceil(upload + scratch)) + SCRATCH_HEADROOM_MB


def estimated_job_seconds(max_duration_s: int, worker_memory_mb: int, max_decoded_samples: int = 0) -> float:
    """How long the longest allowed job may take, with the safety factor: the model's time for
    `max_duration_s` plus the decoder's for `max_decoded_samples`. Lambda gives one vCPU per 1,769 MB;
    below two vCPUs the model's measured pace slows in proportion, below one the decoder's (it uses one)."""
    vcpus = worker_memory_mb / 1769
    model_s = max_duration_s * MEASURED_SECONDS_PER_AUDIO_SECOND * max(1.0, 2.0 / vcpus)
    decode_s = max_decoded_samples * MEASURED_SECONDS_PER_DECODED_SAMPLE * max(1.0, 1.0 / vcpus)
    return (model_s + decode_s) * TIMEOUT_SAFETY
