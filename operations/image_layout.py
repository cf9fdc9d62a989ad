"""The Lambda image's file system, assembled without Docker from docker/Dockerfile and .dockerignore.

No Docker engine runs on the development machines, so this reads the real
Dockerfile and .dockerignore and lays out what the image would hold: the
build stage's `pip install --target` (run here with the base image's Python
minor version where the machine has it, else the nearest), then every COPY of
the final stage, with the build context filtered as Docker filters it. Tests
import the handlers from that tree in a clean interpreter; `make bench`
reports its size.

    python -m operations.image_layout      # assemble build/image/root and print its size
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "docker" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
REQUIREMENTS = REPO / "docker" / "requirements-inference.lock"
BUILD = REPO / "build" / "image"
LAMBDA_TASK_ROOT = "/var/task"
BUILD_TARGET = "/opt/task-root"
PRUNED_DIRECTORIES = ("__pycache__", "tests")
"""Directories the build stage deletes after installing (the Dockerfile's `find ... -name` list)."""
PRUNED_PATHS = (
    # onnxruntime's C API library (the Python module carries its own copy) and its offline tools
    "onnxruntime/capi/libonnxruntime.so.*",
    "onnxruntime/quantization",
    "onnxruntime/tools",
    "onnxruntime/transformers",
    # OpenVINO: only the CPU plugin and the ONNX reader run here; the GPU/NPU plugins, the GPU's kernel
    # cache, the device-routing plugins, the other model readers, C headers and API, converter tools
    "openvino/libs/cache.json",
    "openvino/libs/libopenvino_auto_batch_plugin.so",
    "openvino/libs/libopenvino_auto_plugin.so",
    "openvino/libs/libopenvino_c.so.*",
    "openvino/libs/libopenvino_gguf_frontend.so.*",
    "openvino/libs/libopenvino_hetero_plugin.so",
    "openvino/libs/libopenvino_intel_gpu_plugin.so",
    "openvino/libs/libopenvino_intel_npu_plugin.so",
    "openvino/libs/libopenvino_jax_frontend.so.*",
    "openvino/libs/libopenvino_paddle_frontend.so.*",
    "openvino/libs/libopenvino_pytorch_frontend.so.*",
    "openvino/libs/libopenvino_tensorflow_frontend.so.*",
    "openvino/libs/libopenvino_tensorflow_lite_frontend.so.*",
    "openvino/include",
    "openvino/tools",
    "openvino/frontend/jax",
    "openvino/frontend/paddle",
    "openvino/frontend/pytorch",
    "openvino/frontend/tensorflow",
)
"""Paths under the task root (globs) the build stage deletes: what the model runtimes ship and nothing
here loads (the Dockerfile's `rm -rf` list; the image test runs both precisions without them)."""
"""Where the build stage's `pip install --target` puts the runtime dependencies."""


@dataclass
class Stage:
    name: str | None
    base: str
    copies: list[tuple[str | None, str, str]] = field(default_factory=list)
    """(from stage or None for the build context, source, destination)"""
    cmd: list[str] | None = None


def parse_dockerfile(text: str) -> list[Stage]:
    """FROM, COPY and CMD of every stage (continuation lines joined, comments dropped)."""
    logical = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    stages: list[Stage] = []
    for line in (raw.strip() for raw in logical.splitlines()):
        word, _, rest = line.partition(" ")
        if word == "FROM":
            parts = rest.split()
            stages.append(Stage(name=parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None, base=parts[0]))
        elif word == "COPY":
            parts = rest.split()
            source_stage = next((p.split("=", 1)[1] for p in parts if p.startswith("--from=")), None)
            paths = [p for p in parts if not p.startswith("--")]
            for source in paths[:-1]:
                stages[-1].copies.append((source_stage, source, paths[-1]))
        elif word == "CMD":
            stages[-1].cmd = json.loads(rest)
    return stages


def handler_command(dockerfile: Path = DOCKERFILE) -> list[str]:
    """The image's default CMD (the handler a function gets without image_config)."""
    command = parse_dockerfile(dockerfile.read_text())[-1].cmd
    if not command:
        raise ValueError(f"{dockerfile} has no CMD in its final stage")
    return command


class DockerIgnore:
    """Docker's .dockerignore rules: patterns in order, the last match wins, `!` re-includes, a pattern
    that matches a directory matches everything under it."""

    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = line[1:] if include else line
            self.rules.append((include, re.compile(_glob_to_regex(pattern.strip("/")))))

    def excluded(self, relative: str) -> bool:
        parts = relative.strip("/").split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for include, pattern in self.rules:
            if any(pattern.fullmatch(c) for c in candidates):
                excluded = not include
        return excluded


def _glob_to_regex(pattern: str) -> str:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return out


def image_python() -> str | None:
    """The base image's Python minor version if the machine has it, else the nearest one it has."""
    wanted = _base_python_minor()
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for minor in sorted(range(8, 20), key=lambda m: (abs(m - wanted), -m)):
        # On PATH, else a pyenv-installed version its shims do not expose.
        candidates = [
            shutil.which(f"python3.{minor}"),
            *sorted(map(str, pyenv.glob(f"3.{minor}.*/bin/python3.{minor}"))),
        ]
        for found in filter(None, candidates):
            if subprocess.run([found, "-c", "import venv, ensurepip"], capture_output=True).returncode == 0:
                return found
    return None


def _base_python_minor() -> int:
    base = parse_dockerfile(DOCKERFILE.read_text())[-1].base
    match = re.search(r"python:3\.(\d+)", base)
    if not match:
        raise ValueError(f"the final stage's base {base!r} does not name a Python version")
    return int(match.group(1))


def install_dependencies(python: str) -> Path:
    """The build stage's `pip install --target`, cached in build/image by interpreter and requirements."""
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    recipe = f"{version}\n{REQUIREMENTS.read_text()}\n{PRUNED_PATHS}"
    key = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    target = BUILD / f"task-root-{key}"
    if (target / ".complete").is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)
    command = [
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-cache-dir",
        "--only-binary=:all:",
        "--require-hashes",
        "--target",
        str(target),
        "-r",
        str(REQUIREMENTS),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"installing the image's requirements with {python} failed:\n{result.stderr[-3000:]}")
    for directory in sorted(
        (p for p in target.rglob("*") if p.is_dir() and p.name in PRUNED_DIRECTORIES), reverse=True
    ):
        shutil.rmtree(directory, ignore_errors=True)
    for pattern in PRUNED_PATHS:
        for path in target.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    (target / ".complete").write_text(version)
    return target


def assemble(root: Path, dependencies: Path) -> Path:
    """Lay out the final stage under `root` (root/var/task, root/opt/models, ...); returns the task root."""
    stages = parse_dockerfile(DOCKERFILE.read_text())
    ignore = DockerIgnore(DOCKERIGNORE.read_text())
    shutil.rmtree(root, ignore_errors=True)
    build_root = root.parent / f"{root.name}-build-stage"
    shutil.rmtree(build_root, ignore_errors=True)
    _copy_tree(dependencies, _inside(build_root, BUILD_TARGET), lambda _: False)
    for stage in stages[:-1]:
        for source_stage, source, destination in stage.copies:
            if source_stage is None:
                _copy_from_context(source, _inside(build_root, destination), ignore)
    for source_stage, source, destination in stages[-1].copies:
        target = _inside(root, destination)
        if source_stage is None:
            _copy_from_context(source, target, ignore)
        else:
            _copy_tree(_inside(build_root, source), target, lambda _: False)
    shutil.rmtree(build_root)
    return _inside(root, LAMBDA_TASK_ROOT)


def _inside(root: Path, container_path: str) -> Path:
    expanded = container_path.replace("${LAMBDA_TASK_ROOT}", LAMBDA_TASK_ROOT)
    return root / expanded.lstrip("/")


def _copy_from_context(source: str, target: Path, ignore: DockerIgnore) -> None:
    path = REPO / source
    if path.is_file():
        if not ignore.excluded(source):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target if not source.endswith("/") else target / path.name)
        return
    _copy_tree(path, target, lambda p: ignore.excluded(p.relative_to(REPO).as_posix()))


def _copy_tree(source: Path, target: Path, skip: Callable[[Path], bool]) -> None:
    for path in sorted(source.rglob("*")):
        if path.is_file() and not skip(path):
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> int:
    python = image_python()
    if python is None:
        print("error: no Python 3 interpreter with venv on PATH to install the image's requirements", file=sys.stderr)
        return 2
    root = assemble(BUILD / "root", install_dependencies(python))
    print(f"{root.parent.parent} ({python}): {size_mb(root.parent.parent):.0f} MB over the base image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
