"""POST /jobs and GET /jobs/{job_id} on the resolver."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from contract import http as http_contract
from contract import metrics as metric_names
from service.http.responses import api_key_id, body_bytes, json_response, lower_case_headers, request_id
from service.jobs.requests import create_job, describe_job, parse_job_request, status_url_template

if TYPE_CHECKING:
    from service.service import Service


def add_job_routes(app: APIGatewayRestResolver, service: Service, *, logger: Logger, metrics: Metrics) -> None:
    limits = service.settings.jobs

    def queue_depth() -> tuple[int, int]:
        """(waiting, running) messages in the jobs queue, as SQS approximates them."""
        attributes = service.sqs.get_queue_attributes(
            QueueUrl=service.settings.job_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    @app.post(http_contract.CREATE_JOB.path)
    def create_job_route() -> Response[str]:
        event = app.current_event
        headers = lower_case_headers(app)
        request = parse_job_request(
            content_type=headers.get("content-type", ""),
            body=body_bytes(app),
            models=service.models,
            limits=limits,
        )
        template = status_url_template(event.raw_event.get("requestContext") or {}, event.path)
        created = create_job(
            request,
            limits=limits,
            store=service.jobs,
            s3=service.storage.s3,
            status_url=template,
            owner=api_key_id(app),
            admit=service.quotas.admit if service.quotas else None,
        )
        metrics.add_metric(name=metric_names.JOBS_CREATED, unit=MetricUnit.Count, value=1)
        logger.info("job created", extra={"job_id": created["job_id"]})
        return json_response(201, created, {"X-Request-Id": request_id(app), "Location": created["status_url"]})

    @app.get(http_contract.GET_JOB.path.replace("{job_id}", "<job_id>"))
    def get_job_route(job_id: str) -> Response[str]:
        view = describe_job(
            job_id,
            store=service.jobs,
            download_url=service.storage.download_url,
            caller=api_key_id(app),
            queue_depth=queue_depth if service.sqs is not None else None,
        )
        return json_response(200, view, {"X-Request-Id": request_id(app)})
