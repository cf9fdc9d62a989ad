"""inference-<env>: storage, the functions, and the REST API in front of them."""

from __future__ import annotations

from dataclasses import replace

from cdktf import TerraformOutput
from constructs import Construct

from config.environments import EnvironmentConfig
from inference import env_names
from inference.config import InferenceConfig
from inference.pinned import pinned_artifact
from inference.validation import ConfigError
from infra_constructs import perms
from infra_constructs.container_function import ContainerFunction, ContainerFunctionProps
from infra_constructs.image_repository import repository_url
from infra_constructs.rest_api import GatewayResponse, RestApi, RestApiProps
from infra_constructs.secure_bucket import SecureBucket, SecureBucketProps, grant_on_prefix
from service import contract
from service.settings import ServiceSettings
from stacks.base import EnvironmentStack, props_from

API_HANDLER = ("service.handler.handler",)
"""The image command of the function behind the API (module.function, as Lambda resolves it)."""


class InferenceStack(EnvironmentStack):
    """Built from one environment's settings and the inference config the functions run with."""

    def __init__(self, scope: Construct, env: EnvironmentConfig, inference: InferenceConfig) -> None:
        super().__init__(scope, env.stack_name, env)
        self.inference = inference
        self.input_bucket, self.output_bucket = self._storage()
        self.repository_url = repository_url(self, repository_name=env.repository_name, region=env.region)
        self.predict_function = self._function("inference-function", "predict", API_HANDLER)
        self._grant_storage(self.predict_function)
        self.api = self._api()
        for route in contract.ROUTES:
            self.api.add_route(
                route.method, route.path, self.predict_function, api_key_required=False if route.public else None
            )
        self._outputs()

    def _storage(self) -> tuple[SecureBucket, SecureBucket]:
        """Uploads (expire) and results (versioned); private, encrypted, TLS-only, CORS for the page."""
        env, storage = self.env, self.env.storage
        shared = props_from(
            SecureBucketProps,
            storage,
            name_prefix=f"{env.resource_prefix}-",
            cors_allowed_origins=env.api.cors_allowed_origins,
        )
        uploads = SecureBucket(
            self,
            "input-bucket",
            replace(
                shared,
                name_prefix=f"{shared.name_prefix}input-",
                expire_prefix=storage.input_prefix,
                expire_after_days=storage.input_expiry_days,
                cors_allowed_methods=("POST", "PUT"),
            ),
        )
        results = SecureBucket(
            self,
            "output-bucket",
            replace(
                shared,
                name_prefix=f"{shared.name_prefix}output-",
                versioned=True,
                noncurrent_expiry_days=storage.output_noncurrent_expiry_days,
                cors_allowed_methods=("GET",),
            ),
        )
        return uploads, results

    def _function(self, id_: str, name: str, image_command: tuple[str, ...] = ()) -> ContainerFunction:
        """A function from the environment's image with the environment's settings; grants are the caller's."""
        env, settings = self.env, self.env.function
        image = f"@{settings.image_digest}" if settings.image_digest else f":{settings.image_tag}"
        function = ContainerFunction(
            self,
            id_,
            props_from(
                ContainerFunctionProps,
                settings,
                env,
                function_name=f"{env.resource_prefix}-{name}",
                image_uri=f"{self.repository_url}{image}",
                image_command=image_command,
                environment=self._function_environment(),
            ),
        )
        return function

    def _grant_storage(self, function: ContainerFunction) -> None:
        """Uploads and results under their prefixes only; the model bucket's prefix read-only."""
        env = self.env
        self.input_bucket.grant_read_write(function, "input-bucket", env.storage.input_prefix)
        self.output_bucket.grant_read_write(function, "output-bucket", env.storage.output_prefix)
        if env.model_store.bucket:
            grant_on_prefix(
                function,
                "model-bucket",
                f"arn:aws:s3:::{env.model_store.bucket}",
                env.model_store.prefix,
                perms.S3_OBJECT_READ,
            )

    def _function_environment(self) -> dict[str, str]:
        """Every inference setting (from the config file) and every service setting, as variables."""
        env = self.env
        service = ServiceSettings(
            environment=env.name,
            input_bucket=self.input_bucket.name,
            input_prefix=env.storage.input_prefix,
            output_bucket=self.output_bucket.name,
            output_prefix=env.storage.output_prefix,
            cors_allowed_origins=env.api.cors_allowed_origins,
            log_level=env.function.log_level,
        )
        return {
            **self.inference.to_environment(),
            env_names.INFERENCE_SETTINGS[("model", "artifact_uri")]: self._model_uri(),
            **service.to_environment(),
        }

    def _model_uri(self) -> str:
        """The model bucket's copy of the pinned artifact when there is a bucket, else the config's URI."""
        store, model = self.env.model_store, self.inference.model
        if not store.bucket:
            return model.artifact_uri
        pinned = pinned_artifact(model.name, model.version)
        if pinned is None:
            raise ConfigError(
                "model_store.bucket",
                store.bucket,
                f"empty for {model.name} {model.version}, which has no pinned artifact to upload there",
            )
        return f"s3://{store.bucket}/{store.prefix}{pinned.filename}"

    def _api(self) -> RestApi:
        env = self.env
        gateway_responses = tuple(
            GatewayResponse(
                response_type=kind, status_code=error.status, body_template=contract.gateway_error_template(error)
            )
            for kind, error in contract.GATEWAY_ERRORS.items()
        )
        props = props_from(
            RestApiProps,
            env.api,
            env,
            api_name=f"{env.resource_prefix}-api",
            title="Audio inference",
            binary_media_types=contract.BINARY_MEDIA_TYPES,
            cors_allow_headers=contract.CORS_ALLOW_HEADERS,
            gateway_responses=gateway_responses,
        )
        return RestApi(self, "rest-api", props)

    def _outputs(self) -> None:
        api, function = self.api, self.predict_function
        TerraformOutput(self, "predict_url", value=api.url_for("/predict"), description="POST multipart audio here")
        if api.api_key is not None:
            TerraformOutput(self, "api_key_id", value=api.api_key.id)
            TerraformOutput(self, "api_key_value", value=api.api_key.value, sensitive=True)
        TerraformOutput(self, "input_bucket_name", value=self.input_bucket.name)
        TerraformOutput(self, "output_bucket_name", value=self.output_bucket.name)
        TerraformOutput(self, "repository_url", value=self.repository_url)
        TerraformOutput(self, "image_uri", value=function.image_uri)
        TerraformOutput(self, "function_name", value=function.function_name)
        TerraformOutput(self, "function_log_group_name", value=function.log_group.name)
        TerraformOutput(self, "api_access_log_group_name", value=api.access_log_group.name)
