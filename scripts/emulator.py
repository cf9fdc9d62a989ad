#!/usr/bin/env python
"""The local AWS emulator: moto's server, with the one correction the stacks' destroy needs.

    .venv/bin/python -m scripts.emulator -H 127.0.0.1 -p 5000      (`make emulator`; the tests start it too)

API Gateway resets an account setting when a `replace` patch operation carries no value: that is how
the AWS provider's `reset_on_delete` clears the CloudWatch role on destroy. moto 5.2's
`Account.apply_patch_operations` reads `op["value"]` unconditionally, answers 500, and the provider
retries for minutes. Here such an operation sets the value to None, as AWS does; nothing else changes.
"""

from __future__ import annotations

import sys
from typing import Any


def accept_value_less_resets() -> None:
    from moto.apigateway import models

    original = models.Account.apply_patch_operations

    def apply_patch_operations(self: Any, patch_operations: list[dict[str, Any]]) -> Any:
        resets = [
            {**op, "value": None} if op.get("op") == "replace" and "value" not in op else op for op in patch_operations
        ]
        return original(self, resets)

    models.Account.apply_patch_operations = apply_patch_operations  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    accept_value_less_resets()
    from moto.server import main as moto_server

    moto_server(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
