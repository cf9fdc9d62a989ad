"""The scanners' venv (build/scanners, made by `make setup` from requirements-scanners.txt) as the
security tests use it: parliament (the IAM linter) through one helper script under tests/security per
question, JSON in and JSON out. (Not named parliament.py: the helper scripts run from this folder and
would import it instead of the package.)"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.support.components import missing

REPO = Path(__file__).resolve().parents[2]
SCANNERS_PYTHON = REPO / "build" / "scanners" / "bin" / "python"


def parliament(script: str, payload: Any) -> Any:
    """What `script` (a file beside this one) prints for `payload`; a missing install is `missing`."""
    if not SCANNERS_PYTHON.exists():
        missing("parliament is not installed: `make setup` builds build/scanners from requirements-scanners.txt")
    result = subprocess.run(
        [str(SCANNERS_PYTHON), str(Path(__file__).with_name(script))],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(result.stdout)
