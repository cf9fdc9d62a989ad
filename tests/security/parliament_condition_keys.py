"""Run by the scanners' Python (build/scanners, where parliament lives): reads a JSON list of IAM services'
prefixes on stdin and prints {action: [condition key, ...]} for every action of those services, from
parliament's copy of AWS's service authorization reference (the keys of its resource types and its own)."""

from __future__ import annotations

import json
import sys

from parliament import iam_definition  # type: ignore[import-not-found]  # lives in build/scanners


def main() -> None:
    prefixes: list[str] = json.load(sys.stdin)
    keys: dict[str, list[str]] = {}
    for service in iam_definition:
        if service["prefix"] in prefixes:
            for privilege in service["privileges"]:
                found = {key for resource in privilege["resource_types"] for key in resource["condition_keys"]}
                keys[f"{service['prefix']}:{privilege['privilege']}"] = sorted(found)
    json.dump(keys, sys.stdout)


if __name__ == "__main__":
    main()
