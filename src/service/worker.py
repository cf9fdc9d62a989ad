"""Lambda entry point of the jobs worker (image command `service.worker.handler`): SQS batches of S3
`ObjectCreated` messages, with partial batch failure reporting.

Built once per container, like the API's: logger, metrics, tracer, S3 client, the Transcriber, the
batch processor. Each record is one S3 notification: S3's test event is acknowledged, keys are
URL-decoded, and each upload runs as a job (`service.jobs.runner`). A record that raises is reported
back as a batch item failure, so only it is retried.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from contract import metrics as metric_names
from contract.settings import ServiceSettings
from inference.config import load_config
from inference.transcriber import load_models
from service.jobs.messages import uploaded_keys
from service.jobs.quotas import Quotas
from service.jobs.runner import run_job
from service.jobs.store import JobStore
from service.json_stderr import ON_LAMBDA, route_stderr_to

logger = Logger(service=metric_names.WORKER_SERVICE_NAME)
metrics = Metrics(namespace=metric_names.METRICS_NAMESPACE, service=metric_names.WORKER_SERVICE_NAME)
tracer = Tracer(service=metric_names.WORKER_SERVICE_NAME)

settings = ServiceSettings.from_environment(os.environ)
metrics.set_default_dimensions(**{metric_names.ENVIRONMENT_DIMENSION: settings.environment})
s3 = boto3.client("s3", config=Config(signature_version="s3v4", retries={"mode": "standard", "max_attempts": 5}))
models = load_models(load_config(), s3_client=s3)  # jobs pass their own duration limit per file
store = JobStore(s3, settings)
quotas = Quotas(s3, settings, store)
processor = BatchProcessor(event_type=EventType.SQS)
FINAL_STATUS_METRICS = {"succeeded": metric_names.JOBS_SUCCEEDED, "failed": metric_names.JOBS_FAILED}
logger.setLevel(settings.log_level)
if ON_LAMBDA in os.environ:  # the local server routes its own process's stderr (emulation.local_server)
    route_stderr_to(logger)


def record_handler(record: SQSRecord) -> None:
    receive_count = int(record.attributes.approximate_receive_count or 1)
    for key in uploaded_keys(record.body):
        outcome = run_job(key, receive_count=receive_count, store=store, s3=s3, models=models, logger=logger)
        if outcome is not None and outcome.audio_seconds:
            metrics.add_metric(
                name=metric_names.JOB_AUDIO_SECONDS, unit=MetricUnit.Seconds, value=outcome.audio_seconds
            )
            metrics.add_metric(
                name=metric_names.JOB_INFERENCE_SECONDS, unit=MetricUnit.Seconds, value=outcome.inference_seconds
            )
        if outcome is not None and outcome.status in FINAL_STATUS_METRICS:
            metrics.add_metric(name=FINAL_STATUS_METRICS[outcome.status], unit=MetricUnit.Count, value=1)
            # The job leaves its key's jobs in flight; a succeeded one's audio counts toward the key's day.
            quotas.charge(outcome.owner, outcome.job_id, outcome.audio_seconds)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)  # as the API handler: traces keep no answers
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name=metric_names.JOB_MESSAGES, unit=MetricUnit.Count, value=len(event.get("Records", [])))
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
