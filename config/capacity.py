"""The jobs' and requests' capacity arithmetic: how much /tmp and time the longest allowed work needs.

`JobSettings` refuses a combination the worker could not finish or fit, naming the field and the bound it
broke. The figures below are the constants of this module (measured by `make bench` on a 2-vCPU AMD EPYC
machine) applied to the defaults.

**How long a job may be** (`estimated_job_seconds`). A streamed transcription takes
`MEASURED_SECONDS_PER_AUDIO_SECOND` (0.0153 s) per audio second on 2 vCPUs; Lambda gives one vCPU per
1,769 MB, so the worker's 4,096 MB is 2.3 vCPUs (below 2 the pace is scaled down in proportion). Decoding is
added at `MEASURED_SECONDS_PER_DECODED_SAMPLE` (40 ns per sample per channel), and a job must fit its timeout
`TIMEOUT_SAFETY` (twice) over: for 4 hours, (14,400 s x 0.0153 + 1,382,400,000 x 40 ns) x 2 =
(220 + 55) x 2 = 551 s <= 900 s.

**How much /tmp a job needs** (`required_scratch_mb`). The transcription keeps its activation maps on /tmp,
at most `SCRATCH_BYTES_PER_AUDIO_SECOND` (393,536 bytes, 1,351 MiB per hour); for 4 hours and a 500,000,000
byte upload: 477 MiB + 5,405 MiB + `SCRATCH_HEADROOM_MB` (256) = 6,138 MiB <= 6,144 MiB.

**How much work a request may be.** Duration bounds the model's work, not the decoder's (a 1 KB WAV whose
header says 1 Hz holds 500 s of audio). So the header is checked before decoding and the count again while
decoding (`inference.audio.WorkBounds`): sample rate 8,000-192,000 Hz, at most 8 channels, and a budget of
frames x channels at the source's rate (`audio.max_decoded_samples`, 600 s of 48 kHz stereo = 57,600,000:
2.3 s of decoding on one vCPU at 40 ns). Jobs scale the same rule to `jobs.max_duration_s`.
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
192 kHz stereo, the slowest decoders."""
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
