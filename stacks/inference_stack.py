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
from infra_constructs.job_queue import JobQueue, JobQueueProps
from infra_constructs.rest_api import GatewayResponse, RestApi, RestApiProps
from infra_constructs.secure_bucket import SecureBucket, SecureBucketProps, grant_on_prefix
from infra_constructs.web_acl import WebAcl, WebAclProps
from service import contract
from service.settings import ServiceSettings
from stacks import observability
from stacks.base import EnvironmentStack, encryption_key, props_from

API_HANDLER = ("service.handler.handler",)
"""The image command of the function behind the API (module.function, as Lambda resolves it)."""
WORKER_HANDLER = ("service.worker.handler",)
"""The jobs worker's image command: the same image, its own handler."""


class InferenceStack(EnvironmentStack):
    """Built from one environment's settings and the inference config the functions run with."""

    def __init__(self, scope: Construct, env: EnvironmentConfig, inference: InferenceConfig) -> None:
        super().__init__(scope, env.stack_name, env)
        self.inference = inference
        self.key = encryption_key(self, env, for_bucket_notifications=True, for_alarm_notifications=True)
        self.kms_key_arn = self.key.arn if self.key else None
        self.input_bucket, self.output_bucket = self._storage()
        self.repository_url = repository_url(self, repository_name=env.repository_name, region=env.region)
        self.predict_function = self._function("inference-function", "predict", API_HANDLER)
        self._grant_api_storage(self.predict_function)
        self.job_queue, self.worker = self._jobs()
        self.api = self._api()
        for route in contract.ROUTES:
            self.api.add_route(
                route.method, route.path, self.predict_function, api_key_required=False if route.public else None
            )
        self._edge_protection()
        self._observability()
        self._outputs()

    def _storage(self) -> tuple[SecureBucket, SecureBucket]:
        """Uploads (expire) and results (versioned); private, encrypted, TLS-only, CORS for the page."""
        env, storage = self.env, self.env.storage
        shared = props_from(
            SecureBucketProps,
            storage,
            name_prefix=f"{env.resource_prefix}-",
            cors_allowed_origins=env.api.cors_allowed_origins,
            kms_key_arn=self.kms_key_arn,
        )
        uploads = SecureBucket(
            self,
            "input-bucket",
            replace(
                shared,
                name_prefix=f"{shared.name_prefix}input-",
                expire_prefix=storage.input_prefix,
                expire_after_days=storage.input_expiry_days,
                versioned=True,
                noncurrent_expiry_days=1,  # an expired upload's last version goes a day later
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

    def _function(
        self, id_: str, name: str, image_command: tuple[str, ...] = (), **settings_: int
    ) -> ContainerFunction:
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
                kms_key_arn=self.kms_key_arn,
                environment=self._function_environment(),
                **settings_,
            ),
        )
        return function

    def _grant_api_storage(self, function: ContainerFunction) -> None:
        """The API's prefixes: synchronous uploads and results; jobs' uploads (it presigns them and sees
        them arrive) and status documents (it creates and reads them)."""
        inputs, outputs = self.env.storage.input_prefix, self.env.storage.output_prefix
        self.input_bucket.grant_read_write(function, "predict-uploads", f"{inputs}{contract.SYNC_KEYS}")
        self.output_bucket.grant_read_write(function, "predict-results", f"{outputs}{contract.SYNC_KEYS}")
        self.input_bucket.grant_read_write(function, "job-uploads", f"{inputs}{contract.JOB_KEYS}")
        self.output_bucket.grant_read_write(function, "job-results", f"{outputs}{contract.JOB_KEYS}")
        self._grant_model(function)
        if self.key:
            self.key.grant_use(function)

    def _jobs(self) -> tuple[JobQueue, ContainerFunction]:
        """Uploads under the jobs prefix announce themselves to a queue; the worker consumes it and may
        read only jobs' uploads and write only jobs' results."""
        env, jobs = self.env, self.env.jobs
        queue = JobQueue(
            self,
            "job-queue",
            JobQueueProps(
                name=f"{env.resource_prefix}-jobs",
                visibility_timeout_s=jobs.visibility_timeout_s,
                max_receives=jobs.max_receives,
                kms_key_arn=self.kms_key_arn,
            ),
        )
        job_uploads = f"{env.storage.input_prefix}{contract.JOB_KEYS}"
        self.input_bucket.notify_queue(queue.arn, prefix=job_uploads, after=queue.allow_bucket(self.input_bucket.arn))
        worker = self._function(
            "worker-function",
            "worker",
            WORKER_HANDLER,
            memory_mb=jobs.worker_memory_mb,
            timeout_s=jobs.worker_timeout_s,
            ephemeral_storage_mb=jobs.worker_ephemeral_storage_mb,
            reserved_concurrency=jobs.worker_reserved_concurrency,
        )
        self.input_bucket.grant_read(worker, "job-uploads", job_uploads)
        self.output_bucket.grant_read_write(worker, "job-results", f"{env.storage.output_prefix}{contract.JOB_KEYS}")
        self._grant_model(worker)
        if self.key:
            self.key.grant_use(worker)  # S3 objects under SSE-KMS, and the queue's messages
        worker.add_sqs_source("job-messages", queue.arn, batch_size=jobs.batch_size)
        return queue, worker

    def _grant_model(self, function: ContainerFunction) -> None:
        """The model bucket's prefix, read-only, when the model comes from a bucket."""
        store = self.env.model_store
        if store.bucket:
            grant_on_prefix(
                function, "model-bucket", f"arn:aws:s3:::{store.bucket}", store.prefix, perms.S3_OBJECT_READ
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
            job_max_upload_bytes=env.jobs.max_upload_mb * 1_000_000,
            job_max_duration_s=env.jobs.max_duration_s,
            upload_url_expiry_s=env.jobs.upload_url_expiry_s,
            job_max_receives=env.jobs.max_receives,
        )
        return {
            **self.inference.to_environment(),
            env_names.INFERENCE_SETTINGS[("model", "artifact_uri")]: self._model_uri(),
            env_names.INFERENCE_SETTINGS[("inference", "precision")]: env.function.precision,
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
            kms_key_arn=self.kms_key_arn,
            binary_media_types=contract.BINARY_MEDIA_TYPES,
            cors_allow_headers=contract.CORS_ALLOW_HEADERS,
            gateway_responses=gateway_responses,
        )
        return RestApi(self, "rest-api", props)

    def _edge_protection(self) -> None:
        """A WAF web ACL on the stage where the environment switches it on (waf.enabled)."""
        env = self.env
        self.web_acl = None
        if env.waf.enabled:
            self.web_acl = WebAcl(
                self,
                "web-acl",
                props_from(
                    WebAclProps,
                    env.waf,
                    env,
                    name=f"{env.resource_prefix}-api",
                    stage_arn=self.api.stage.arn,
                    kms_key_arn=self.kms_key_arn,
                ),
            )

    def _observability(self) -> None:
        """Alarms to the environment's topic, and its dashboard, over the API, both functions and the queue."""
        functions = {"predict-function": self.predict_function, "worker-function": self.worker}
        api, queue = self.api, self.job_queue
        self.alarms = observability.alarms(
            self, self.env, kms_key_arn=self.kms_key_arn, api=api, functions=functions, queue=queue
        )
        self.dashboard = observability.dashboard(self, self.env, api=api, functions=functions, queue=queue)

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
        TerraformOutput(self, "jobs_url", value=api.url_for("/jobs"), description="POST a job for long audio here")
        TerraformOutput(self, "job_queue_url", value=self.job_queue.url)
        TerraformOutput(self, "job_dead_letter_queue_url", value=self.job_queue.dead_letter_queue.url)
        TerraformOutput(self, "worker_function_name", value=self.worker.function_name)
        TerraformOutput(self, "worker_log_group_name", value=self.worker.log_group.name)
        TerraformOutput(self, "alarm_topic_arn", value=self.alarms.topic.arn, description="Alarms notify this topic")
        TerraformOutput(self, "dashboard_name", value=self.dashboard.dashboard.dashboard_name)
        if self.web_acl is not None:
            TerraformOutput(self, "web_acl_arn", value=self.web_acl.web_acl.arn)
            TerraformOutput(self, "waf_log_group_name", value=self.web_acl.log_group.name)
