"""Everything written to the process's stderr, C libraries included, as JSON log records.

On Lambda every line a function writes becomes a CloudWatch event, and log queries, metric filters
and alarms expect the Logger's JSON. Native libraries write plain text to file descriptor 2
(libmpg123's "warning: ..." lines for odd MP3 frames), and so do Python's warnings and the last-resort
logging handler. Python-level redirection cannot reach the C writes, so file descriptor 2 itself is
replaced by a pipe whose lines a daemon thread logs as records (`"source": "stderr"`).
"""

from __future__ import annotations

import os
import threading

from aws_lambda_powertools import Logger

_installed = threading.Lock()
_done = False
_MAX_LINE = 4096
"""Longer lines are cut: a record stays readable (CloudWatch keeps 256 KB an event)."""


ON_LAMBDA = "AWS_LAMBDA_FUNCTION_NAME"
"""Set by Lambda in every function's environment: the entries route stderr there (and `make serve` does)."""


def route_stderr_to(logger: Logger) -> None:
    """Replace file descriptor 2 with a pipe whose lines become `logger.warning` records (once per process)."""
    global _done
    with _installed:
        if _done:
            return
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        reader = threading.Thread(target=_forward, args=(read_fd, logger), name="stderr-to-json", daemon=True)
        reader.start()
        _done = True


def _forward(read_fd: int, logger: Logger) -> None:
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                _emit(logger, line)
        if pending:
            _emit(logger, pending)


def _emit(logger: Logger, line: bytes) -> None:
    text = line.decode("utf-8", "replace").rstrip("\r")
    if text.strip():
        logger.warning("stderr", extra={"source": "stderr", "line": text[:_MAX_LINE]})
