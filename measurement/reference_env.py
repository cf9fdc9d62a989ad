#!/usr/bin/env python
"""Create the reference implementation's own venv (build/reference-venv) if it is missing.

basic-pitch 0.4.0 goes in with --no-deps (its full tree pulls TensorFlow);
measurement/reference-requirements.txt lists what its ONNX predict() imports.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / "build" / "reference-venv"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = REPO / "measurement" / "reference-requirements.txt"
STAMP = VENV / ".installed"


def ensure() -> Path:
    if STAMP.is_file() and STAMP.read_text() == REQUIREMENTS.read_text():
        return PYTHON
    print(f"creating the reference venv at {VENV} ...", file=sys.stderr)
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    pip = [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for args in (["-r", str(REQUIREMENTS)], ["--no-deps", "basic-pitch==0.4.0"]):
        result = subprocess.run(pip + args, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"installing the reference failed:\n{result.stdout}{result.stderr}")
    STAMP.write_text(REQUIREMENTS.read_text())
    return PYTHON


if __name__ == "__main__":
    print(ensure())
