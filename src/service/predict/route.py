"""POST /predict on the resolver: parse, transcribe, store, answer JSON or the MIDI file."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from contract import http as http_contract
from contract import metrics as metric_names
from service.http.responses import (
    ANSWER_LIMIT_BYTES,
    answer_bytes,
    attachment,
    body_bytes,
    download_stem,
    json_response,
    lower_case_headers,
    request_id,
)
from service.predict.request import parse_predict_request
from service.predict.run import run_predict

if TYPE_CHECKING:
    from service.service import Service


def add_predict_route(app: APIGatewayRestResolver, service: Service, *, logger: Logger, metrics: Metrics) -> None:
    @app.post(http_contract.PREDICT.path)
    def predict() -> Response[str]:
        event = app.current_event
        request = parse_predict_request(
            headers=lower_case_headers(app),
            query=dict(event.multi_value_query_string_parameters or {}),
            body=body_bytes(app),
            models=service.models,
            max_upload_bytes=service.config.audio.max_upload_bytes,
            long_audio_hint=service.long_audio_hint,
        )
        outcome = run_predict(
            request,
            request_id=request_id(app),
            transcriber=service.models[request.model],
            storage=service.storage,
            long_audio_hint=service.long_audio_hint,
        )
        metrics.add_metric(name=metric_names.AUDIO_SECONDS, unit=MetricUnit.Seconds, value=outcome.audio_seconds)
        metrics.add_metric(
            name=metric_names.INFERENCE_SECONDS, unit=MetricUnit.Seconds, value=outcome.inference_seconds
        )
        if outcome.audio_seconds > 0:
            real_time_factor = outcome.inference_seconds / outcome.audio_seconds
            metrics.add_metric(name=metric_names.REAL_TIME_FACTOR, unit=MetricUnit.NoUnit, value=real_time_factor)
        logger.info(
            "transcribed",
            extra={
                "model": request.model,
                **outcome.summary,
                "audio_seconds": outcome.audio_seconds,
                "inference_seconds": round(outcome.inference_seconds, 3),
            },
        )
        headers = {"X-Request-Id": outcome.request_id}
        if request.wants_midi:
            assert outcome.midi is not None  # parse_predict_request refuses audio/midi for a model without notes
            size = answer_bytes(outcome.midi, binary=True)
            if size > ANSWER_LIMIT_BYTES and outcome.midi_url:
                # Computed and stored: point at it rather than fail (a 502 would make clients run it again).
                logger.info("answer over the response limit: sent its links", extra={"answer_bytes": size})
                links = outcome.to_links_response(
                    size_bytes=len(outcome.midi), limit_bytes=ANSWER_LIMIT_BYTES, what="MIDI file"
                )
                return json_response(303, links, {**headers, "Location": outcome.midi_url})
            stem = download_stem(request.filename) or outcome.request_id
            headers["Content-Disposition"] = attachment(f"{stem}.mid")
            return Response(status_code=200, content_type="audio/midi", body=outcome.midi, headers=headers)  # type: ignore[arg-type]
        answer = outcome.to_response()
        size = answer_bytes(json.dumps(answer, separators=(",", ":")).encode(), binary=False)
        if size > ANSWER_LIMIT_BYTES:
            logger.info("answer over the response limit: sent its links", extra={"answer_bytes": size})
            answer = outcome.to_links_response(size_bytes=size, limit_bytes=ANSWER_LIMIT_BYTES, what="result")
        return json_response(200, answer, headers)
