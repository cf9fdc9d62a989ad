"""The service's own CloudWatch metrics (embedded metric format, via Powertools).

The handlers emit them and the stacks' dashboard and alarms read them, so both take the names from here.
"""

from __future__ import annotations

METRICS_NAMESPACE = "AudioInference"
SERVICE_NAME = "audio-inference"
"""The `service` dimension of the API function's metrics."""
WORKER_SERVICE_NAME = f"{SERVICE_NAME}-worker"
"""The `service` dimension of the job worker's metrics."""
ENVIRONMENT_DIMENSION = "environment"
"""Every metric also carries the environment's name, so dev and prod in one account stay apart."""

# The API function's metrics.
REQUESTS = "Requests"
AUDIO_SECONDS = "AudioSeconds"
INFERENCE_SECONDS = "InferenceSeconds"
REAL_TIME_FACTOR = "RealTimeFactor"
"""Inference seconds per audio second of one /predict request."""
JOBS_CREATED = "JobsCreated"
API_METRICS = (REQUESTS, AUDIO_SECONDS, INFERENCE_SECONDS, REAL_TIME_FACTOR, JOBS_CREATED)
ERRORS_METRIC = "Errors"
"""Emitted once per error response, with a `code` dimension (the error body's code)."""

# The jobs worker's metrics.
JOB_MESSAGES = "JobMessages"
JOB_AUDIO_SECONDS = "JobAudioSeconds"
JOB_INFERENCE_SECONDS = "JobInferenceSeconds"
JOBS_SUCCEEDED = "JobsSucceeded"
JOBS_FAILED = "JobsFailed"
WORKER_METRICS = (JOB_MESSAGES, JOB_AUDIO_SECONDS, JOB_INFERENCE_SECONDS, JOBS_SUCCEEDED, JOBS_FAILED)
