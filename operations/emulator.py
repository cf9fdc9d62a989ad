#!/usr/bin/env python
"""The local AWS emulator: moto's server, with two corrections the operator commands need.

    .venv/bin/python -m operations.emulator -H 127.0.0.1 -p 5000      (`make emulator`; the tests start it too)

- API Gateway resets an account setting when a `replace` patch operation carries no value: that is how
  the AWS provider's `reset_on_delete` clears the CloudWatch role on destroy. moto 5.2's
  `Account.apply_patch_operations` reads `op["value"]` unconditionally, answers 500, and the provider
  retries for minutes. Here such an operation sets the value to None, as AWS does.
- moto checks a bucket's policy on object requests but ignores statement conditions, so a TLS-only
  statement (Deny s3:* where aws:SecureTransport is false) denies every object request, and the
  emulator only speaks plain HTTP where AWS only speaks TLS. Here those statements are left out of the
  check: every request counts as TLS, as it is on AWS. (That is what makes `make bootstrap`'s state
  bucket usable as a terraform backend on the emulator.) Nothing else changes.
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


TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}


def requests_count_as_tls() -> None:
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3 import models

    def get_permission(self: Any, action: str, resource: str) -> Any:
        """moto's FakeBucket.get_permission, TLS-only statements left out."""
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy)
        statements = policy.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        kept = [s for s in statements if s.get("Condition") != TLS_ONLY]
        return IAMPolicy(json.dumps({**policy, "Statement": kept})).is_action_permitted(action, resource)

    models.FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    accept_value_less_resets()
    requests_count_as_tls()
    from moto.server import main as moto_server

    moto_server(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
