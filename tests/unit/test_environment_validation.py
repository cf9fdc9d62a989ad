"""Each invalid environment setting fails with the field, the value and what is allowed."""

from __future__ import annotations

import dataclasses

import pytest

from config.capacity import estimated_job_seconds, required_scratch_mb
from config.environments import DEV, PROD, get_environment
from config.schema import (
    AlarmSettings,
    ApiConsumer,
    ApiSettings,
    CiIdentities,
    EnvironmentConfig,
    FunctionSettings,
    JobSettings,
    ModelStoreSettings,
    RegistrySettings,
    S3StateBackend,
    StorageSettings,
    WafSettings,
)
from contract.validation import ConfigError


def assert_names(excinfo, field, value):
    err = excinfo.value
    assert err.field == field
    assert err.value == value
    assert field in str(err) and repr(value) in str(err) and "allowed" in str(err)


def test_fails_memory_above_lambda_maximum():
    with pytest.raises(ConfigError) as e:
        FunctionSettings(memory_mb=20000)
    assert_names(e, "function.memory_mb", 20000)
    assert "128 to 10240" in str(e.value)


def test_fails_memory_below_lambda_minimum():
    with pytest.raises(ConfigError):
        FunctionSettings(memory_mb=64)


@pytest.mark.parametrize("seconds", [29, 61, 900])
def test_fails_api_function_timeout_not_just_above_the_gateways(seconds):
    with pytest.raises(ConfigError) as e:
        FunctionSettings(timeout_s=seconds)
    assert_names(e, "function.timeout_s", seconds)
    assert "30 to 60" in str(e.value)


def test_fails_ephemeral_storage_out_of_range():
    with pytest.raises(ConfigError) as e:
        FunctionSettings(ephemeral_storage_mb=100)
    assert_names(e, "function.ephemeral_storage_mb", 100)


def test_fails_unknown_architecture():
    with pytest.raises(ConfigError) as e:
        FunctionSettings(architecture="arm32")  # type: ignore[arg-type]  # what the type checker refuses, validation must too
    assert_names(e, "function.architecture", "arm32")


def test_fails_bad_image_digest():
    with pytest.raises(ConfigError) as e:
        FunctionSettings(image_digest="sha256:xyz")
    assert_names(e, "function.image_digest", "sha256:xyz")


def test_a_function_has_no_image_tag_setting_only_a_digest_or_the_release_pointer():
    """Tags name different images over time (`latest`, a fixed version): the stacks never deploy by one."""
    with pytest.raises(TypeError):
        FunctionSettings(image_tag="latest")  # type: ignore[call-arg]
    assert DEV.release_parameter == f"/{DEV.project}/dev/release/image-digest"


def test_fails_reserved_concurrency_below_minus_one():
    with pytest.raises(ConfigError):
        FunctionSettings(reserved_concurrency=-5)


def test_fails_wildcard_cors_origin_in_prod():
    with pytest.raises(ConfigError) as e:
        dataclasses.replace(PROD, api=dataclasses.replace(PROD.api, cors_allowed_origins=("*",)))
    assert_names(e, "api.cors_allowed_origins", "*")


def test_fails_origin_with_a_path():
    with pytest.raises(ConfigError) as e:
        ApiSettings(cors_allowed_origins=("https://app.example.com/page",))
    assert_names(e, "api.cors_allowed_origins", "https://app.example.com/page")


def test_fails_empty_cors_origins():
    with pytest.raises(ConfigError):
        ApiSettings(cors_allowed_origins=())


def test_fails_quota_period():
    with pytest.raises(ConfigError) as e:
        ApiSettings(quota_period="YEAR")  # type: ignore[arg-type]
    assert_names(e, "api.quota_period", "YEAR")


def test_fails_log_retention_cloudwatch_does_not_accept():
    with pytest.raises(ConfigError) as e:
        dataclasses.replace(DEV, log_retention_days=10)
    assert_names(e, "log_retention_days", 10)
    assert "3653" in str(e.value)


def test_fails_empty_environment_name():
    with pytest.raises(ConfigError) as e:
        EnvironmentConfig(name="")
    assert_names(e, "name", "")


def test_fails_environment_name_with_uppercase():
    with pytest.raises(ConfigError):
        EnvironmentConfig(name="Prod")


@pytest.mark.parametrize("name", ["prod-eu", "dev-2", "prod-"])
def test_fails_environment_name_with_a_hyphen_that_would_extend_another_environments_prefix(name: str) -> None:
    with pytest.raises(ConfigError) as e:
        EnvironmentConfig(name=name)
    assert_names(e, "name", name)
    assert "prod-eu" in str(e.value)


def test_fails_bad_region():
    with pytest.raises(ConfigError) as e:
        EnvironmentConfig(name="qa", region="moon-1")
    assert_names(e, "region", "moon-1")


def test_fails_input_expiry_zero_days():
    with pytest.raises(ConfigError) as e:
        StorageSettings(input_expiry_days=0)
    assert_names(e, "storage.input_expiry_days", 0)


def test_fails_prefix_without_trailing_slash():
    with pytest.raises(ConfigError):
        StorageSettings(input_prefix="uploads")


def test_fails_model_bucket_name():
    with pytest.raises(ConfigError) as e:
        ModelStoreSettings(bucket="Not_A_Bucket")
    assert_names(e, "model_store.bucket", "Not_A_Bucket")


def test_fails_ecr_tag_mutability():
    with pytest.raises(ConfigError) as e:
        RegistrySettings(tag_mutability="SOMETIMES")  # type: ignore[arg-type]
    assert_names(e, "registry.tag_mutability", "SOMETIMES")


def test_fails_state_bucket():
    with pytest.raises(ConfigError) as e:
        S3StateBackend(bucket="x", key_prefix="p/", region="us-east-1")
    assert_names(e, "state.bucket", "x")


def test_fails_a_derived_state_bucket_name_s3_would_refuse():
    """No bucket named: <project>-tfstate-<account>-<region> must still be an S3 name (at most 63 characters)."""
    region = "us-northwesternsouthcentral-1"  # region-shaped, long enough to push the name past 63
    state = S3StateBackend(key_prefix="p/", region=region)
    with pytest.raises(ConfigError) as e:
        EnvironmentConfig(name="prod", project="a-long-project-name1", region=region, state=state)
    assert_names(e, "state.bucket", None)
    assert "a-long-project-name1-tfstate-123456789012-us-northwesternsouthcentral-1" in str(e.value)
    assert (
        EnvironmentConfig(name="prod", state=S3StateBackend(key_prefix="p/", region="us-east-1")).state_bucket(
            "123456789012"
        )
        == "audio-inference-tfstate-123456789012-us-east-1"
    )


def test_fails_unknown_environment():
    with pytest.raises(ConfigError) as e:
        get_environment("staging")
    assert "dev" in str(e.value) and "prod" in str(e.value)


def test_settings_are_frozen_and_keyword_only():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEV.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        FunctionSettings(3008)  # type: ignore[call-arg]


def test_dev_and_prod_differ_as_documented():
    assert DEV.api.cors_allowed_origins == ("*",) and "*" not in PROD.api.cors_allowed_origins
    assert (DEV.api.api_key_required, PROD.api.api_key_required) == (True, True)  # #22: dev is keyed too
    assert (DEV.log_retention_days, PROD.log_retention_days) == (7, 30)
    assert (DEV.storage.input_expiry_days, PROD.storage.input_expiry_days) == (3, 7)
    assert (DEV.storage.output_noncurrent_expiry_days, PROD.storage.output_noncurrent_expiry_days) == (7, 30)
    assert (DEV.registry.tag_mutability, PROD.registry.tag_mutability) == ("MUTABLE", "IMMUTABLE")
    assert DEV.function.reserved_concurrency < PROD.function.reserved_concurrency


@pytest.mark.parametrize(
    "field, value",
    [
        ("notification_email", "not-an-address"),
        ("period_s", 90),
        ("period_s", 30),
        ("evaluation_periods", 0),
        ("function_errors", 0),
        ("duration_percent_of_timeout", 101),
        ("api_5xx_rate_percent", 0),
        ("api_p99_latency_ms", 30_000),
        ("queue_oldest_message_age_s", 10),
    ],
)
def test_fails_alarm_thresholds_out_of_range(field, value):
    with pytest.raises(ConfigError) as e:
        AlarmSettings(**{field: value})
    assert_names(e, f"alarms.{field}", value)


def test_alarm_defaults_and_an_email_are_accepted():
    assert AlarmSettings(notification_email="oncall@example.com").notification_email == "oncall@example.com"
    assert DEV.alarms == PROD.alarms == AlarmSettings()


@pytest.mark.parametrize("field, value", [("rate_limit_per_5_min", 5), ("enabled", "yes")])
def test_fails_waf_settings_out_of_range(field, value):
    with pytest.raises(ConfigError) as e:
        WafSettings(**{field: value})
    assert_names(e, f"waf.{field}", value)


def test_waf_is_on_in_prod_and_off_in_dev():
    assert PROD.waf.enabled and not DEV.waf.enabled


def test_job_scratch_must_fit_the_workers_tmp():
    with pytest.raises(ConfigError) as e:
        JobSettings(max_duration_s=5 * 3600, worker_ephemeral_storage_mb=4096)
    assert_names(e, "jobs.worker_ephemeral_storage_mb", 4096)
    assert f"at least {required_scratch_mb(5 * 3600, 500_000_000)} MB" in str(e.value)
    assert JobSettings(max_duration_s=3600, worker_ephemeral_storage_mb=2084).max_duration_s == 3600


def test_job_duration_must_fit_the_workers_timeout_twice_over():
    with pytest.raises(ConfigError) as e:
        JobSettings(max_duration_s=14_400, worker_timeout_s=300)
    assert_names(e, "jobs.max_duration_s", 14_400)
    with pytest.raises(ConfigError):  # fewer vCPUs: slower in proportion
        JobSettings(max_duration_s=14_400, worker_memory_mb=1024)


def test_job_defaults_take_four_hours_in_their_storage_and_timeout():
    jobs = JobSettings()
    assert jobs.max_duration_s == 14_400
    assert required_scratch_mb(jobs.max_duration_s, jobs.max_upload_bytes) <= jobs.worker_ephemeral_storage_mb
    assert (
        estimated_job_seconds(jobs.max_duration_s, jobs.worker_memory_mb, jobs.max_decoded_samples)
        <= jobs.worker_timeout_s
    )


# --- API consumers, stage throttling, WAF alignment (#22) ---------------------
@pytest.mark.parametrize(
    "field, value",
    [("name", "Bad Name"), ("name", "x"), ("throttle_rate_limit", 0), ("throttle_burst_limit", 0), ("quota_limit", 0)],
)
def test_fails_a_consumer_out_of_range(field, value):
    with pytest.raises(ConfigError) as e:
        ApiConsumer(**{"name": "ok-name", field: value})
    assert_names(e, f"api.consumers.{field}", value)


def test_fails_duplicate_consumers_and_a_keyed_api_without_any():
    with pytest.raises(ConfigError) as e:
        ApiSettings(consumers=(ApiConsumer(name="app"), ApiConsumer(name="app")))
    assert e.value.field == "api.consumers" and "distinct" in str(e.value)
    with pytest.raises(ConfigError) as e:
        ApiSettings(consumers=())
    assert e.value.field == "api.consumers" and "at least one consumer" in str(e.value)
    assert ApiSettings(consumers=(), api_key_required=False).consumers == ()


def test_a_consumer_inherits_the_apis_limits_unless_it_sets_its_own():
    api = ApiSettings(consumers=(ApiConsumer(name="app"), ApiConsumer(name="batch", throttle_rate_limit=2.5)))
    assert api.limits_of(api.consumers[0]) == (10.0, 20, 10_000)
    assert api.limits_of(api.consumers[1]) == (2.5, 20, 10_000)


def test_fails_a_stage_throttle_below_a_consumers_plan():
    with pytest.raises(ConfigError) as e:
        ApiSettings(consumers=(ApiConsumer(name="big", throttle_rate_limit=80.0),), stage_throttle_rate_limit=50.0)
    assert e.value.field == "api.stage_throttle_rate_limit" and "80" in str(e.value)


def test_fails_a_waf_rate_below_what_a_usage_plan_allows():
    with pytest.raises(ConfigError) as e:
        dataclasses.replace(PROD, waf=WafSettings(enabled=True, rate_limit_per_5_min=1000))
    assert e.value.field == "waf.rate_limit_per_5_min" and "6000" in str(e.value)


def test_every_environment_requires_a_key_with_its_own_consumers():
    for env in (DEV, PROD):
        assert env.api.api_key_required and env.api.consumers, env.name


CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"


@pytest.mark.parametrize(
    "field, value, other",
    [
        ("custom_domain", "Not A Domain", {"certificate_arn": CERTIFICATE}),
        ("certificate_arn", "", {"custom_domain": "api.example.com"}),
        ("certificate_arn", CERTIFICATE, {}),
        ("certificate_arn", "arn:aws:iam::123456789012:role/x", {"custom_domain": "api.example.com"}),
    ],
)
def test_fails_a_custom_domain_without_its_certificate_or_malformed(field, value, other):
    with pytest.raises(ConfigError) as e:
        ApiSettings(**{field: value, **other})
    assert_names(e, f"api.{field}", value)


def test_a_custom_domain_with_its_certificate_is_accepted():
    api = ApiSettings(custom_domain="api.example.com", certificate_arn=CERTIFICATE)
    assert api.custom_domain == "api.example.com"


@pytest.mark.parametrize("field, value", [("output_expiry_days", 0), ("output_expiry_days", 3651)])
def test_fails_results_expiry_out_of_range(field, value):
    with pytest.raises(ConfigError) as e:
        StorageSettings(**{field: value})
    assert_names(e, f"storage.{field}", value)


def test_fails_unknown_precision():
    with pytest.raises(ConfigError) as e:
        FunctionSettings(precision="bf16")
    assert_names(e, "function.precision", "bf16")
    assert "one of ('exact', 'fast')" in str(e.value)


def test_ci_identities_are_off_in_both_environments():
    assert DEV.ci is None and PROD.ci is None


@pytest.mark.parametrize(
    "repository",
    [
        "audio-inference",
        "octo-org/*",
        "octo-org/audio inference",
        "-octo/repo",
        "octo/repo/extra",
        "",
        "o/" + "r" * 101,
    ],
)
def test_fails_ci_repository_that_is_not_one_owner_slash_name(repository):
    with pytest.raises(ConfigError) as e:
        CiIdentities(repository=repository)
    assert_names(e, "ci.repository", repository)
    assert "owner/name" in str(e.value)


@pytest.mark.parametrize("branch", ["", "*", "release/*", "refs/heads/main", "a..b", "main/", "x.lock", "a b"])
def test_fails_ci_deploy_branch_that_is_not_one_branch_name(branch):
    with pytest.raises(ConfigError) as e:
        CiIdentities(repository="octo-org/audio-inference", deploy_branch=branch)
    assert_names(e, "ci.deploy_branch", branch)


def test_fails_ci_session_out_of_range():
    with pytest.raises(ConfigError) as e:
        CiIdentities(repository="octo-org/audio-inference", max_session_s=600)
    assert_names(e, "ci.max_session_s", 600)


def test_ci_identities_accept_a_repository_and_a_nested_branch():
    ci = CiIdentities(repository="Octo-Org/audio.inference_2", deploy_branch="release/v2")
    assert dataclasses.replace(PROD, ci=ci).ci == ci


def test_fails_ci_identities_with_local_state():
    ci = CiIdentities(repository="octo-org/audio-inference")
    with pytest.raises(ConfigError) as e:
        dataclasses.replace(DEV, ci=ci)
    assert_names(e, "ci", ci)
    assert "S3StateBackend" in str(e.value)


# --- never stranded: the queue's concurrency and retention (#30) -----------------------------------------


def test_a_queue_concurrency_the_worker_cannot_take_is_refused_with_the_reason():
    """Lambda's SQS pollers ignore reserved concurrency: a mapping above it throttles, and each throttled
    receive counts toward max_receives (jobs would be dead-lettered unrun)."""
    with pytest.raises(ConfigError) as e:
        JobSettings(worker_reserved_concurrency=2, queue_max_concurrency=5)
    assert_names(e, "jobs.queue_max_concurrency", 5)
    assert "throttled" in str(e.value) and "max_receives" in str(e.value)
    for reserved in (0, 1):  # AWS's maximum_concurrency is at least 2: such a worker always throttles
        with pytest.raises(ConfigError) as e:
            JobSettings(worker_reserved_concurrency=reserved)
        assert_names(e, "jobs.worker_reserved_concurrency", reserved)
    with pytest.raises(ConfigError) as e:
        JobSettings(worker_reserved_concurrency=-1, queue_max_concurrency=1)
    assert_names(e, "jobs.queue_max_concurrency", 1)
    assert JobSettings(worker_reserved_concurrency=8, queue_max_concurrency=8).queue_max_concurrency == 8
    assert JobSettings(worker_reserved_concurrency=-1, queue_max_concurrency=50).queue_max_concurrency == 50


@pytest.mark.parametrize("env", [DEV, PROD], ids=["dev", "prod"])
def test_the_environments_never_throttle_the_worker_and_keep_messages_longer_than_a_job_can_wait(env):
    jobs = env.jobs
    assert 2 <= jobs.queue_max_concurrency <= jobs.worker_reserved_concurrency
    assert jobs.queue_retention_s >= jobs.longest_wait_s(env.storage.input_expiry_days)


def test_a_retention_shorter_than_a_job_can_wait_is_refused():
    with pytest.raises(ConfigError) as e:
        dataclasses.replace(DEV, jobs=JobSettings(queue_retention_s=2 * 24 * 3600))
    assert_names(e, "jobs.queue_retention_s", 2 * 24 * 3600)
    assert "queued for ever" in str(e.value)
    with pytest.raises(ConfigError) as e:  # uploads kept longer than SQS can keep a message
        dataclasses.replace(DEV, storage=StorageSettings(input_expiry_days=14))
    assert_names(e, "jobs.queue_retention_s", 14 * 24 * 3600)
