"""The settings of a deployment environment: frozen, keyword-only dataclasses, one per part.

Each field's default is written here and nowhere else: the constructs take
explicit values from these settings, and the service's own settings
(`contract.settings`) are filled from them. Every value is validated when
constructed with the shared validators (`contract.validation`); an invalid one
raises `ConfigError` naming the field, the value and what is allowed. The
environments themselves (`DEV`, `PROD`) are values of these types, in
`config.environments`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from config.capacity import TIMEOUT_SAFETY, estimated_job_seconds, required_scratch_mb
from contract.settings import LOG_LEVELS, JobLimits, ServiceSettings
from contract.validation import int_in, matches, number_in, one_of, require
from inference.config import PRECISIONS
from inference.models.registry import model_names

# CloudWatch Logs accepts only these retention periods (days); 0 = never expire.
CLOUDWATCH_RETENTION_DAYS = (
    0,
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
LAMBDA_ARCHITECTURES = ("x86_64", "arm64")
ECR_TAG_MUTABILITY = ("MUTABLE", "IMMUTABLE")
QUOTA_PERIODS = ("DAY", "WEEK", "MONTH")

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")
_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9]{1,19}$")
"""No '-': the environment's name ends the `<project>-<env>-` prefix its IAM grants are scoped by, and
with '-' allowed `prod`'s grants (`audio-inference-prod-*`) would reach an environment `prod-eu`."""
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CERTIFICATE = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?/[A-Za-z0-9._-]{1,100}$")
_GIT_BRANCH = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*\.lock$)[A-Za-z0-9._/-]{1,200}(?<![/.])$")


def release_pointer_missing(env: EnvironmentConfig) -> str:
    """One line: the environment has no release recorded (or a malformed one), and what records one."""
    return (
        f"no release recorded for {env.name}: SSM parameter {env.release_parameter} is missing or not a "
        f"sha256 digest; run `make deploy ENV={env.name}` (or `make rollback ENV={env.name} DIGEST=sha256:...`), "
        f"or set INFERENCE_IMAGE_DIGEST=sha256:... for this run"
    )


@dataclass(frozen=True, kw_only=True)
class FunctionSettings:
    """The container-image Lambda function behind the API."""

    memory_mb: int = 3008
    """Memory in MB (128-10,240); vCPUs scale with it (~1,769 MB = 1 vCPU)."""
    timeout_s: int = 30
    """Per-invocation timeout in seconds, just above API Gateway's 29 s integration timeout (30-60):
    the gateway stops waiting at 29 s, so a longer run only costs. Long audio goes to the jobs worker."""
    ephemeral_storage_mb: int = 2048
    """/tmp size in MB (512-10,240): holds the cached model and decoded audio."""
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    """Must match the image that was pushed."""
    reserved_concurrency: int = 2
    """Reserved concurrent executions; -1 leaves the function unreserved."""
    image_digest: str = ""
    """Pin by digest (sha256:...); overridden by $INFERENCE_IMAGE_DIGEST. Empty (the default): the image is
    the environment's release pointer, the SSM parameter `/<project>/<env>/release/image-digest` that
    `make deploy` and `make rollback` write and the stack reads at plan time (never a tag)."""
    log_level: str = "INFO"
    """The service's log level (DEBUG, INFO, WARNING, ERROR)."""
    precision: str = "exact"
    """What a request that does not ask gets, on both functions: exact (f32, the validated results) or
    fast (int8 and bf16 where Lambda's CPU has them; docs/performance.md). Overrides the
    inference config's `inference.precision`."""

    def __post_init__(self) -> None:
        int_in("function.memory_mb", self.memory_mb, 128, 10_240)
        int_in("function.timeout_s", self.timeout_s, 30, 60)
        int_in("function.ephemeral_storage_mb", self.ephemeral_storage_mb, 512, 10_240)
        one_of("function.architecture", self.architecture, LAMBDA_ARCHITECTURES)
        int_in("function.reserved_concurrency", self.reserved_concurrency, -1, 1000)
        require(
            self.image_digest == "" or bool(_DIGEST.match(self.image_digest)),
            "function.image_digest",
            self.image_digest,
            "empty or sha256:<64 hex digits>",
        )
        one_of("function.log_level", self.log_level, LOG_LEVELS)
        one_of("function.precision", self.precision, PRECISIONS)


_CONSUMER = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")


@dataclass(frozen=True, kw_only=True)
class ApiConsumer:
    """One consumer of the API: its own API key and its own usage plan (throttle and quota), so one
    consumer's traffic never spends another's, a leaked key is revoked alone, and jobs belong to a key."""

    name: str
    """Names the key (<project>-<env>-api-<name>) and the plan; 2-32 lowercase letters, digits, '-'."""
    throttle_rate_limit: float | None = None
    """Steady-state requests per second of this consumer's plan; None: api.throttle_rate_limit."""
    throttle_burst_limit: int | None = None
    """None: api.throttle_burst_limit."""
    quota_limit: int | None = None
    """Requests per api.quota_period; None: api.quota_limit."""
    max_jobs_in_flight: int | None = None
    """Jobs one of this consumer's keys may have unfinished at once (1-100,000); None: jobs.max_jobs_in_flight.
    Its share of the workers while everyone's queue is full is its share of the sum of these."""
    max_audio_hours_per_day: float | None = None
    """Audio hours of this consumer's jobs per UTC day (0.001-27,000); None: jobs.max_audio_s_per_day."""

    def __post_init__(self) -> None:
        matches("api.consumers.name", self.name, _CONSUMER, "2-32 lowercase letters, digits and '-'")
        if self.max_jobs_in_flight is not None:
            int_in("api.consumers.max_jobs_in_flight", self.max_jobs_in_flight, 1, 100_000)
        if self.max_audio_hours_per_day is not None:
            number_in("api.consumers.max_audio_hours_per_day", self.max_audio_hours_per_day, 0.001, 27_000)
        if self.throttle_rate_limit is not None:
            number_in("api.consumers.throttle_rate_limit", self.throttle_rate_limit, 0.001, 10_000)
        if self.throttle_burst_limit is not None:
            int_in("api.consumers.throttle_burst_limit", self.throttle_burst_limit, 1, 5000)
        if self.quota_limit is not None:
            int_in("api.consumers.quota_limit", self.quota_limit, 1, 100_000_000)


@dataclass(frozen=True, kw_only=True)
class ApiSettings:
    """The REST API in front of the function."""

    stage_name: str = "v1"
    """The stage in the URL (`https://.../<stage_name>/predict`)."""
    cors_allowed_origins: tuple[str, ...] = ("http://localhost:8080",)
    """Origins allowed by CORS on the API and the buckets; left out: only the local
    server's page. '*' only where allow_wildcard_origin is true (dev)."""
    allow_wildcard_origin: bool = False
    """Whether `*` is accepted in `cors_allowed_origins`."""
    api_key_required: bool = True
    """Require an API key (x-api-key) on every route but /health; creates a key and a usage plan per
    consumer (`consumers`)."""
    consumers: tuple[ApiConsumer, ...] = (ApiConsumer(name="default"),)
    """Who holds keys: one key and one usage plan each (limits default to the api.throttle_* and
    api.quota_* below)."""
    throttle_rate_limit: float = 10.0
    """Steady-state requests per second of a consumer's usage plan (API key only)."""
    throttle_burst_limit: int = 20
    """A consumer's usage plan burst unless it sets its own."""
    quota_limit: int = 10_000
    """Requests per quota_period for the usage plan (API key only)."""
    quota_period: Literal["DAY", "WEEK", "MONTH"] = "DAY"
    """The period of `quota_limit`: DAY, WEEK or MONTH."""
    stage_throttle_rate_limit: float = 50.0
    """Steady-state requests per second the stage serves in all, keyed or not (/health included); at
    least throttle_rate_limit. API Gateway answers 429 throttled beyond it."""
    stage_throttle_burst_limit: int = 100
    """Requests the stage absorbs at once above its rate; at least throttle_burst_limit."""
    custom_domain: str = ""
    """Serve the API at https://<custom_domain>/ (TLS 1.2 at least, a regional endpoint) and switch the
    default execute-api endpoint off, so that no client can reach the stage around it; empty: the
    default endpoint. Point the domain's DNS at the `custom_domain_target` output."""
    certificate_arn: str = ""
    """The ACM certificate for custom_domain, in the environment's region; required with it."""
    manage_account_logging_role: bool = True
    """Set the region's API Gateway CloudWatch Logs role, which access logging needs. It is
    one setting per AWS account and region: where two environments share an account,
    leave it on in exactly one of them."""

    def __post_init__(self) -> None:
        matches(
            "api.stage_name", self.stage_name, r"^[A-Za-z0-9_]{1,128}$", "letters, digits and '_', 1-128 characters"
        )
        require(
            isinstance(self.cors_allowed_origins, tuple) and len(self.cors_allowed_origins) > 0,
            "api.cors_allowed_origins",
            self.cors_allowed_origins,
            "a non-empty tuple of origins",
        )
        for origin in self.cors_allowed_origins:
            if origin == "*":
                require(
                    self.allow_wildcard_origin,
                    "api.cors_allowed_origins",
                    origin,
                    "explicit origins such as 'https://app.example.com' ('*' only where allow_wildcard_origin=True)",
                )
                require(
                    len(self.cors_allowed_origins) == 1,
                    "api.cors_allowed_origins",
                    self.cors_allowed_origins,
                    "'*' alone or a list of explicit origins",
                )
            else:
                matches(
                    "api.cors_allowed_origins",
                    origin,
                    _ORIGIN,
                    "scheme://host[:port] with no path, e.g. 'https://app.example.com'",
                )
        require(
            isinstance(self.throttle_rate_limit, (int, float)) and 0 < self.throttle_rate_limit <= 10_000,
            "api.throttle_rate_limit",
            self.throttle_rate_limit,
            "a number above 0 and at most 10000",
        )
        int_in("api.throttle_burst_limit", self.throttle_burst_limit, 1, 5000)
        if self.custom_domain:
            matches(
                "api.custom_domain",
                self.custom_domain,
                _DOMAIN,
                "empty or a lowercase host name such as 'api.example.com'",
            )
        require(
            bool(self.custom_domain) == bool(self.certificate_arn),
            "api.certificate_arn",
            self.certificate_arn,
            "an ACM certificate ARN exactly when api.custom_domain is set (both or neither)",
        )
        if self.certificate_arn:
            matches(
                "api.certificate_arn",
                self.certificate_arn,
                _CERTIFICATE,
                "arn:aws:acm:<region>:<account>:certificate/<id>",
            )
        int_in("api.quota_limit", self.quota_limit, 1, 100_000_000)
        one_of("api.quota_period", self.quota_period, QUOTA_PERIODS)
        require(
            isinstance(self.stage_throttle_rate_limit, (int, float))
            and self.throttle_rate_limit <= self.stage_throttle_rate_limit <= 10_000,
            "api.stage_throttle_rate_limit",
            self.stage_throttle_rate_limit,
            f"a number from api.throttle_rate_limit ({self.throttle_rate_limit:g}) to 10000",
        )
        require(
            isinstance(self.consumers, tuple) and all(isinstance(c, ApiConsumer) for c in self.consumers),
            "api.consumers",
            self.consumers,
            "a tuple of ApiConsumer",
        )
        names = [c.name for c in self.consumers]
        require(len(set(names)) == len(names), "api.consumers", names, "distinct consumer names")
        require(
            not self.api_key_required or len(names) > 0,
            "api.consumers",
            names,
            "at least one consumer where api_key_required is true (else no key could call the API)",
        )
        int_in("api.stage_throttle_burst_limit", self.stage_throttle_burst_limit, self.max_burst_limit, 5000)
        require(
            self.stage_throttle_rate_limit >= self.max_rate_limit,
            "api.stage_throttle_rate_limit",
            self.stage_throttle_rate_limit,
            f"at least {self.max_rate_limit:g}, the largest consumer's rate",
        )

    def limits_of(self, consumer: ApiConsumer) -> tuple[float, int, int]:
        """A consumer's (rate per second, burst, quota per period), defaults filled in."""
        return (
            self.throttle_rate_limit if consumer.throttle_rate_limit is None else consumer.throttle_rate_limit,
            self.throttle_burst_limit if consumer.throttle_burst_limit is None else consumer.throttle_burst_limit,
            self.quota_limit if consumer.quota_limit is None else consumer.quota_limit,
        )

    @property
    def max_rate_limit(self) -> float:
        """The largest usage plan rate (requests per second) any one key may reach."""
        return max([self.throttle_rate_limit, *(self.limits_of(c)[0] for c in self.consumers)])

    @property
    def max_burst_limit(self) -> int:
        return max([self.throttle_burst_limit, *(self.limits_of(c)[1] for c in self.consumers)])


@dataclass(frozen=True, kw_only=True)
class StorageSettings:
    """The input (uploads) and output (results) buckets."""

    input_expiry_days: int = 7
    """Uploads under the input prefix are deleted this many days after creation."""
    output_expiry_days: int = 30
    """Results (synchronous results, jobs' results and status documents) are deleted this many days after
    they were written; a job's GET is then 404. Their links expire long before (an hour)."""
    output_noncurrent_expiry_days: int = 30
    """Overwritten or deleted results are kept this many days as noncurrent versions."""
    abort_incomplete_multipart_days: int = 1
    """Incomplete multipart uploads are aborted after this many days (both buckets)."""
    input_prefix: str = "uploads/"
    """The only input-bucket prefix the functions may read and write."""
    output_prefix: str = "results/"
    """The only output-bucket prefix the functions may read and write."""
    force_destroy: bool = False
    """Let `terraform destroy` delete non-empty buckets (dev only: loses data)."""

    def __post_init__(self) -> None:
        int_in("storage.input_expiry_days", self.input_expiry_days, 1, 3650)
        int_in("storage.output_expiry_days", self.output_expiry_days, 1, 3650)
        int_in("storage.output_noncurrent_expiry_days", self.output_noncurrent_expiry_days, 1, 3650)
        int_in("storage.abort_incomplete_multipart_days", self.abort_incomplete_multipart_days, 1, 365)
        for name in ("input_prefix", "output_prefix"):
            value = getattr(self, name)
            matches(
                f"storage.{name}",
                value,
                r"^[a-z0-9][a-z0-9\-_/]*/$",
                "a key prefix such as 'uploads/' (lowercase, ends with '/')",
            )


@dataclass(frozen=True, kw_only=True)
class ModelStoreSettings:
    """Where the function may read model artifacts. The bucket is not created here."""

    bucket: str = ""
    """Existing bucket holding model artifacts; empty = the model is baked into the image."""
    prefix: str = "models/basic-pitch/0.4.0/"
    """The only prefix the function may read."""

    def __post_init__(self) -> None:
        require(
            self.bucket == "" or bool(_BUCKET.match(self.bucket)),
            "model_store.bucket",
            self.bucket,
            "empty or an S3 bucket name (3-63 lowercase letters, digits, '.', '-')",
        )
        matches("model_store.prefix", self.prefix, r"^[A-Za-z0-9][A-Za-z0-9\-_./]*/$", "a key prefix ending with '/'")


@dataclass(frozen=True, kw_only=True)
class EncryptionSettings:
    """Who holds the keys to the environment's data."""

    customer_managed_key: bool = True
    """A KMS key per stack of the environment (rotated yearly) for buckets, log groups, queues, function
    environments and the image repository; false: AWS-managed encryption everywhere."""
    key_deletion_window_days: int = 30
    """Days a scheduled key deletion can still be cancelled (7-30)."""

    def __post_init__(self) -> None:
        require(
            isinstance(self.customer_managed_key, bool),
            "encryption.customer_managed_key",
            self.customer_managed_key,
            "true or false",
        )
        int_in("encryption.key_deletion_window_days", self.key_deletion_window_days, 7, 30)


@dataclass(frozen=True, kw_only=True)
class AlarmSettings:
    """CloudWatch alarms to the environment's SNS topic. An alarm goes off when its metric crosses the
    threshold in `evaluation_periods` consecutive periods of `period_s`; missing data is not breaching."""

    notification_email: str = ""
    """Subscribe this address to the alarm topic (AWS mails a confirmation link); empty: no subscription."""
    period_s: int = 300
    """Length of one evaluation period (60-86,400 s, a multiple of 60)."""
    evaluation_periods: int = 1
    """Consecutive breaching periods before the alarm goes off (1-100)."""
    function_errors: int = 1
    """Invocation errors of a function in one period (1-100,000)."""
    function_throttles: int = 1
    """Throttled invocations of a function in one period (1-100,000)."""
    duration_percent_of_timeout: int = 80
    """A function's longest invocation, as a percentage of its timeout (10-100)."""
    api_5xx_rate_percent: float = 1.0
    """Share of API requests answered 5XX in one period (0.1-100 %)."""
    api_p99_latency_ms: int = 10_000
    """The API's 99th-percentile latency (100-29,000 ms; API Gateway's integration limit is 29 s)."""
    queue_oldest_message_age_s: int = 1800
    """Age of the oldest job waiting in the queue (60-1,209,600 s). The dead-letter queue alarms on any message."""

    def __post_init__(self) -> None:
        if self.notification_email:
            matches("alarms.notification_email", self.notification_email, _EMAIL, "empty or an email address")
        int_in("alarms.period_s", self.period_s, 60, 86_400)
        require(self.period_s % 60 == 0, "alarms.period_s", self.period_s, "a multiple of 60 seconds")
        int_in("alarms.evaluation_periods", self.evaluation_periods, 1, 100)
        int_in("alarms.function_errors", self.function_errors, 1, 100_000)
        int_in("alarms.function_throttles", self.function_throttles, 1, 100_000)
        int_in("alarms.duration_percent_of_timeout", self.duration_percent_of_timeout, 10, 100)
        number_in("alarms.api_5xx_rate_percent", self.api_5xx_rate_percent, 0.1, 100)
        int_in("alarms.api_p99_latency_ms", self.api_p99_latency_ms, 100, 29_000)
        int_in("alarms.queue_oldest_message_age_s", self.queue_oldest_message_age_s, 60, 14 * 24 * 3600)


@dataclass(frozen=True, kw_only=True)
class WafSettings:
    """An AWS WAF web ACL on the API stage: AWS's common and known-bad-inputs rule sets, and a per-IP
    rate limit. Its requests are logged to an aws-waf-logs-* log group with the environment's retention."""

    enabled: bool = False
    """Create and associate the web ACL; false: none (API Gateway's own throttling still applies)."""
    rate_limit_per_5_min: int = 2000
    """Requests one IP may make in any 5 minutes before WAF blocks it (10-2,000,000,000)."""

    def __post_init__(self) -> None:
        require(isinstance(self.enabled, bool), "waf.enabled", self.enabled, "true or false")
        int_in("waf.rate_limit_per_5_min", self.rate_limit_per_5_min, 10, 2_000_000_000)


@dataclass(frozen=True, kw_only=True)
class JobSettings(JobLimits):
    """Long audio: the limits every job has (`JobLimits`: max_duration_s, max_upload_bytes,
    upload_url_expiry_s, max_receives, which the service enforces), the queue and the worker function
    (same image, its own handler). A job must fit the worker's timeout twice over
    (`config.capacity.estimated_job_seconds`) and its scratch the worker's /tmp (`required_scratch_mb`)."""

    worker_memory_mb: int = 4096
    """The worker's memory (128-10,240 MB); vCPUs scale with it."""
    worker_timeout_s: int = 900
    """The worker's timeout (60-900 s); the queue's visibility timeout is six times it (AWS's advice)."""
    worker_ephemeral_storage_mb: int = 6144
    """The worker's /tmp (512-10,240 MB): the downloaded upload and the transcription's scratch (activation
    maps on disk); at least `required_scratch_mb(max_duration_s, max_upload_bytes)`."""
    worker_reserved_concurrency: int = 2
    """Jobs running at once at most; -1: unreserved (the account's pool). Not 0 or 1: the queue's
    event source mapping runs at least 2 at once (`queue_max_concurrency`), and Lambda's SQS pollers do
    not read reserved concurrency, so a worker that could run fewer would be throttled."""
    batch_size: int = 1
    """Messages per worker invocation (1-10): one long job each by default."""
    queue_max_concurrency: int = 2
    """The event source mapping's `scaling_config.maximum_concurrency` (2-1,000; AWS's minimum is 2):
    how many worker invocations the queue's pollers start at once. At most `worker_reserved_concurrency`:
    Lambda's SQS pollers ignore reserved concurrency, so a poller beyond it is throttled, and a throttled
    receive counts toward `max_receives` as a failed one: jobs would reach the dead-letter queue without
    the worker ever running them."""
    queue_retention_s: int = 14 * 24 * 3600
    """How long SQS keeps a job's message (60-1,209,600 s; 14 days, SQS's maximum). At least what a job
    can wait: its upload's life (`storage.input_expiry_days`, after which the worker fails it: the upload
    is gone), every retry (`max_receives` x the visibility timeout) and a day for S3's lifecycle to act.
    A message SQS dropped would leave its job `queued` for ever; this one never is."""
    drainer_memory_mb: int = 512
    """Memory of the dead-letter drainer (128-10,240 MB): the function on the dead-letter queue that marks
    each of its jobs failed with the reason (no model is loaded)."""
    drainer_timeout_s: int = 60
    """The drainer's timeout (10-900 s); the dead-letter queue's visibility timeout is six times it."""

    def __post_init__(self) -> None:
        super().__post_init__()
        int_in("jobs.worker_memory_mb", self.worker_memory_mb, 128, 10_240)
        int_in("jobs.worker_timeout_s", self.worker_timeout_s, 60, 900)
        int_in("jobs.worker_ephemeral_storage_mb", self.worker_ephemeral_storage_mb, 512, 10_240)
        int_in("jobs.worker_reserved_concurrency", self.worker_reserved_concurrency, -1, 1000)
        int_in("jobs.batch_size", self.batch_size, 1, 10)
        require(
            self.worker_reserved_concurrency not in (0, 1),
            "jobs.worker_reserved_concurrency",
            self.worker_reserved_concurrency,
            "-1 (unreserved) or at least 2: the queue's event source mapping starts at least 2 invocations at "
            "once (AWS's minimum maximum_concurrency), and every one the worker cannot take is throttled, its "
            "receive counted toward jobs.max_receives",
        )
        int_in("jobs.queue_max_concurrency", self.queue_max_concurrency, 2, 1000)
        if self.worker_reserved_concurrency >= 2:
            require(
                self.queue_max_concurrency <= self.worker_reserved_concurrency,
                "jobs.queue_max_concurrency",
                self.queue_max_concurrency,
                f"at most jobs.worker_reserved_concurrency={self.worker_reserved_concurrency}: Lambda's SQS "
                "pollers ignore reserved concurrency, so invocations beyond it are throttled, and throttled "
                "receives count toward jobs.max_receives (jobs would reach the dead-letter queue unrun)",
            )
        int_in("jobs.queue_retention_s", self.queue_retention_s, 60, 14 * 24 * 3600)
        int_in("jobs.drainer_memory_mb", self.drainer_memory_mb, 128, 10_240)
        int_in("jobs.drainer_timeout_s", self.drainer_timeout_s, 10, 900)
        needed_mb = required_scratch_mb(self.max_duration_s, self.max_upload_bytes)
        require(
            self.worker_ephemeral_storage_mb >= needed_mb,
            "jobs.worker_ephemeral_storage_mb",
            self.worker_ephemeral_storage_mb,
            f"at least {needed_mb} MB for jobs of up to {self.max_duration_s} s and {self.max_upload_bytes:,} bytes "
            "(the upload, the transcription's scratch at its worst case, headroom); or lower jobs.max_duration_s",
        )
        needed_s = estimated_job_seconds(self.max_duration_s, self.worker_memory_mb, self.max_decoded_samples)
        require(
            needed_s <= self.worker_timeout_s,
            "jobs.max_duration_s",
            self.max_duration_s,
            f"at most what the worker finishes inside worker_timeout_s={self.worker_timeout_s} with a "
            f"{TIMEOUT_SAFETY:g}x margin at {self.worker_memory_mb} MB (this needs ~{needed_s:.0f} s)",
        )

    @property
    def visibility_timeout_s(self) -> int:
        return 6 * self.worker_timeout_s

    @property
    def dead_letter_visibility_timeout_s(self) -> int:
        """Six times the drainer's timeout (AWS's advice; Lambda refuses a mapping below its timeout)."""
        return 6 * self.drainer_timeout_s

    def longest_wait_s(self, input_expiry_days: int) -> int:
        """The longest a job's message can wait for a worker or the drainer to settle its job: its upload's
        life (then the worker fails the job at once: the upload is gone), a day for S3's lifecycle to
        act, and every retry."""
        return (input_expiry_days + 1) * 24 * 3600 + self.max_receives * self.visibility_timeout_s


@dataclass(frozen=True, kw_only=True)
class RegistrySettings:
    """The ECR repository the function's image comes from."""

    tag_mutability: Literal["MUTABLE", "IMMUTABLE"] = "IMMUTABLE"
    """ECR tag mutability: IMMUTABLE (a pushed tag never moves) or MUTABLE."""
    keep_tagged_images: int = 10
    """Keep the newest N tagged images; older ones expire."""
    untagged_expiry_days: int = 3
    """Untagged images expire after this many days."""
    force_delete: bool = False
    """Let `terraform destroy` delete a repository that still holds images."""

    def __post_init__(self) -> None:
        one_of("registry.tag_mutability", self.tag_mutability, ECR_TAG_MUTABILITY)
        int_in("registry.keep_tagged_images", self.keep_tagged_images, 1, 1000)
        int_in("registry.untagged_expiry_days", self.untagged_expiry_days, 1, 365)


@dataclass(frozen=True, kw_only=True)
class LocalStateBackend:
    """Terraform state in a local file (relative to the stack's synth folder, <out>/stacks/<stack>/)."""

    path: str
    """The state file (outside every folder a clean, synth or checkout touches)."""

    def __post_init__(self) -> None:
        require(
            bool(self.path) and not self.path.startswith("/"),
            "state.path",
            self.path,
            "a relative file path (absolute paths make synth output machine-specific)",
        )


def derived_state_bucket(project: str, account: str, region: str) -> str:
    """`<project>-tfstate-<account>-<region>`: a state bucket name no other account or region can hold, so
    an adopter never has to choose one (the way `cdk bootstrap` names `cdk-<qualifier>-assets-<account>-<region>`)."""
    return f"{project}-tfstate-{account}-{region}"


@dataclass(frozen=True, kw_only=True)
class S3StateBackend:
    """Terraform state in S3 with S3-native locking (use_lockfile)."""

    bucket: str | None = None
    """The state bucket (`make bootstrap` makes it: versioned, encrypted, private, retained). None: named
    per account and region, `<project>-tfstate-<account>-<region>`, as `cdk bootstrap` names its own
    (operations/state_bucket.py finds the account from the credentials at hand)."""
    key_prefix: str
    """Each stack stores its state at <key_prefix><stack name>.tfstate."""
    region: str
    """The state bucket's region."""
    noncurrent_version_expiry_days: int = 90
    """How long `make bootstrap`'s bucket keeps superseded state versions (the current one never expires)."""

    def __post_init__(self) -> None:
        if self.bucket is not None:
            matches("state.bucket", self.bucket, _BUCKET, "an S3 bucket name, or None to derive one per account")
        int_in("state.noncurrent_version_expiry_days", self.noncurrent_version_expiry_days, 1, 3650)
        require(
            bool(self.key_prefix) and not self.key_prefix.startswith("/"),
            "state.key_prefix",
            self.key_prefix,
            "a non-empty key prefix such as 'audio-inference/prod/'",
        )
        matches("state.region", self.region, _REGION, "an AWS region such as 'us-east-1'")


@dataclass(frozen=True, kw_only=True)
class CiIdentities:
    """The GitHub Actions identities `make bootstrap` makes: the account's GitHub OIDC provider, a
    read-only plan role for the repository's pull requests and a deploy role for its deploy branch
    (operations/ci_policies.py writes their trust and permissions; docs/operations.md, CI/CD for adopters)."""

    repository: str
    """The GitHub repository, `owner/name`, exactly as GitHub spells it: the roles trust only its tokens."""
    deploy_branch: str = "main"
    """The branch deploy.yml deploys from: set it as the GitHub environment's only deployment branch (the
    deploy role trusts `sub` = repo:<o>/<n>:environment:<env>, which GitHub issues only to that branch then)."""
    max_session_s: int = 3600
    """How long one assumed session lasts (3,600-43,200 s); a deploy takes well under an hour."""

    def __post_init__(self) -> None:
        matches(
            "ci.repository",
            self.repository,
            _GITHUB_REPOSITORY,
            "a GitHub repository 'owner/name': owner of 1-39 letters, digits and inner '-'; name of 1-100 "
            "letters, digits, '.', '_' and '-' (no wildcards)",
        )
        require(
            bool(_GIT_BRANCH.match(self.deploy_branch)) and self.deploy_branch not in (".", ".."),
            "ci.deploy_branch",
            self.deploy_branch,
            "a branch name such as 'main': letters, digits, '.', '_', '-' and '/' (no wildcards, no refs/heads/)",
        )
        require(
            not self.deploy_branch.startswith("refs/"),
            "ci.deploy_branch",
            self.deploy_branch,
            "the branch's short name such as 'main', without refs/heads/",
        )
        int_in("ci.max_session_s", self.max_session_s, 3600, 43_200)


@dataclass(frozen=True, kw_only=True)
class EnvironmentConfig:
    """One deployment environment: every stack of it is built from this value."""

    name: str
    """Short name used in stack and resource names: inference-<name>."""
    region: str = "us-east-1"
    """AWS region of every stack of the environment."""
    project: str = "audio-inference"
    """Prefix of resource names (`<project>-<name>`) and the `Project` tag."""
    log_retention_days: int = 30
    """Retention of the function's and the API's log groups (CloudWatch's allowed values)."""
    models: tuple[str, ...] = ("basic-pitch", "silero-vad")
    """The registered models this environment serves (`inference.models.registry`): both functions
    load them and GET /health lists them; it must include the inference config's model.name (the
    default). The image carries every registered model's artifact either way."""
    function: FunctionSettings = field(default_factory=FunctionSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    model_store: ModelStoreSettings = field(default_factory=ModelStoreSettings)
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    jobs: JobSettings = field(default_factory=JobSettings)
    encryption: EncryptionSettings = field(default_factory=EncryptionSettings)
    alarms: AlarmSettings = field(default_factory=AlarmSettings)
    waf: WafSettings = field(default_factory=WafSettings)
    state: LocalStateBackend | S3StateBackend | None = None
    """None = a local state file per stack in .state/ beside the synth output (stacks.base.local_state_path)."""
    ci: CiIdentities | None = None
    """None (the default) = no CI identities; set, `make bootstrap` makes the GitHub OIDC provider and the
    plan and deploy roles. Only with an S3 state backend: CI runners have no local state to read."""
    tags: tuple[tuple[str, str], ...] = ()
    """Extra tags on every resource (Project, Environment and ManagedBy are always set)."""

    def __post_init__(self) -> None:
        matches(
            "name",
            self.name,
            _ENVIRONMENT,
            "2-20 lowercase letters and digits, starting with a letter (no '-': `prod`'s grants on "
            "`<project>-prod-*` would reach `prod-eu`)",
        )
        matches("region", self.region, _REGION, "an AWS region such as 'us-east-1'")
        matches("project", self.project, _NAME, "2-20 lowercase letters, digits and '-', starting with a letter")
        require(
            self.log_retention_days in CLOUDWATCH_RETENTION_DAYS,
            "log_retention_days",
            self.log_retention_days,
            f"one of CloudWatch's values {CLOUDWATCH_RETENTION_DAYS}",
        )
        known = model_names()
        require(
            bool(self.models)
            and all(isinstance(m, str) and m in known for m in self.models)
            and len(set(self.models)) == len(self.models),
            "models",
            self.models,
            f"distinct registered models, at least one: {', '.join(known)}",
        )
        if self.waf.enabled:
            usage_plan_per_5_min = int(math.ceil(self.api.max_rate_limit * 300))
            require(
                self.waf.rate_limit_per_5_min >= usage_plan_per_5_min,
                "waf.rate_limit_per_5_min",
                self.waf.rate_limit_per_5_min,
                f"at least {usage_plan_per_5_min}, what the largest usage plan rate ({self.api.max_rate_limit:g} "
                "requests per second) allows in 5 minutes (WAF's per-IP limit must not cut in below a usage plan's)",
            )
        longest_wait_s = self.jobs.longest_wait_s(self.storage.input_expiry_days)
        require(
            self.jobs.queue_retention_s >= longest_wait_s,
            "jobs.queue_retention_s",
            self.jobs.queue_retention_s,
            f"at least {longest_wait_s} s, the longest a job can wait (storage.input_expiry_days="
            f"{self.storage.input_expiry_days} days of upload, a day of lifecycle lag, jobs.max_receives="
            f"{self.jobs.max_receives} x {self.jobs.visibility_timeout_s} s of retries): a message SQS drops "
            "leaves its job queued for ever",
        )
        require(
            self.ci is None or isinstance(self.state, S3StateBackend),
            "ci",
            self.ci,
            "None unless state is an S3StateBackend (CI runners cannot read a local state file; set state first)",
        )
        if isinstance(self.state, S3StateBackend) and self.state.bucket is None:
            derived = derived_state_bucket(self.project, "123456789012", self.state.region)
            require(
                bool(_BUCKET.match(derived)),
                "state.bucket",
                None,
                f"a bucket name: the derived {derived!r} is not a valid S3 name (name the bucket, or shorten project)",
            )
        for key, value in self.tags:
            require(
                bool(key) and len(key) <= 128 and len(value) <= 256,
                "tags",
                (key, value),
                "keys of 1-128 and values of at most 256 characters",
            )

    @property
    def stack_name(self) -> str:
        return f"inference-{self.name}"

    @property
    def registry_stack_name(self) -> str:
        return f"inference-{self.name}-registry"

    @property
    def resource_prefix(self) -> str:
        """Prefix of resource names: <project>-<env>."""
        return f"{self.project}-{self.name}"

    @property
    def repository_name(self) -> str:
        return f"{self.project}/{self.name}"

    @property
    def release_path(self) -> str:
        """The SSM path of the environment's release pointer (operations/release_pointer.py)."""
        return f"/{self.project}/{self.name}/release"

    @property
    def release_parameter(self) -> str:
        """The release pointer: the digest `make deploy`/`make rollback` last deployed, read by the stack."""
        return f"{self.release_path}/image-digest"

    @property
    def permissions_boundary_name(self) -> str:
        """The customer-managed policy `make bootstrap` puts as the permissions boundary of every role the
        stacks create (operations/ci_policies.permissions_boundary). Derived, not a setting: bootstrap writes
        it and the stacks name it, and a second spelling could only disagree; the stacks derive its ARN from
        the deploying account (a data source), so the same JSON deploys to any account."""
        return f"{self.resource_prefix}-permissions-boundary"

    def state_bucket(self, account: str) -> str:
        """The state bucket in `account`: the one named in `state.bucket`, else derived per account and region."""
        state = self.state
        if not isinstance(state, S3StateBackend):
            raise ValueError(f"{self.name}: local state has no bucket")
        return state.bucket or derived_state_bucket(self.project, account, state.region)

    def served_models(self, default: str) -> tuple[str, ...]:
        """`models` with the inference config's default model first (what a request naming none gets):
        the functions' INFERENCE_MODELS, /health's order, and `make serve`'s (which plays dev)."""
        require(default in self.models, "models", self.models, f"a list that includes the default model {default!r}")
        return (default, *(name for name in self.models if name != default))

    def service_settings(self, *, input_bucket: str, output_bucket: str, job_queue_url: str = "") -> ServiceSettings:
        """What this environment's functions are told through their variables (`contract.settings`):
        the buckets' names and the jobs queue's URL (references at synth time) and every other value
        from these settings."""
        own = tuple(
            f"{c.name}:{c.max_jobs_in_flight or self.jobs.max_jobs_in_flight}:"
            f"{round(c.max_audio_hours_per_day * 3600) if c.max_audio_hours_per_day else self.jobs.max_audio_s_per_day}"
            for c in self.api.consumers
            if c.max_jobs_in_flight is not None or c.max_audio_hours_per_day is not None
        )
        return ServiceSettings(
            consumer_job_limits=own,
            job_queue_url=job_queue_url,
            environment=self.name,
            input_bucket=input_bucket,
            input_prefix=self.storage.input_prefix,
            output_bucket=output_bucket,
            output_prefix=self.storage.output_prefix,
            cors_allowed_origins=self.api.cors_allowed_origins,
            log_level=self.function.log_level,
            jobs=self.jobs.limits(),
        )

    @property
    def all_tags(self) -> dict[str, str]:
        return {"Project": self.project, "Environment": self.name, "ManagedBy": "cdktf", **dict(self.tags)}
