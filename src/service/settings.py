"""What the service reads from its function's environment, and the variable each setting lives in.

The stacks build a `ServiceSettings` from the environment config and copy it
into the function's environment with `to_environment()`; the service reads it
back with `from_environment()`. `ENVIRONMENT_VARIABLES` maps every field to its
variable (a test checks the map both ways), so a name exists in one place.
Standard library only: the infrastructure side imports this without the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from inference.validation import int_in, matches, one_of, require

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# Field -> environment variable. LOG_LEVEL is the name Powertools' Logger reads itself.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "environment": "INFERENCE_ENVIRONMENT",
    "input_bucket": "INFERENCE_INPUT_BUCKET",
    "input_prefix": "INFERENCE_INPUT_PREFIX",
    "output_bucket": "INFERENCE_OUTPUT_BUCKET",
    "output_prefix": "INFERENCE_OUTPUT_PREFIX",
    "cors_allowed_origins": "INFERENCE_CORS_ALLOWED_ORIGINS",
    "log_level": "LOG_LEVEL",
    "job_max_upload_bytes": "INFERENCE_JOB_MAX_UPLOAD_BYTES",
    "upload_url_expiry_s": "INFERENCE_UPLOAD_URL_EXPIRY_S",
    "job_max_receives": "INFERENCE_JOB_MAX_RECEIVES",
    "job_max_duration_s": "INFERENCE_JOB_MAX_DURATION_S",
}
_INTEGER_FIELDS = ("job_max_upload_bytes", "upload_url_expiry_s", "job_max_receives", "job_max_duration_s")

_PREFIX = r"^[A-Za-z0-9][A-Za-z0-9\-_./]*/$"


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """Where the service keeps uploads and results, whom it answers, how much it logs."""

    environment: str
    """The deployment environment's name (dev, prod): a log and metric dimension."""
    input_bucket: str
    """Bucket for raw uploads (a Terraform reference at synth time, a name at run time)."""
    output_bucket: str
    """Bucket for result JSON and MIDI files."""
    input_prefix: str = "uploads/"
    """The only input key prefix the function may read and write."""
    output_prefix: str = "results/"
    """The only output key prefix the function may read and write."""
    cors_allowed_origins: tuple[str, ...] = ("http://localhost:8080",)
    """Origins the service's answers allow ('*' alone, or explicit origins)."""
    log_level: str = "INFO"
    job_max_upload_bytes: int = 500_000_000
    """Largest file a job's presigned upload accepts (S3 refuses more)."""
    upload_url_expiry_s: int = 900
    """How long a job's presigned upload stays valid."""
    job_max_receives: int = 3
    job_max_duration_s: int = 14_400
    """Longest audio a job transcribes (the synchronous route keeps audio.max_duration_s)."""
    """Deliveries of a job's message before it goes to the dead-letter queue; the last failing one
    marks the job failed."""

    def __post_init__(self) -> None:
        require(bool(self.environment), "environment", self.environment, "a non-empty environment name")
        require(bool(self.input_bucket), "input_bucket", self.input_bucket, "a bucket name")
        require(bool(self.output_bucket), "output_bucket", self.output_bucket, "a bucket name")
        matches("input_prefix", self.input_prefix, _PREFIX, "a key prefix ending with '/'")
        matches("output_prefix", self.output_prefix, _PREFIX, "a key prefix ending with '/'")
        require(
            len(self.cors_allowed_origins) > 0, "cors_allowed_origins", self.cors_allowed_origins, "at least one origin"
        )
        one_of("log_level", self.log_level, LOG_LEVELS)
        int_in("job_max_upload_bytes", self.job_max_upload_bytes, 1, 5 * 1024**3)
        int_in("upload_url_expiry_s", self.upload_url_expiry_s, 60, 7 * 24 * 3600)
        int_in("job_max_receives", self.job_max_receives, 1, 1000)
        int_in("job_max_duration_s", self.job_max_duration_s, 1, 36_000)

    def to_environment(self) -> dict[str, str]:
        """Every setting as the variable the service reads back."""
        out: dict[str, str] = {}
        for field, variable in ENVIRONMENT_VARIABLES.items():
            value = getattr(self, field)
            out[variable] = ",".join(value) if isinstance(value, tuple) else str(value)
        return out

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> ServiceSettings:
        """The settings the stack wrote into the function's environment; all of them are required."""

        def read(field: str) -> str:
            variable = ENVIRONMENT_VARIABLES[field]
            require(variable in environ, variable, None, f"set: the stack writes {field} there")
            return environ[variable]

        return cls(
            environment=read("environment"),
            input_bucket=read("input_bucket"),
            input_prefix=read("input_prefix"),
            output_bucket=read("output_bucket"),
            output_prefix=read("output_prefix"),
            cors_allowed_origins=tuple(o.strip() for o in read("cors_allowed_origins").split(",") if o.strip()),
            log_level=read("log_level"),
            **{field: _integer(read(field), ENVIRONMENT_VARIABLES[field]) for field in _INTEGER_FIELDS},
        )


def _integer(raw: str, variable: str) -> int:
    require(raw.strip().lstrip("-").isdigit(), variable, raw, "an integer")
    return int(raw)
