"""Lambda entry point of the dead-letter drainer (image command `service.dead_letters.handler`): SQS
batches from the jobs' dead-letter queue.

A message reaches the dead-letter queue after `jobs.max_receives` deliveries that did not finish: the
worker failed, was killed or timed out, or was never run at all (throttled invocations count as
receives). The worker marks a job failed on its own last failing attempt; for every other way the
drainer does, with the reason, so no job reads `queued` or `running` until its documents expire. The
upload is kept. A record that raises is reported back and comes again after the visibility timeout;
the dead-letter queue's age alarm says when that goes on. No model is loaded: it starts in a second.
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
from service.jobs.messages import uploaded_keys
from service.jobs.quotas import Quotas
from service.jobs.runner import settle_dead_letter
from service.jobs.store import JobStore

logger = Logger(service=metric_names.WORKER_SERVICE_NAME)
metrics = Metrics(namespace=metric_names.METRICS_NAMESPACE, service=metric_names.WORKER_SERVICE_NAME)
tracer = Tracer(service=metric_names.WORKER_SERVICE_NAME)

settings = ServiceSettings.from_environment(os.environ)
metrics.set_default_dimensions(**{metric_names.ENVIRONMENT_DIMENSION: settings.environment})
s3 = boto3.client("s3", config=Config(signature_version="s3v4", retries={"mode": "standard", "max_attempts": 5}))
store = JobStore(s3, settings)
quotas = Quotas(s3, settings, store)
processor = BatchProcessor(event_type=EventType.SQS)
logger.setLevel(settings.log_level)


def record_handler(record: SQSRecord) -> None:
    for key in uploaded_keys(record.body):
        before = store.read(job_id) if (job_id := store.job_id_of(key)) else None
        outcome = settle_dead_letter(key, s3=s3, store=store, logger=logger)
        was_open = before is not None and before[0].status not in ("succeeded", "failed")
        if outcome is not None and outcome.status == "failed" and was_open:
            metrics.add_metric(name=metric_names.JOBS_FAILED, unit=MetricUnit.Count, value=1)
            quotas.charge(outcome.owner, outcome.job_id, 0.0)  # it no longer counts among its key's jobs


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
