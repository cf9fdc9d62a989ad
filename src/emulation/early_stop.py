"""SIGTERM while `make serve` is still importing its libraries: exit 0 at once (nothing runs yet).

`python -m emulation.local_server` spends about a second importing moto, boto3 and uvicorn before
`main` installs its own signal handling; the default action of SIGTERM would kill it then with 143.
`emulation.local_server` imports this module before anything else, and only when it runs as the
program does this module change anything: a library import of the server keeps its signals as they are.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType

PROGRAM = "emulation.local_server"


def _exit_0(signum: int, frame: FrameType | None) -> None:
    """os._exit, not SystemExit: raised inside an import, SystemExit unwinds through library code and the
    interpreter's shutdown (joining a thread some import started), and under load CI saw the process
    still alive 30 s later. Nothing has run that needs cleaning up."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(0)


def _running_as_program() -> bool:
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == PROGRAM


if _running_as_program() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _exit_0)
