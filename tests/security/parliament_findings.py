"""Run by the scanners' Python (build/scanners, where parliament lives): reads {name: policy JSON} on
stdin and prints {name: [finding, ...]} for the findings that mean a misspelt or unknown action."""

from __future__ import annotations

import json
import sys

from parliament import analyze_policy_string  # type: ignore[import-not-found]  # lives in build/scanners

UNKNOWN = {"UNKNOWN_ACTION", "UNKNOWN_PREFIX", "UNKNOWN_PRINCIPAL", "MALFORMED_JSON", "MALFORMED"}


def main() -> None:
    policies: dict[str, str] = json.load(sys.stdin)
    findings = {
        name: [f"{f.issue}: {f.detail}" for f in analyze_policy_string(policy).findings if f.issue in UNKNOWN]
        for name, policy in policies.items()
    }
    json.dump(findings, sys.stdout)


if __name__ == "__main__":
    main()
