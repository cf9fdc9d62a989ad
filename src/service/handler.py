"""Lambda entry point for API Gateway REST proxy events (image command `service.handler.handler`).

Everything expensive is built once per container, at import: logger, metrics,
tracer, the S3 client, the Transcriber (model artifact verified, ONNX session
loaded) and the resolver. The entry point only resolves the event.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from contract import metrics as metric_names
from contract.settings import ServiceSettings
from inference.config import load_config
from inference.transcriber import load_models
from service.api import create_resolver
from service.jobs.quotas import Consumers, Quotas
from service.jobs.store import JobStore
from service.json_stderr import ON_LAMBDA, route_stderr_to
from service.service import Service
from service.storage import Storage

logger = Logger(service=metric_names.SERVICE_NAME)
metrics = Metrics(namespace=metric_names.METRICS_NAMESPACE, service=metric_names.SERVICE_NAME)
tracer = Tracer(service=metric_names.SERVICE_NAME)

settings = ServiceSettings.from_environment(os.environ)
s3 = boto3.client("s3", config=Config(signature_version="s3v4", retries={"mode": "standard", "max_attempts": 3}))
config = load_config()
jobs = JobStore(s3, settings)
service = Service(
    settings=settings,
    config=config,
    models=load_models(config, s3_client=s3),
    storage=Storage(s3, settings),
    jobs=jobs,
    quotas=Quotas(s3, settings, jobs, Consumers(s3, settings)),
    sqs=boto3.client("sqs") if settings.job_queue_url else None,
)
metrics.set_default_dimensions(**{metric_names.ENVIRONMENT_DIMENSION: settings.environment})
app = create_resolver(service, logger=logger, metrics=metrics)
logger.setLevel(settings.log_level)
if ON_LAMBDA in os.environ:  # the local server routes its own process's stderr (emulation.local_server)
    route_stderr_to(logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)  # answers hold presigned links and whole transcriptions
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name=metric_names.REQUESTS, unit=MetricUnit.Count, value=1)
    result: dict[str, Any] = app.resolve(event, context)
    return result
