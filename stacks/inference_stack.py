"""inference-<env>: buckets, the function, its role and logs, and the REST API."""

from __future__ import annotations

from cdktf import TerraformOutput
from cdktf_cdktf_provider_aws.data_aws_ecr_repository import DataAwsEcrRepository
from constructs import Construct

from config.environments import EnvironmentConfig
from inference import env_names
from inference.config import InferenceConfig
from infra_constructs import perms
from infra_constructs.inference_function import InferenceFunction, InferenceFunctionProps
from infra_constructs.rest_api import RestApi, RestApiProps
from infra_constructs.secure_bucket import SecureBucket, SecureBucketProps, grant_on_prefix
from stacks.base import EnvironmentStack


class InferenceStack(EnvironmentStack):
    def __init__(self, scope: Construct, env: EnvironmentConfig, inference: InferenceConfig) -> None:
        super().__init__(scope, env.stack_name, env)
        prefix = env.resource_prefix
        storage = env.storage

        input_bucket = SecureBucket(
            self,
            "input-bucket",
            SecureBucketProps(
                name_prefix=f"{prefix}-input-",
                expire_prefix=storage.input_prefix,
                expire_after_days=storage.input_expiry_days,
                abort_incomplete_multipart_days=storage.abort_incomplete_multipart_days,
                cors_allowed_origins=env.api.cors_allowed_origins,
                cors_allowed_methods=("POST", "PUT"),
                force_destroy=storage.force_destroy,
            ),
        )
        output_bucket = SecureBucket(
            self,
            "output-bucket",
            SecureBucketProps(
                name_prefix=f"{prefix}-output-",
                versioned=True,
                noncurrent_expiry_days=storage.output_noncurrent_expiry_days,
                abort_incomplete_multipart_days=storage.abort_incomplete_multipart_days,
                cors_allowed_origins=env.api.cors_allowed_origins,
                cors_allowed_methods=("GET",),
                force_destroy=storage.force_destroy,
            ),
        )

        repository = DataAwsEcrRepository(self, "image-repository", name=env.repository_name)
        fn_settings = env.function
        image_uri = (
            f"{repository.repository_url}@{fn_settings.image_digest}"
            if fn_settings.image_digest
            else f"{repository.repository_url}:{fn_settings.image_tag}"
        )

        model_uri = inference.model.artifact_uri
        if env.model_store.bucket:
            model_uri = f"s3://{env.model_store.bucket}/{env.model_store.prefix}nmp.onnx"
        environment = {
            **inference.to_environment(),
            env_names.INFERENCE_SETTINGS[("model", "artifact_uri")]: model_uri,
            env_names.INPUT_BUCKET: input_bucket.name,
            env_names.INPUT_PREFIX: storage.input_prefix,
            env_names.OUTPUT_BUCKET: output_bucket.name,
            env_names.OUTPUT_PREFIX: storage.output_prefix,
            env_names.ENVIRONMENT: env.name,
            env_names.CORS_ALLOWED_ORIGINS: ",".join(env.api.cors_allowed_origins),
            env_names.LOG_LEVEL: fn_settings.log_level,
        }

        inference_function = InferenceFunction(
            self,
            "inference-function",
            InferenceFunctionProps(
                function_name=f"{prefix}-predict",
                image_uri=image_uri,
                memory_mb=fn_settings.memory_mb,
                timeout_s=fn_settings.timeout_s,
                ephemeral_storage_mb=fn_settings.ephemeral_storage_mb,
                architecture=fn_settings.architecture,
                reserved_concurrency=fn_settings.reserved_concurrency,
                log_retention_days=env.log_retention_days,
                environment=environment,
            ),
        )
        role = inference_function.role
        input_bucket.grant_read_write(role, "input-bucket", storage.input_prefix)
        output_bucket.grant_read_write(role, "output-bucket", storage.output_prefix)
        if env.model_store.bucket:
            grant_on_prefix(
                role,
                "model-bucket",
                f"arn:aws:s3:::{env.model_store.bucket}",
                env.model_store.prefix,
                perms.S3_OBJECT_READ,
            )
        function = inference_function.create_function()

        api = RestApi(
            self,
            "rest-api",
            RestApiProps(
                api_name=f"{prefix}-api",
                stage_name=env.api.stage_name,
                cors_allowed_origins=env.api.cors_allowed_origins,
                api_key_required=env.api.api_key_required,
                throttle_rate_limit=env.api.throttle_rate_limit,
                throttle_burst_limit=env.api.throttle_burst_limit,
                quota_limit=env.api.quota_limit,
                quota_period=env.api.quota_period,
                log_retention_days=env.log_retention_days,
                manage_account_logging_role=env.api.manage_account_logging_role,
            ),
            function_name=function.function_name,
            function_invoke_arn=function.invoke_arn,
        )

        TerraformOutput(self, "predict_url", value=api.predict_url, description="POST multipart audio here")
        if api.api_key is not None:
            TerraformOutput(self, "api_key_id", value=api.api_key.id)
            TerraformOutput(self, "api_key_value", value=api.api_key.value, sensitive=True)
        TerraformOutput(self, "input_bucket_name", value=input_bucket.name)
        TerraformOutput(self, "output_bucket_name", value=output_bucket.name)
        TerraformOutput(self, "repository_url", value=repository.repository_url)
        TerraformOutput(self, "image_uri", value=function.image_uri)
        TerraformOutput(self, "function_name", value=function.function_name)
        TerraformOutput(self, "function_log_group_name", value=inference_function.log_group.name)
        TerraformOutput(self, "api_access_log_group_name", value=api.access_log_group.name)
