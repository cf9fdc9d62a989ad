"""The shared contract package is standard library only, in a fresh interpreter: what import-linter's
contracts (make lint) cannot see, because they only know the project's own packages."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import contract

PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
loaded = {m.split(".")[0] for m in sys.modules}
print(json.dumps(sorted(loaded - set(sys.stdlib_module_names) - set(sys.builtin_module_names))))
"""


def test_the_contract_package_loads_nothing_beyond_the_standard_library() -> None:
    modules = ["contract", *(f"contract.{m.name}" for m in pkgutil.iter_modules(contract.__path__))]
    assert len(modules) >= 7, modules
    probe = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, check=True)
    outside = set(json.loads(probe.stdout)) - {"contract", "__main__"}
    # the interpreter's own start-up hooks (site's editable-install finders) are not the package's imports
    assert {m for m in outside if not m.startswith(("__editable__", "_distutils_hack"))} == set()
