"""The API handler in this process, no emulator: requests on a thread pool as `make serve` runs them
(at most its --concurrency at once), RSS printed after 20, every 100 and all of them.

    python -m tests.support.soak [--requests 500] [--threads 4]

Storage is a stub that keeps nothing (the emulator's own objects would otherwise be counted), so what
grows is the handler's: decoding, the model, the allocator. Prints one JSON line:
{"rss_mb_after": {"20": ..., "100": ..., "500": ...}, "statuses": {...}}.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from aws_lambda_powertools import Logger, Metrics
from urllib3 import encode_multipart_formdata

from contract.settings import ServiceSettings
from emulation import gateway
from emulation.local_server import CONCURRENCY, LocalContext, local_settings
from inference.config import load_config
from inference.testing import signals
from inference.transcriber import load_models
from service.api import Service, create_resolver
from service.jobs.store import JobStore
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


def requests_to_send() -> list[gateway.HttpRequest]:
    """A day's mix: good clips in several formats and rates, MIDI answers, and bad input of each kind."""
    wav = clip(2.0, 22050, 1, "WAV", 1)
    flac = clip(2.0, 48000, 2, "FLAC", 2)
    ogg = clip(2.0, 44100, 2, "OGG", 3)
    body, form_type = encode_multipart_formdata({"file": ("a.wav", wav, "audio/wav"), "onset_threshold": "0.6"})
    mixes = [
        ("POST", "/predict", [("Content-Type", form_type)], body),
        ("POST", "/predict", [("Content-Type", "audio/flac"), ("Accept", "audio/midi")], flac),
        ("POST", "/predict", [("Content-Type", "audio/ogg")], ogg),
        ("POST", "/predict", [("Content-Type", "audio/wav")], wav[: len(wav) // 2]),  # truncated
        ("POST", "/predict", [("Content-Type", "audio/ogg")], ogg[: len(ogg) // 2]),  # truncated
        ("POST", "/predict", [("Content-Type", "multipart/form-data; boundary=" + "b" * 300)], b"--x"),
        ("POST", "/jobs", [("Content-Type", "application/json")], b"[" * 2000 + b"]" * 2000),
        ("GET", "/health", [], b""),
    ]
    return [
        gateway.HttpRequest(method=m, path=p, headers=h, query=[], body=b, domain_name="127.0.0.1:8080")
        for m, p, h, b in mixes
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--threads", type=int, default=CONCURRENCY, help="default: the local server's concurrency")
    args = parser.parse_args(argv)

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
    app = create_resolver(service, logger=logger, metrics=Metrics(namespace="Soak", service="soak"))
    kinds = requests_to_send()

    def one(index: int) -> int:
        http = kinds[index % len(kinds)]
        route = gateway.route_for(http.method, http.path)
        assert route is not None
        event = gateway.to_proxy_event(http, route, f"soak-{index}")
        context: Any = LocalContext(aws_request_id=f"soak-{index}")
        result: dict[str, Any] = app.resolve(event, context)
        return int(result["statusCode"])

    statuses: Counter[int] = Counter()
    rss: dict[str, float] = {}
    checkpoints = sorted({20, *range(100, args.requests, 100), args.requests})
    done = 0
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        for checkpoint in checkpoints:
            statuses.update(pool.map(one, range(done, checkpoint)))
            done = checkpoint
            rss[str(checkpoint)] = round(rss_mb(), 1)
    print(json.dumps({"rss_mb_after": rss, "statuses": dict(sorted(statuses.items()))}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
