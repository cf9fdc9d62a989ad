"""Environment variables the model runtime reads, shared with the stacks that set them.

The function construct sets these variables and the runtime reads them; both
import this module, so a name exists in exactly one place. It imports nothing
beyond the standard library on purpose: the infrastructure side must not pull
the model runtime in, and the image must not pull cdktf in. The service's own
variables (buckets, prefixes, CORS, log level) live in `service.settings`.
"""

from __future__ import annotations

# Inference settings: one variable per field of config/inference_config.yaml.
# Keys are (section, field) in that file; a test checks the map both ways.
INFERENCE_SETTINGS: dict[tuple[str, str], str] = {
    ("model", "name"): "INFERENCE_MODEL_NAME",
    ("model", "version"): "INFERENCE_MODEL_VERSION",
    ("model", "artifact_uri"): "INFERENCE_MODEL_URI",
    ("model", "sha256"): "INFERENCE_MODEL_SHA256",
    ("audio", "max_duration_s"): "INFERENCE_MAX_DURATION_S",
    ("audio", "max_upload_bytes"): "INFERENCE_MAX_UPLOAD_BYTES",
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

# Where the runtime finds its files; set on a machine, never by the stacks.
MODEL_CACHE_DIR = "INFERENCE_MODEL_CACHE_DIR"
"""S3 artifact downloads, cached by checksum across warm invocations."""
MODELS_DIR = "INFERENCE_MODELS_DIR"
"""Where `pinned` looks: /opt/models in the image, else the repository's models/."""
CONFIG_FILE = "INFERENCE_CONFIG_FILE"
"""Another inference config YAML instead of config/inference_config.yaml."""

LOCATION_VARIABLES = (MODEL_CACHE_DIR, MODELS_DIR, CONFIG_FILE)
