"""silero-vad's own post-processing, run from the pinned wheel itself (no torch needed for it).

`get_speech_timestamps` needs torch for its model loop, and torch (with CUDA wheels by default) does
not install here; the function it ends with, `get_speech_timestamps_from_probs`, is plain Python over
the probabilities. It is taken out of the wheel's `utils_vad.py` source by name and run as written,
so our port (`inference.models.silero_vad.segments`) is compared with the reference's code, not with
a copy of it.
"""

from __future__ import annotations

import ast
import hashlib
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inference.models.silero_vad.parameters import SILERO_VAD


def reference_post_processing(workdir: Path) -> Callable[..., list[dict[str, Any]]]:
    """The wheel's `get_speech_timestamps_from_probs`, downloaded with pip and checked by sha256."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--dest", str(workdir), f"{SILERO_VAD.package}=={SILERO_VAD.version}"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (wheel,) = workdir.glob("silero_vad-*.whl")
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == SILERO_VAD.wheel_sha256
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read("silero_vad/utils_vad.py").decode()
    (function,) = [
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name == "get_speech_timestamps_from_probs"
    ]
    module = ast.Module(
        body=[ast.parse("from typing import Callable, List").body[0], function],  # its annotations' names
        type_ignores=[],
    )
    namespace: dict[str, Any] = {}
    exec(compile(module, "silero_vad/utils_vad.py", "exec"), namespace)
    result: Callable[..., list[dict[str, Any]]] = namespace["get_speech_timestamps_from_probs"]
    return result
