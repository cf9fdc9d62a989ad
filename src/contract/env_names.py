"""Every environment variable the functions read, shared with the stacks that set them.

The stacks write these variables into the functions' environment and the
runtime and the service read them back; both import this module, so a name
exists in exactly one place (tests check each map both ways).
"""

from __future__ import annotations

# Inference settings: one variable per field of config/inference_config.yaml.
# Keys are (section, field) in that file; a test checks the map both ways.
INFERENCE_SETTINGS: dict[tuple[str, str], str] = {
    ("model", "name"): "INFERENCE_MODEL_NAME",
    ("model", "version"): "INFERENCE_MODEL_VERSION",
    ("model", "artifact_uri"): "INFERENCE_MODEL_URI",
    ("model", "sha256"): "INFERENCE_MODEL_SHA256",
    ("model", "served"): "INFERENCE_MODELS",
    ("audio", "max_duration_s"): "INFERENCE_MAX_DURATION_S",
    ("audio", "max_upload_bytes"): "INFERENCE_MAX_UPLOAD_BYTES",
    ("audio", "min_sample_rate_hz"): "INFERENCE_MIN_SAMPLE_RATE_HZ",
    ("audio", "max_sample_rate_hz"): "INFERENCE_MAX_SAMPLE_RATE_HZ",
    ("audio", "max_channels"): "INFERENCE_MAX_CHANNELS",
    ("audio", "max_decoded_samples"): "INFERENCE_MAX_DECODED_SAMPLES",
    ("inference", "onset_threshold"): "INFERENCE_ONSET_THRESHOLD",
    ("inference", "frame_threshold"): "INFERENCE_FRAME_THRESHOLD",
    ("inference", "minimum_note_length_ms"): "INFERENCE_MINIMUM_NOTE_LENGTH_MS",
    ("inference", "minimum_frequency_hz"): "INFERENCE_MINIMUM_FREQUENCY_HZ",
    ("inference", "maximum_frequency_hz"): "INFERENCE_MAXIMUM_FREQUENCY_HZ",
    ("inference", "melodia_trick"): "INFERENCE_MELODIA_TRICK",
    ("inference", "include_pitch_bends"): "INFERENCE_INCLUDE_PITCH_BENDS",
    ("inference", "multiple_pitch_bends"): "INFERENCE_MULTIPLE_PITCH_BENDS",
    ("inference", "midi_tempo"): "INFERENCE_MIDI_TEMPO",
    ("inference", "batch_size"): "INFERENCE_BATCH_SIZE",
    ("inference", "precision"): "INFERENCE_PRECISION",
    ("inference", "runtime"): "INFERENCE_RUNTIME",
    ("inference", "threads"): "INFERENCE_THREADS",
}

# Service settings (`contract.settings.ServiceSettings`): field path -> variable. LOG_LEVEL is the
# name Powertools' Logger reads itself.
SERVICE_SETTINGS: dict[str, str] = {
    "environment": "INFERENCE_ENVIRONMENT",
    "input_bucket": "INFERENCE_INPUT_BUCKET",
    "input_prefix": "INFERENCE_INPUT_PREFIX",
    "output_bucket": "INFERENCE_OUTPUT_BUCKET",
    "output_prefix": "INFERENCE_OUTPUT_PREFIX",
    "cors_allowed_origins": "INFERENCE_CORS_ALLOWED_ORIGINS",
    "log_level": "LOG_LEVEL",
    "jobs.max_upload_bytes": "INFERENCE_JOB_MAX_UPLOAD_BYTES",
    "jobs.upload_url_expiry_s": "INFERENCE_UPLOAD_URL_EXPIRY_S",
    "jobs.max_receives": "INFERENCE_JOB_MAX_RECEIVES",
    "jobs.max_duration_s": "INFERENCE_JOB_MAX_DURATION_S",
    "jobs.max_decoded_samples": "INFERENCE_JOB_MAX_DECODED_SAMPLES",
    "jobs.max_jobs_in_flight": "INFERENCE_JOB_MAX_IN_FLIGHT",
    "jobs.max_audio_s_per_day": "INFERENCE_JOB_MAX_AUDIO_S_PER_DAY",
    "consumer_job_limits": "INFERENCE_CONSUMER_JOB_LIMITS",
    "job_queue_url": "INFERENCE_JOB_QUEUE_URL",
}

# Synth-time overrides app.py reads (never a function's variable): the image a release pushed.
SYNTH_IMAGE_DIGEST = "INFERENCE_IMAGE_DIGEST"
"""Deploy this digest (sha256:...) instead of the environment's release pointer (an SSM parameter the
stack reads at plan time); `make deploy` and `make rollback` set it, then record it in the pointer."""

# Where the runtime finds its files; set on a machine, never by the stacks.
MODEL_CACHE_DIR = "INFERENCE_MODEL_CACHE_DIR"
"""S3 artifact downloads, cached by checksum across warm invocations."""
MODELS_DIR = "INFERENCE_MODELS_DIR"
"""Where `pinned` looks: /opt/models in the image, else the repository's models/."""
CONFIG_FILE = "INFERENCE_CONFIG_FILE"
"""Another inference config YAML instead of config/inference_config.yaml."""
MODEL_PLUGINS = "INFERENCE_MODEL_PLUGINS"
"""Modules (comma-separated) each defining a model's SPEC, registered beside the built-in models: a
model kept outside this repository (docs/models.md, Add a model)."""

LOCATION_VARIABLES = (MODEL_CACHE_DIR, MODELS_DIR, CONFIG_FILE, MODEL_PLUGINS)
SYNTH_OVERRIDES = (SYNTH_IMAGE_DIGEST,)
