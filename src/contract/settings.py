"""What the service reads from its function's environment.

The stacks build a `ServiceSettings` from the environment's config and copy it
into the function's environment with `to_environment()`; the service reads it
back with `from_environment()`. Each field's variable is in
`contract.env_names.SERVICE_SETTINGS` (a test checks the map both ways).

The fields carry no defaults of their own: every value comes from the
deployment settings (`config.schema`), where its one default lives. The jobs'
limits are one type, `JobLimits`, which the deployment's `JobSettings`
extends, so a limit has the same name and unit from the config file to the
code that enforces it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from contract.env_names import SERVICE_SETTINGS
from contract.validation import int_in, matches, one_of, require

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_PREFIX = r"^[A-Za-z0-9][A-Za-z0-9\-_./]*/$"


@dataclass(frozen=True, kw_only=True)
class JobLimits:
    """What a job may be and how its messages are retried: set per environment, enforced by the service."""

    max_duration_s: int = 14_400
    """Longest audio a job transcribes (1-36,000 s); /predict keeps audio.max_duration_s."""
    max_upload_bytes: int = 500_000_000
    """Largest upload a job accepts (1 byte to 5 GB, S3's limit for one POST): the presigned policy
    carries it and the worker checks it again."""
    upload_url_expiry_s: int = 900
    """How long a job's presigned upload stays valid (60-604,800 s); a job with no upload by then
    reads `expired`."""
    max_decoded_samples: int = 1_382_400_000
    """Frames x channels a job may decode at its source's rate (1 to 10^11): max_duration_s of 48 kHz
    stereo, the /predict rule (audio.max_decoded_samples) scaled to the worker."""
    max_receives: int = 3
    """Deliveries of a job's message before it goes to the dead-letter queue (1-100); the last failing
    one marks the job failed."""
    max_jobs_in_flight: int = 10
    """Jobs one API key may have unfinished at once (awaiting upload, queued or running; 1-100,000): the
    next POST /jobs is 429 `too_many_jobs_in_flight` with Retry-After. A consumer's own value:
    `api.consumers.max_jobs_in_flight`. One key's backlog then holds at most this many places in the
    queue, ahead of anyone else's jobs."""
    max_audio_s_per_day: int = 86_400
    """Audio seconds of one API key's jobs finished per UTC day (1 to 10^8; 24 hours) before its POST /jobs
    is 429 `audio_quota_exceeded`, Retry-After the next midnight UTC. A consumer's own value:
    `api.consumers.max_audio_hours_per_day`."""

    def __post_init__(self) -> None:
        int_in("jobs.max_duration_s", self.max_duration_s, 1, 36_000)
        int_in("jobs.max_upload_bytes", self.max_upload_bytes, 1, 5_000_000_000)
        int_in("jobs.upload_url_expiry_s", self.upload_url_expiry_s, 60, 7 * 24 * 3600)
        int_in("jobs.max_receives", self.max_receives, 1, 100)
        int_in("jobs.max_decoded_samples", self.max_decoded_samples, 1, 100_000_000_000)
        int_in("jobs.max_jobs_in_flight", self.max_jobs_in_flight, 1, 100_000)
        int_in("jobs.max_audio_s_per_day", self.max_audio_s_per_day, 1, 100_000_000)

    def limits(self) -> JobLimits:
        """Just the limits (a subclass's other settings stay behind)."""
        return JobLimits(**{f.name: getattr(self, f.name) for f in dataclasses.fields(JobLimits)})


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """Where the service keeps uploads and results, whom it answers, how much it logs, its jobs' limits."""

    environment: str
    """The deployment environment's name (dev, prod): a log and metric dimension."""
    input_bucket: str
    """Bucket for raw uploads (a Terraform reference at synth time, a name at run time)."""
    output_bucket: str
    """Bucket for result JSON and MIDI files."""
    input_prefix: str
    """The only input key prefix the functions may read and write."""
    output_prefix: str
    """The only output key prefix the functions may read and write."""
    cors_allowed_origins: tuple[str, ...]
    """Origins the service's answers allow ('*' alone, or explicit origins)."""
    log_level: str
    """The service's log level (the variable Powertools' Logger reads itself)."""
    jobs: JobLimits
    consumer_job_limits: tuple[str, ...] = ()
    """Each consumer's own job limits where they differ from `jobs`: `name:max_jobs_in_flight:
    max_audio_s_per_day` (the consumer is its API key's `Consumer` tag)."""
    job_queue_url: str = ""
    """The jobs queue (GET /jobs/{id} reads its depth for a queued job's place); empty: not shown."""

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
        require(isinstance(self.jobs, JobLimits), "jobs", self.jobs, "a JobLimits")
        for entry in self.consumer_job_limits:
            matches(
                "consumer_job_limits",
                entry,
                r"^[a-z][a-z0-9-]{0,30}[a-z0-9]:[0-9]{1,6}:[0-9]{1,9}$",
                "name:max_jobs_in_flight:max_audio_s_per_day",
            )

    def job_limits_of(self, consumer: str | None) -> tuple[int, int]:
        """(jobs in flight, audio seconds per day) for a consumer: its own, else the environment's."""
        for entry in self.consumer_job_limits:
            name, jobs, seconds = entry.split(":")
            if name == consumer:
                return int(jobs), int(seconds)
        return self.jobs.max_jobs_in_flight, self.jobs.max_audio_s_per_day

    def to_environment(self) -> dict[str, str]:
        """Every setting as the variable the service reads back."""
        out: dict[str, str] = {}
        for path, variable in SERVICE_SETTINGS.items():
            value = _get(self, path)
            out[variable] = ",".join(value) if isinstance(value, tuple) else str(value)
        return out

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> ServiceSettings:
        """The settings the stack wrote into the function's environment; all of them are required."""

        def read(path: str) -> str:
            variable = SERVICE_SETTINGS[path]
            require(variable in environ, variable, None, f"set: the stack writes {path} there")
            return environ[variable]

        jobs = JobLimits(
            **{
                f.name: _integer(read(f"jobs.{f.name}"), SERVICE_SETTINGS[f"jobs.{f.name}"])
                for f in dataclasses.fields(JobLimits)
            }
        )
        return cls(
            environment=read("environment"),
            input_bucket=read("input_bucket"),
            input_prefix=read("input_prefix"),
            output_bucket=read("output_bucket"),
            output_prefix=read("output_prefix"),
            cors_allowed_origins=tuple(o.strip() for o in read("cors_allowed_origins").split(",") if o.strip()),
            log_level=read("log_level"),
            jobs=jobs,
            consumer_job_limits=tuple(e.strip() for e in read("consumer_job_limits").split(",") if e.strip()),
            job_queue_url=read("job_queue_url"),
        )


def _get(settings: ServiceSettings, path: str) -> object:
    value: object = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _integer(raw: str, variable: str) -> int:
    """Decimal ASCII digits only: `int()` alone would also take '1_0', ' 7 ' and other scripts' digits."""
    text = raw.strip()
    digits = text[1:] if text.startswith("-") else text
    require(digits.isascii() and digits.isdigit(), variable, raw, "an integer")
    return int(text)
