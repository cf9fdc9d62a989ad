"""Run by the scanners' Python (build/scanners, where parliament lives): reads a JSON list of IAM actions
on stdin and prints {action: [access level, ...]} from parliament's copy of AWS's service authorization
reference (one level per service that defines the action; [] for an action it does not know)."""

from __future__ import annotations

import json
import sys

from parliament import iam_definition  # type: ignore[import-not-found]  # lives in build/scanners


def main() -> None:
    actions: list[str] = json.load(sys.stdin)
    levels: dict[str, list[str]] = {}
    for action in actions:
        prefix, _, name = action.partition(":")
        levels[action] = sorted(
            {
                privilege["access_level"]
                for service in iam_definition
                if service["prefix"] == prefix
                for privilege in service["privileges"]
                if privilege["privilege"].lower() == name.lower()
            }
        )
    json.dump(levels, sys.stdout)


if __name__ == "__main__":
    main()
