"""The API's routes on a Powertools REST resolver, and the one place errors become JSON.

`create_resolver` wires the plain functions (request parsing, prediction,
storage) to routes; the Lambda entry (`service.handler`) builds everything
once per container and only resolves events.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from inference import __version__ as runtime_version
from inference.config import InferenceConfig
from inference.transcriber import Transcriber
from service import contract, errors
from service.job_requests import create_job, describe_job, parse_job_request, status_url_template
from service.jobs import JobStore
from service.predict import run_predict
from service.predict_request import parse_predict_request
from service.settings import ServiceSettings
from service.storage import Storage

SERVICE_NAME = contract.SERVICE_NAME
METRICS_NAMESPACE = contract.METRICS_NAMESPACE
SERVICE_VERSION = runtime_version


@dataclass(frozen=True, kw_only=True)
class Service:
    """What the routes need, built once per container."""

    settings: ServiceSettings
    config: InferenceConfig
    transcriber: Transcriber
    storage: Storage
    jobs: JobStore

    @property
    def long_audio_hint(self) -> str:
        limits = self.config.audio
        return (
            f"synchronous requests take at most {limits.max_duration_s:g} s of audio and "
            f"{limits.max_upload_bytes:,} bytes: send longer recordings as a job (POST /jobs, then upload "
            "with the returned form and poll GET /jobs/{job_id})"
        )


def create_resolver(service: Service, *, logger: Logger, metrics: Metrics) -> APIGatewayRestResolver:
    origins = list(service.settings.cors_allowed_origins)
    cors = CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:],
        allow_headers=list(contract.CORS_ALLOW_HEADERS),
        expose_headers=["Content-Disposition", "X-Request-Id"],
        max_age=contract.CORS_MAX_AGE_S,
    )
    app = APIGatewayRestResolver(cors=cors)

    def request_id() -> str:
        return str(app.current_event.request_context.request_id or "unknown")

    @app.post(contract.PREDICT.path)
    def predict() -> Response[str]:
        event = app.current_event
        request = parse_predict_request(
            headers={k.lower(): v for k, v in (event.headers or {}).items()},
            query=dict(event.multi_value_query_string_parameters or {}),
            body=_body_bytes(event.body, bool(event.is_base64_encoded)),
            defaults=service.config.inference,
            max_upload_bytes=service.config.audio.max_upload_bytes,
            long_audio_hint=service.long_audio_hint,
        )
        outcome = run_predict(
            request,
            request_id=request_id(),
            transcriber=service.transcriber,
            storage=service.storage,
            long_audio_hint=service.long_audio_hint,
        )
        metrics.add_metric(name="AudioSeconds", unit=MetricUnit.Seconds, value=outcome.audio_seconds)
        metrics.add_metric(name="InferenceSeconds", unit=MetricUnit.Seconds, value=outcome.inference_seconds)
        if outcome.audio_seconds > 0:
            real_time_factor = outcome.inference_seconds / outcome.audio_seconds
            metrics.add_metric(name="RealTimeFactor", unit=MetricUnit.NoUnit, value=real_time_factor)
        logger.info(
            "transcribed",
            extra={
                "notes": len(outcome.document["notes"]),
                "audio_seconds": outcome.audio_seconds,
                "inference_seconds": round(outcome.inference_seconds, 3),
            },
        )
        headers = {"X-Request-Id": outcome.request_id}
        if request.wants_midi:
            stem = (request.filename or outcome.request_id).rsplit(".", 1)[0].replace('"', "")
            headers["Content-Disposition"] = f'attachment; filename="{stem}.mid"'
            return Response(status_code=200, content_type="audio/midi", body=outcome.midi, headers=headers)  # type: ignore[arg-type]
        return _json(200, outcome.to_response(), headers)

    @app.get(contract.HEALTH.path)
    def health() -> Response[str]:
        model = service.transcriber.model.describe()
        return _json(
            200,
            {
                "status": "ok",
                "model": {"name": model.name, "version": model.version, "sha256": model.sha256},
                "service_version": SERVICE_VERSION,
            },
            {"X-Request-Id": request_id()},
        )

    @app.post(contract.CREATE_JOB.path)
    def create_job_route() -> Response[str]:
        event = app.current_event
        headers = {k.lower(): v for k, v in (event.headers or {}).items()}
        request = parse_job_request(
            content_type=headers.get("content-type", ""),
            body=_body_bytes(event.body, bool(event.is_base64_encoded)),
            defaults=service.config.inference,
            max_upload_bytes=service.settings.job_max_upload_bytes,
        )
        template = status_url_template(headers, event.raw_event.get("requestContext") or {}, event.path)
        created = create_job(
            request, store=service.jobs, s3=service.storage.s3, status_url=template, owner=_api_key_id(event.raw_event)
        )
        metrics.add_metric(name="JobsCreated", unit=MetricUnit.Count, value=1)
        logger.info("job created", extra={"job_id": created["job_id"]})
        return _json(201, created, {"X-Request-Id": request_id(), "Location": created["status_url"]})

    @app.get(contract.GET_JOB.path.replace("{job_id}", "<job_id>"))
    def get_job_route(job_id: str) -> Response[str]:
        view = describe_job(
            job_id,
            store=service.jobs,
            download_url=service.storage.download_url,
            caller=_api_key_id(app.current_event.raw_event),
        )
        return _json(200, view, {"X-Request-Id": request_id()})

    @app.exception_handler(errors.ApiError)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
    def refused(exc: errors.ApiError) -> Response[str]:
        logger.info("refused", extra={"status": exc.status, "code": exc.code, "reason": exc.message})
        return error_response(exc, request_id())

    @app.not_found
    def no_route(_: NotFoundError) -> Response[str]:
        event = app.current_event
        methods = sorted(r.method for r in contract.ROUTES if re.match(contract.route_pattern(r.path), event.path))
        if methods and event.http_method not in methods:
            exc = errors.method_not_allowed(
                f"{event.http_method} is not allowed on {event.path}: use {', '.join(methods)}"
            )
            response = error_response(exc, request_id())
            response.headers["Allow"] = ", ".join([*methods, "OPTIONS"])
            return response
        # No route, or a path parameter the route cannot take (a job id with characters ids never have).
        return error_response(
            errors.not_found(f"nothing at {event.http_method} {event.path} (see openapi.yaml)"), request_id()
        )

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def unexpected(exc: Exception) -> Response[str]:
        logger.exception("unexpected error")  # the traceback goes to the log, never to the client
        return error_response(errors.internal_error(), request_id())

    def error_response(exc: errors.ApiError, rid: str) -> Response[str]:
        with single_metric(
            name=contract.ERRORS_METRIC, unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE
        ) as metric:
            metric.add_dimension(name="service", value=SERVICE_NAME)
            metric.add_dimension(name=contract.ENVIRONMENT_DIMENSION, value=service.settings.environment)
            metric.add_dimension(name="code", value=exc.code)
        return _json(exc.status, contract.error_body(exc.code, exc.message, rid), {"X-Request-Id": rid})

    return app


def _json(status: int, body: dict[str, Any], headers: dict[str, str]) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers=dict(headers),
    )


def _body_bytes(body: str | None, is_base64: bool) -> bytes:
    """The request body as bytes: API Gateway base64-encodes the binary media types, passes text otherwise."""
    if body is None:
        return b""
    if not is_base64:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except ValueError:
        raise errors.bad_request("the request body is not valid base64 although marked so") from None


def _api_key_id(event: dict[str, Any]) -> str | None:
    """The id of the API key API Gateway checked for this request (never the key itself); None when the
    route asks for none."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    key_id = identity.get("apiKeyId")
    return str(key_id) if key_id else None
