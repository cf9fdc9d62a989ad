"""The API handler in this process, no emulator: requests as `make serve` runs them (one at a time in
the handler), RSS printed after 20, every 100 and all of them.

    python -m tests.support.soak [--requests 500] [--threads 1]

Storage is a stub that keeps nothing (the emulator's own objects would otherwise be counted), so what
grows is the handler's: decoding, the model, the allocator. Prints one JSON line:
{"rss_mb_after": {"20": ..., "100": ..., "500": ...}, "statuses": {...}, "unexpected": {...}}, where
`unexpected` counts, per kind of request, the answers whose status is not that kind's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from urllib3 import encode_multipart_formdata

from contract.settings import ServiceSettings
from emulation import gateway
from emulation.local_server import INVOCATIONS_AT_ONCE, LocalContext, local_settings
from inference.config import load_config
from inference.testing import signals
from inference.transcriber import load_models
from service.api import create_resolver
from service.jobs.store import JobStore
from service.service import Service
from service.storage import Storage


class NullS3:
    """The calls `Storage` makes, answered without keeping anything."""

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        return {"ETag": '"0"'}

    def generate_presigned_url(self, operation: str, Params: dict[str, Any], ExpiresIn: int) -> str:
        return f"https://{Params['Bucket']}.s3.amazonaws.com/{Params['Key']}?X-Amz-Expires={ExpiresIn}"


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def clip(seconds: float, rate: int, channels: int, fmt: str, seed: int) -> bytes:
    mono = signals.render(signals.chords(2, seconds), rate, seconds, seed=seed).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([mono] * channels, axis=1) if channels > 1 else mono, rate, format=fmt)
    return buffer.getvalue()


@dataclass(frozen=True)
class Kind:
    """One kind of request in the mix, and the status it must get."""

    label: str
    status: int
    request: gateway.HttpRequest


def requests_to_send() -> list[Kind]:
    """A day's mix: good clips in several formats and rates, MIDI answers, and bad input of each kind."""
    wav = clip(2.0, 22050, 1, "WAV", 1)
    flac = clip(2.0, 48000, 2, "FLAC", 2)
    ogg = clip(2.0, 44100, 2, "OGG", 3)
    body, form_type = encode_multipart_formdata({"file": ("a.wav", wav, "audio/wav"), "onset_threshold": "0.6"})
    mixes = [
        ("multipart wav", 200, "POST", "/predict", [("Content-Type", form_type)], body),
        ("flac as midi", 200, "POST", "/predict", [("Content-Type", "audio/flac"), ("Accept", "audio/midi")], flac),
        ("ogg", 200, "POST", "/predict", [("Content-Type", "audio/ogg")], ogg),
        ("truncated wav", 422, "POST", "/predict", [("Content-Type", "audio/wav")], wav[: len(wav) // 2]),
        ("truncated ogg", 422, "POST", "/predict", [("Content-Type", "audio/ogg")], ogg[: len(ogg) // 2]),
        (
            "long boundary",
            400,
            "POST",
            "/predict",
            [("Content-Type", "multipart/form-data; boundary=" + "b" * 300)],
            b"--x",
        ),
        ("deep json", 400, "POST", "/jobs", [("Content-Type", "application/json")], b"[" * 2000 + b"]" * 2000),
        ("health", 200, "GET", "/health", [], b""),
    ]
    return [
        Kind(
            label,
            status,
            gateway.HttpRequest(method=m, path=p, headers=h, query=[], body=b, domain_name="127.0.0.1:8080"),
        )
        for label, status, m, p, h, b in mixes
    ]


def null_storage_resolver() -> APIGatewayRestResolver:
    """The API's resolver over the configured models and storage that keeps nothing, as the handler builds it."""
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    settings: ServiceSettings = local_settings()
    s3: Any = NullS3()
    config = load_config()
    service = Service(
        settings=settings,
        config=config,
        models=load_models(config),
        storage=Storage(s3, settings),
        jobs=JobStore(s3, settings),
    )
    logger = Logger(service="soak", level="ERROR")
    return create_resolver(service, logger=logger, metrics=Metrics(namespace="Soak", service="soak"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument(
        "--threads", type=int, default=INVOCATIONS_AT_ONCE, help="default: as many as the local server lets in"
    )
    args = parser.parse_args(argv)

    app = null_storage_resolver()
    kinds = requests_to_send()

    def one(index: int) -> tuple[Kind, int]:
        kind = kinds[index % len(kinds)]
        route = gateway.route_for(kind.request.method, kind.request.path)
        assert route is not None
        event = gateway.to_proxy_event(kind.request, route, f"soak-{index}")
        context: Any = LocalContext(aws_request_id=f"soak-{index}")
        result: dict[str, Any] = app.resolve(event, context)
        return kind, int(result["statusCode"])

    statuses: Counter[int] = Counter()
    unexpected: Counter[str] = Counter()
    rss: dict[str, float] = {}
    checkpoints = sorted({20, *range(100, args.requests, 100), args.requests})
    done = 0
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        for checkpoint in checkpoints:
            for kind, status in pool.map(one, range(done, checkpoint)):
                statuses[status] += 1
                if status != kind.status:
                    unexpected[f"{kind.label}: {status} (expected {kind.status})"] += 1
            done = checkpoint
            rss[str(checkpoint)] = round(rss_mb(), 1)
    report = {"rss_mb_after": rss, "statuses": dict(sorted(statuses.items())), "unexpected": dict(unexpected)}
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
