"""inference-<env>: storage, the functions, and the REST API in front of them."""

from __future__ import annotations

import json
from dataclasses import replace

from cdktf import Postcondition, TerraformOutput, TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.data_aws_ssm_parameters_by_path import DataAwsSsmParametersByPath
from constructs import Construct

from config.schema import EnvironmentConfig, release_pointer_missing
from contract import env_names, object_keys
from contract import http as http_contract
from contract.validation import ConfigError
from inference import __version__ as inference_version
from inference.config import InferenceConfig
from inference.models.registry import pinned_artifact
from infra_constructs import perms
from infra_constructs.container_function import ContainerFunction, ContainerFunctionProps
from infra_constructs.image_repository import repository_url
from infra_constructs.job_queue import JobQueue, JobQueueProps
from infra_constructs.rest_api import ConsumerPlan, GatewayResponse, RestApi, RestApiProps
from infra_constructs.secure_bucket import (
    SecureBucket,
    SecureBucketProps,
    grant_list,
    grant_on_keys,
    grant_on_prefix,
)
from infra_constructs.service_role import permissions_boundary_arn
from infra_constructs.web_acl import WebAcl, WebAclProps
from stacks import observability
from stacks.base import EnvironmentStack, encryption_key

RELEASE_DIGEST_PATTERN = "^sha256:[0-9a-f]{64}$"
API_HANDLER = ("service.handler.handler",)
"""The image command of the function behind the API (module.function, as Lambda resolves it)."""
WORKER_HANDLER = ("service.worker.handler",)
"""The jobs worker's image command: the same image, its own handler."""
DRAINER_HANDLER = ("service.dead_letters.handler",)
"""The dead-letter drainer's image command."""
DRAINER_CONCURRENCY = 2
"""The drainer's reserved concurrency and its mapping's maximum: the same (AWS's minimum, 2), so it is
never throttled; each invocation takes up to 10 dead letters, a status write each."""


class InferenceStack(EnvironmentStack):
    """Built from one environment's settings and the inference config the functions run with."""

    def __init__(self, scope: Construct, env: EnvironmentConfig, inference: InferenceConfig) -> None:
        super().__init__(scope, env.stack_name, env)
        self.inference = inference
        self._release_pointer: DataAwsSsmParametersByPath | None = None
        self.key = encryption_key(self, env, for_bucket_notifications=True, for_alarm_notifications=True)
        self.kms_key_arn = self.key.arn if self.key else None
        self.input_bucket, self.output_bucket = self._storage()
        self.repository_url = repository_url(self, repository_name=env.repository_name, region=env.region)
        # Every role of the stack carries the boundary `make bootstrap` puts in the deploying account.
        self.permissions_boundary_arn = permissions_boundary_arn(self, env.permissions_boundary_name)
        function = env.function
        self.job_queue = self._queue()  # first: every function is told its URL
        self.predict_function = self._function(
            "inference-function",
            "predict",
            API_HANDLER,
            memory_mb=function.memory_mb,
            timeout_s=function.timeout_s,
            ephemeral_storage_mb=function.ephemeral_storage_mb,
            reserved_concurrency=function.reserved_concurrency,
        )
        self._grant_api_storage(self.predict_function)
        self.worker = self._jobs(self.job_queue)
        self.api = self._api()
        if self.key:
            self.key.allow_log_group(self.api.execution_log_group_name)
        for route in http_contract.ROUTES:
            if route == http_contract.HEALTH:  # answered by API Gateway: /health cannot drain the function
                self.api.add_mock_route(route.method, route.path, body=self._health_answer(), api_key_required=False)
                continue
            self.api.add_route(
                route.method, route.path, self.predict_function, api_key_required=False if route.public else None
            )
        self._edge_protection()
        self._observability()
        self._outputs()

    def _storage(self) -> tuple[SecureBucket, SecureBucket]:
        """Uploads (expire) and results (versioned); private, encrypted, TLS-only, CORS for the page."""
        env, storage = self.env, self.env.storage
        shared = SecureBucketProps(
            name_prefix=f"{env.resource_prefix}-",
            abort_incomplete_multipart_days=storage.abort_incomplete_multipart_days,
            force_destroy=storage.force_destroy,
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
                expire_prefix=storage.output_prefix,
                expire_after_days=storage.output_expiry_days,
                versioned=True,
                noncurrent_expiry_days=storage.output_noncurrent_expiry_days,
                cors_allowed_methods=("GET",),
            ),
        )
        return uploads, results

    def _function(
        self,
        id_: str,
        name: str,
        image_command: tuple[str, ...],
        *,
        memory_mb: int,
        timeout_s: int,
        ephemeral_storage_mb: int,
        reserved_concurrency: int,
    ) -> ContainerFunction:
        """A function from the environment's image; its size from the caller, grants are the caller's."""
        env, settings = self.env, self.env.function
        image = f"@{self._image_digest()}"
        function = ContainerFunction(
            self,
            id_,
            ContainerFunctionProps(
                function_name=f"{env.resource_prefix}-{name}",
                image_uri=f"{self.repository_url}{image}",
                image_command=image_command,
                memory_mb=memory_mb,
                timeout_s=timeout_s,
                ephemeral_storage_mb=ephemeral_storage_mb,
                architecture=settings.architecture,
                reserved_concurrency=reserved_concurrency,
                log_retention_days=env.log_retention_days,
                kms_key_arn=self.kms_key_arn,
                permissions_boundary_arn=self.permissions_boundary_arn,
                environment=self._function_environment(),
            ),
        )
        return function

    def _image_digest(self) -> str:
        """The digest both functions run: the synth-time pin (INFERENCE_IMAGE_DIGEST or function.image_digest)
        or else the environment's release pointer, read at plan time in the deploying account, so a
        by-hand `cdktf deploy`/`cdktf diff` runs what `make deploy` or `make rollback` recorded. No pointer
        and no pin: the plan stops with one line naming what to run. Never a tag."""
        if self.env.function.image_digest:
            return self.env.function.image_digest
        if self._release_pointer is None:
            env = self.env
            self._release_pointer = DataAwsSsmParametersByPath(
                self,
                "release-pointer",
                path=env.release_path,
                lifecycle=TerraformResourceLifecycle(
                    postcondition=[
                        Postcondition(
                            condition=(
                                f"${{length(self.names) == 1 && "
                                f'can(regex("{RELEASE_DIGEST_PATTERN}", nonsensitive(one(self.values))))}}'
                            ),
                            error_message=release_pointer_missing(env),
                        )
                    ]
                ),
            )
        # SSM's values are marked sensitive; a digest is not a secret (the plan shows which image it runs).
        return f"${{nonsensitive(one({self._release_pointer.fqn}.values))}}"

    def _grant_api_storage(self, function: ContainerFunction) -> None:
        """What the API's code calls, no more: it writes synchronous uploads and results and links to
        the results; it presigns jobs' uploads (a presigned POST acts as the role) and lists them to see
        them arrive; it writes and reads jobs' status documents and links to their results, which only
        the worker writes."""
        inputs, outputs = self.env.storage.input_prefix, self.env.storage.output_prefix
        input_arn, output_arn = self.input_bucket.arn, self.output_bucket.arn
        grant_on_keys(
            function, "predict-uploads-objects", input_arn, f"{inputs}{object_keys.SYNC_KEYS}*", perms.S3_OBJECT_PUT
        )
        grant_on_keys(
            function,
            "predict-results-objects",
            output_arn,
            f"{outputs}{object_keys.SYNC_KEYS}*",
            perms.S3_OBJECT_PUT + perms.S3_OBJECT_GET,
        )
        grant_on_keys(
            function, "job-uploads-objects", input_arn, f"{inputs}{object_keys.JOB_KEYS}*", perms.S3_OBJECT_PUT
        )
        grant_list(function, "job-uploads-list", input_arn, f"{inputs}{object_keys.JOB_KEYS}")
        grant_on_keys(
            function, "job-results-objects", output_arn, f"{outputs}{object_keys.JOB_KEYS}*", perms.S3_OBJECT_GET
        )
        grant_list(function, "job-results-list", output_arn, f"{outputs}{object_keys.JOB_KEYS}")
        grant_on_keys(
            function,
            "job-status-objects",
            output_arn,
            f"{outputs}{object_keys.JOB_KEYS}*/{object_keys.JOB_STATUS_DOCUMENT}",
            perms.S3_OBJECT_PUT,
        )
        # Per-key job limits: each key's ledger, its key's consumer (make keys names it), the queue's depth.
        grant_on_keys(
            function,
            "job-ledgers-objects",
            output_arn,
            f"{outputs}{object_keys.JOB_KEYS}{object_keys.JOB_LEDGERS}*",
            perms.S3_OBJECT_PUT + perms.S3_OBJECT_GET,
        )
        grant_on_keys(
            function,
            "key-consumers-objects",
            output_arn,
            f"{outputs}{object_keys.JOB_KEYS}{object_keys.KEY_CONSUMERS}*",
            perms.S3_OBJECT_GET,
        )
        function.role.grant("job-queue-depth", perms.SQS_DEPTH, [self.job_queue.arn])
        self._grant_model(function)
        if self.key:
            self.key.grant_use(function, via=("s3",), region=self.env.region)

    def _queue(self) -> JobQueue:
        env, jobs = self.env, self.env.jobs
        return JobQueue(
            self,
            "job-queue",
            JobQueueProps(
                name=f"{env.resource_prefix}-jobs",
                visibility_timeout_s=jobs.visibility_timeout_s,
                max_receives=jobs.max_receives,
                retention_s=jobs.queue_retention_s,
                dead_letter_visibility_timeout_s=jobs.dead_letter_visibility_timeout_s,
                notifying_bucket_arn=self.input_bucket.arn,
                kms_key_arn=self.kms_key_arn,
            ),
        )

    def _jobs(self, queue: JobQueue) -> ContainerFunction:
        """Uploads under the jobs prefix announce themselves to the queue; the worker consumes it and may
        read only jobs' uploads and write only jobs' results."""
        env, jobs = self.env, self.env.jobs
        job_uploads = f"{env.storage.input_prefix}{object_keys.JOB_KEYS}"
        self.input_bucket.notify_queue(queue.arn, prefix=job_uploads, after=queue.policy)
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
        self._grant_job_writes(worker, "job-results", results=True)
        self._grant_model(worker)
        if self.key:
            self.key.grant_use(worker, via=("s3", "sqs"), region=env.region)  # objects under SSE-KMS; messages
        worker.add_sqs_source(
            "job-messages", queue.arn, batch_size=jobs.batch_size, maximum_concurrency=jobs.queue_max_concurrency
        )
        self.drainer = self._drainer(queue)
        return worker

    def _grant_job_writes(self, function: ContainerFunction, name: str, *, results: bool) -> None:
        """What the worker (`results`) or the drainer reads and writes under the jobs' output prefix: it reads
        all of it, but writes only jobs' status documents, their results and the keys' ledgers (a finished
        job is charged). Never the consumer documents `make keys` writes: a worker decoding hostile media
        must not be able to raise a key's limits."""
        jobs = f"{self.env.storage.output_prefix}{object_keys.JOB_KEYS}"
        self.output_bucket.grant_read(function, name, jobs)
        writes = [f"{jobs}*/{object_keys.JOB_STATUS_DOCUMENT}", f"{jobs}{object_keys.JOB_LEDGERS}*"]
        if results:
            writes.append(f"{jobs}*/{object_keys.JOB_RESULT_STEM}.*")
        function.role.grant(
            f"{name}-writes", perms.S3_OBJECT_WRITE, [f"{self.output_bucket.arn}/{key}" for key in writes]
        )

    def _drainer(self, queue: JobQueue) -> ContainerFunction:
        """The dead-letter queue's consumer: marks each dead letter's job failed with the reason (throttled,
        killed, timed out) and keeps its upload, so no job reads `queued` or `running` for ever. It loads no
        model; it reads jobs' uploads' metadata and reads and writes jobs' status documents."""
        env, jobs = self.env, self.env.jobs
        drainer = self._function(
            "dead-letter-function",
            "dead-letters",
            DRAINER_HANDLER,
            memory_mb=jobs.drainer_memory_mb,
            timeout_s=jobs.drainer_timeout_s,
            ephemeral_storage_mb=512,  # Lambda's minimum: it writes nothing to /tmp
            reserved_concurrency=DRAINER_CONCURRENCY,
        )
        # It reads an upload's metadata (is it the job's own?) and the jobs' status documents, and writes them.
        self.input_bucket.grant_read(drainer, "job-uploads", f"{env.storage.input_prefix}{object_keys.JOB_KEYS}")
        self._grant_job_writes(drainer, "job-status", results=False)
        if self.key:
            self.key.grant_use(drainer, via=("s3", "sqs"), region=env.region)
        drainer.add_sqs_source(
            "dead-letters", queue.dead_letter_arn, batch_size=10, maximum_concurrency=DRAINER_CONCURRENCY
        )
        return drainer

    def _grant_model(self, function: ContainerFunction) -> None:
        """The model bucket's prefix, read-only, when the model comes from a bucket."""
        store = self.env.model_store
        if store.bucket:
            grant_on_prefix(
                function, "model-bucket", f"arn:aws:s3:::{store.bucket}", store.prefix, perms.S3_OBJECT_READ
            )

    def _function_environment(self) -> dict[str, str]:
        """Every inference setting (from the config file) and every service setting, as variables."""
        service = self.env.service_settings(
            input_bucket=self.input_bucket.name, output_bucket=self.output_bucket.name, job_queue_url=self.job_queue.url
        )
        return {
            **self.inference.to_environment(),
            env_names.INFERENCE_SETTINGS[("model", "artifact_uri")]: self._model_uri(),
            env_names.INFERENCE_SETTINGS[("inference", "precision")]: self.env.function.precision,
            env_names.INFERENCE_SETTINGS[("model", "served")]: ",".join(self._served_models()),
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

    def _served_models(self) -> tuple[str, ...]:
        return self.env.served_models(self.inference.model.name)

    def _health_answer(self) -> str:
        """GET /health's body, the function's own answer as this stack deploys it: the pinned models the
        image carries and the runtime's version (the image is built from this tree)."""
        model = self.inference.model
        listed = []
        for name in self._served_models():
            version = model.version if name == model.name else None
            pinned = pinned_artifact(name, version)
            if pinned is None:
                raise ConfigError(
                    "model.version", model.version, f"a pinned version of {name} (GET /health names its sha256)"
                )
            listed.append({"name": name, "version": pinned.version, "sha256": pinned.sha256})
        return json.dumps({"status": "ok", "model": listed[0], "models": listed, "service_version": inference_version})

    def _api(self) -> RestApi:
        env = self.env
        gateway_responses = tuple(
            GatewayResponse(
                response_type=kind, status_code=error.status, body_template=http_contract.gateway_error_template(error)
            )
            for kind, error in http_contract.GATEWAY_ERRORS.items()
        )
        api = env.api
        props = RestApiProps(
            api_name=f"{env.resource_prefix}-api",
            title="Audio inference",
            stage_name=api.stage_name,
            cors_allowed_origins=api.cors_allowed_origins,
            api_key_required=api.api_key_required,
            throttle_rate_limit=api.throttle_rate_limit,
            throttle_burst_limit=api.throttle_burst_limit,
            quota_limit=api.quota_limit,
            quota_period=api.quota_period,
            stage_throttle_rate_limit=api.stage_throttle_rate_limit,
            stage_throttle_burst_limit=api.stage_throttle_burst_limit,
            log_retention_days=env.log_retention_days,
            custom_domain=api.custom_domain,
            certificate_arn=api.certificate_arn,
            manage_account_logging_role=api.manage_account_logging_role,
            kms_key_arn=self.kms_key_arn,
            permissions_boundary_arn=self.permissions_boundary_arn,
            binary_media_types=http_contract.BINARY_MEDIA_TYPES,
            consumer_plans=tuple(
                ConsumerPlan(
                    name=consumer.name,
                    throttle_rate_limit=rate,
                    throttle_burst_limit=burst,
                    quota_limit=quota,
                )
                for consumer in api.consumers
                for rate, burst, quota in (api.limits_of(consumer),)
            ),
            cors_allow_headers=http_contract.CORS_ALLOW_HEADERS,
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
                WebAclProps(
                    name=f"{env.resource_prefix}-api",
                    stage_arn=self.api.stage.arn,
                    region=env.region,
                    rate_limit_per_5_min=env.waf.rate_limit_per_5_min,
                    log_retention_days=env.log_retention_days,
                    predict_path=http_contract.PREDICT.path,
                    predict_max_body_bytes=self.inference.audio.max_upload_bytes,
                    kms_key_arn=self.kms_key_arn,
                ),
            )

    def _observability(self) -> None:
        """Alarms to the environment's topic, and its dashboard, over the API, both functions and the queue."""
        functions = {
            "predict-function": self.predict_function,
            "worker-function": self.worker,
            "dead-letter-function": self.drainer,
        }
        api, queue = self.api, self.job_queue
        self.alarms = observability.alarms(
            self, self.env, kms_key_arn=self.kms_key_arn, api=api, functions=functions, queue=queue
        )
        self.dashboard = observability.dashboard(self, self.env, api=api, functions=functions, queue=queue)

    def _outputs(self) -> None:
        api, function = self.api, self.predict_function
        TerraformOutput(self, "predict_url", value=api.url_for("/predict"), description="POST multipart audio here")
        if api.usage_plans:
            # Key values never pass through state: `make keys` makes them (operations/keys.py).
            TerraformOutput(
                self,
                "usage_plan_ids",
                value={name: plan.id for name, plan in api.usage_plans.items()},
                description="Each consumer's usage plan (make keys attaches the consumer's keys to it)",
            )
        if api.domain is not None:
            TerraformOutput(
                self,
                "custom_domain_target",
                value=api.domain.regional_domain_name,
                description="Point the custom domain's DNS (CNAME or alias) here",
            )
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
        TerraformOutput(self, "dead_letter_function_name", value=self.drainer.function_name)
        TerraformOutput(self, "alarm_topic_arn", value=self.alarms.topic.arn, description="Alarms notify this topic")
        TerraformOutput(self, "dashboard_name", value=self.dashboard.dashboard.dashboard_name)
        if self.web_acl is not None:
            TerraformOutput(self, "web_acl_arn", value=self.web_acl.web_acl.arn)
            TerraformOutput(self, "waf_log_group_name", value=self.web_acl.log_group.name)
