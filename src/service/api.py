"""The API on a Powertools REST resolver: each feature adds its routes, and errors become JSON here.

`create_resolver` takes what the routes need (`service.service.Service`), lets the features add
their routes (`service.predict.route`, `service.jobs.routes`), answers
GET /health itself, and renders every refusal in one place. The Lambda entry
(`service.handler`) builds everything once per container and only resolves events.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from contract import http as http_contract
from contract import metrics as metric_names
from inference import __version__ as runtime_version
from inference.transcriber import Transcriber
from service.http import errors
from service.http.responses import json_response, request_id
from service.jobs.routes import add_job_routes
from service.predict.route import add_predict_route
from service.service import Service

SERVICE_VERSION = runtime_version


def create_resolver(service: Service, *, logger: Logger, metrics: Metrics) -> APIGatewayRestResolver:
    origins = list(service.settings.cors_allowed_origins)
    cors = CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:],
        allow_headers=list(http_contract.CORS_ALLOW_HEADERS),
        expose_headers=["Content-Disposition", "X-Request-Id"],
        max_age=http_contract.CORS_MAX_AGE_S,
    )
    app = APIGatewayRestResolver(cors=cors)

    add_predict_route(app, service, logger=logger, metrics=metrics)
    add_job_routes(app, service, logger=logger, metrics=metrics)

    @app.get(http_contract.HEALTH.path)
    def health() -> Response[str]:
        return json_response(200, health_document(service.models), {"X-Request-Id": request_id(app)})

    @app.exception_handler(errors.ApiError)  # type: ignore[untyped-decorator]  # Powertools leaves it untyped
    def refused(exc: errors.ApiError) -> Response[str]:
        logger.info("refused", extra={"status": exc.status, "code": exc.code, "reason": exc.message})
        return error_response(exc, request_id(app))

    @app.not_found
    def no_route(_: NotFoundError) -> Response[str]:
        event = app.current_event
        methods = sorted(
            r.method for r in http_contract.ROUTES if re.match(http_contract.route_pattern(r.path), event.path)
        )
        if methods and event.http_method not in methods:
            exc = errors.method_not_allowed(
                f"{event.http_method} is not allowed on {event.path}: use {', '.join(methods)}"
            )
            response = error_response(exc, request_id(app))
            response.headers["Allow"] = ", ".join([*methods, "OPTIONS"])
            return response
        # No route, or a path parameter the route cannot take (a job id with characters ids never have).
        return error_response(
            errors.not_found(f"nothing at {event.http_method} {event.path} (see openapi.yaml)"), request_id(app)
        )

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def unexpected(exc: Exception) -> Response[str]:
        logger.exception("unexpected error")  # the traceback goes to the log, never to the client
        return error_response(errors.internal_error(), request_id(app))

    def error_response(exc: errors.ApiError, rid: str) -> Response[str]:
        with single_metric(
            name=metric_names.ERRORS_METRIC, unit=MetricUnit.Count, value=1, namespace=metric_names.METRICS_NAMESPACE
        ) as metric:
            metric.add_dimension(name="service", value=metric_names.SERVICE_NAME)
            metric.add_dimension(name=metric_names.ENVIRONMENT_DIMENSION, value=service.settings.environment)
            metric.add_dimension(name="code", value=exc.code)
        return json_response(
            exc.status, http_contract.error_body(exc.code, exc.message, rid), {"X-Request-Id": rid, **exc.headers}
        )

    return app


def health_document(models: Mapping[str, Transcriber]) -> dict[str, object]:
    """GET /health: the default model, then every served model with its version and checksum."""
    described = [transcriber.model.describe() for transcriber in models.values()]
    listed = [{"name": d.name, "version": d.version, "sha256": d.sha256} for d in described]
    return {"status": "ok", "model": listed[0], "models": listed, "service_version": SERVICE_VERSION}
