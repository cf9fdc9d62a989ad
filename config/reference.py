"""The configuration reference (docs/configuration.md), written from the code that defines the settings.

Every setting's type, default and meaning is read from its dataclass: the type from its annotation, the
default from the field, the meaning from the docstring under the field (the convention all of
`config.schema`, `inference.config` and `contract.settings` follow), dev's and prod's values from
`config.environments`. Nothing here is typed a second time, so the reference cannot drift:

    make docs          (= .venv/bin/python -m config.reference docs/configuration.md)

`tests/unit/test_configuration_reference.py` fails when the committed file differs from what this writes,
or when a setting has no docstring.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import enum
import inspect
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from config import capacity, schema
from config.environments import DEV, PROD
from contract import env_names, settings
from inference import config as inference_config

OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
MISSING = dataclasses.MISSING


def field_docstrings(cls: type) -> dict[str, str]:
    """The docstring written under each field of `cls` and of its dataclass bases, by field name."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is object:
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0]
        assert isinstance(body, ast.ClassDef)
        statements = body.body
        for node, after in zip(statements, [*statements[1:], None], strict=True):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return docs


def class_summary(cls: type) -> str:
    return " ".join(inspect.cleandoc(cls.__doc__ or "").split())


def default_of(field: dataclasses.Field[Any]) -> Any:
    if field.default is not MISSING:
        return field.default
    if field.default_factory is not MISSING:
        return field.default_factory()
    return MISSING


def shown(value: Any) -> str:
    """A value as a reader would write it in config/environments.py (code-formatted)."""
    if value is MISSING:
        return "(required)"
    if value is None:
        return "`None`"
    if isinstance(value, bool):
        return f"`{value}`"
    if isinstance(value, enum.Enum):
        return f"`{value.value}`"
    if isinstance(value, int | float):
        return f"`{value:,}`" if abs(value) >= 10_000 else f"`{value:g}`" if isinstance(value, float) else f"`{value}`"
    if isinstance(value, str):
        return f"`{value!r}`" if value else "`''`"
    if isinstance(value, tuple) and not value:
        return "`()`"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        given = [f for f in dataclasses.fields(value) if getattr(value, f.name) != default_of(f)]
        inner = ", ".join(f"{f.name}={getattr(value, f.name)!r}" for f in given)
        return f"`{type(value).__name__}({inner})`"
    return f"`{value!r}`"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def type_name(field: dataclasses.Field[Any]) -> str:
    annotation = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    return cell(f"`{annotation}`")


def nested_dataclass(field: dataclasses.Field[Any]) -> type | None:
    """The settings class a field groups (`function`, `api`, ...), or None for a plain value."""
    value = default_of(field)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value)
    return None


def environment_rows() -> Iterator[tuple[str, str]]:
    """(section title, markdown table) per settings class of `EnvironmentConfig`, the top level first."""
    top = schema.EnvironmentConfig
    docs = field_docstrings(top)
    header = "| setting | type | default | dev | prod | meaning |\n|---|---|---|---|---|---|\n"
    rows = []
    groups: list[tuple[str, type]] = []
    for field in dataclasses.fields(top):
        group = nested_dataclass(field)
        if group is not None:
            groups.append((field.name, group))
            continue
        rows.append(
            f"| `{field.name}` | {type_name(field)} | {shown(default_of(field))} | {shown(getattr(DEV, field.name))} "
            f"| {shown(getattr(PROD, field.name))} | {cell(docs.get(field.name, ''))} |"
        )
    yield "Top level (`EnvironmentConfig`)", header + "\n".join(rows)
    for optional in (schema.LocalStateBackend, schema.S3StateBackend, schema.CiIdentities, schema.ApiConsumer):
        groups.append((f"({optional.__name__})", optional))
    for prefix, cls in groups:
        docs = field_docstrings(cls)
        plain = not prefix.startswith("(")
        rows = []
        for field in dataclasses.fields(cls):
            name = f"{prefix}.{field.name}" if plain else field.name
            dev = shown(getattr(getattr(DEV, prefix), field.name)) if plain else ""
            prod = shown(getattr(getattr(PROD, prefix), field.name)) if plain else ""
            rows.append(
                f"| `{name}` | {type_name(field)} | {shown(default_of(field))} | {dev} | {prod} "
                f"| {cell(docs.get(field.name, ''))} |"
            )
        title = f"`{prefix}` (`{cls.__name__}`)" if plain else f"`{cls.__name__}`"
        summary = class_summary(cls)
        yield title, (f"{summary}\n\n" if summary else "") + header + "\n".join(rows)


def inference_rows() -> str:
    """`config/inference_config.yaml`'s settings, each with the variable that overrides it at run time."""
    sections = {f.name: type(default_of(f)) for f in dataclasses.fields(inference_config.InferenceConfig)}
    out = ["| setting | variable | type | default | meaning |", "|---|---|---|---|---|"]
    for section, cls in sections.items():
        docs = field_docstrings(cls)
        for field in dataclasses.fields(cls):
            variable = env_names.INFERENCE_SETTINGS.get((section, field.name))
            if variable is None:
                continue
            out.append(
                f"| `{section}.{field.name}` | `{variable}` | {type_name(field)} | {shown(default_of(field))} "
                f"| {cell(docs.get(field.name, ''))} |"
            )
    return "\n".join(out)


def service_rows() -> str:
    """What the service reads (`contract.settings.ServiceSettings`), each with its variable."""
    out = ["| setting | variable | meaning |", "|---|---|---|"]
    docs = field_docstrings(settings.ServiceSettings)
    job_docs = field_docstrings(settings.JobLimits)
    for name, variable in env_names.SERVICE_SETTINGS.items():
        doc = job_docs.get(name.removeprefix("jobs."), "") if name.startswith("jobs.") else docs.get(name, "")
        out.append(f"| `{name}` | `{variable}` | {cell(doc)} |")
    return "\n".join(out)


def location_rows() -> str:
    out = ["| variable | meaning |", "|---|---|"]
    by_value = {getattr(env_names, name): doc for name, doc in constant_docstrings(env_names).items()}
    for variable_name in (*env_names.LOCATION_VARIABLES, *env_names.SYNTH_OVERRIDES):
        out.append(f"| `{variable_name}` | {cell(by_value.get(variable_name, ''))} |")
    return "\n".join(out)


def undocumented() -> list[str]:
    """Every setting the reference lists whose field has no docstring (the test requires none)."""
    missing = []
    classes: list[type] = [schema.EnvironmentConfig]
    classes += [c for f in dataclasses.fields(schema.EnvironmentConfig) if (c := nested_dataclass(f)) is not None]
    classes += [schema.LocalStateBackend, schema.S3StateBackend, schema.CiIdentities, schema.ApiConsumer]
    classes += [type(default_of(f)) for f in dataclasses.fields(inference_config.InferenceConfig)]
    classes += [settings.ServiceSettings]
    for cls in classes:
        docs = field_docstrings(cls)
        missing += [
            f"{cls.__name__}.{f.name}"
            for f in dataclasses.fields(cls)
            if f.name not in docs
            and nested_dataclass(f) is None
            and not (cls is settings.ServiceSettings and f.name == "jobs")
        ]
    return missing


def render() -> str:
    parts = [
        "# Configuration reference",
        "",
        "<!-- Written by `make docs` (config/reference.py) from the settings' own types, defaults and "
        "docstrings; do not edit by hand. -->",
        "",
        "Environments are values (`DEV`, `PROD` in `config/environments.py`) of the frozen, keyword-only "
        "dataclasses in `config/schema.py`, where each default is written once. A value is validated when "
        "constructed: an invalid one raises `ConfigError` naming the field, the value and what is allowed "
        "(`function.memory_mb=20000 is invalid: allowed an integer from 128 to 10240`).",
        "",
        "## Environment settings",
        "",
    ]
    for title, table in environment_rows():
        parts += [f"### {title}", "", table, ""]
    parts += [
        "## Capacity: what the settings are checked against",
        "",
        inspect.cleandoc(capacity.__doc__ or ""),
        "",
        "| constant | value | meaning |",
        "|---|---|---|",
        *(
            f"| `{name}` | `{getattr(capacity, name)!r}` | {cell(doc)} |"
            for name, doc in constant_docstrings(capacity).items()
        ),
        "",
        "## Inference configuration",
        "",
        "`config/inference_config.yaml` configures the model runtime; the stacks copy every value into the "
        "functions' environment, and at run time the variable overrides the file. Variable names are "
        "defined once, in `src/contract/env_names.py`.",
        "",
        inference_rows(),
        "",
        "Other variables the runtime and the app read:",
        "",
        location_rows(),
        "",
        "## Service settings",
        "",
        "What the service reads (`contract.settings.ServiceSettings`), set by the stacks on each function from "
        "the environment (`EnvironmentConfig.service_settings`); field and variable are mapped in "
        "`contract.env_names.SERVICE_SETTINGS`, checked both ways by a test.",
        "",
        service_rows(),
        "",
    ]
    return "\n".join(parts)


def constant_docstrings(module: Any) -> dict[str, str]:
    """The docstring under each upper-case module-level constant, by the constant's name."""
    statements = ast.parse(inspect.getsource(module)).body
    docs: dict[str, str] = {}
    for node, after in zip(statements, [*statements[1:], None], strict=True):
        if (
            isinstance(node, ast.Assign | ast.AnnAssign)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Name) and target.id.isupper():
                docs[target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return docs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="config.reference", description=__doc__.split("\n")[0])
    parser.add_argument("output", nargs="?", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs from what would be written")
    args = parser.parse_args(argv)
    missing = undocumented()
    if missing:
        print(f"config.reference: settings without a docstring: {', '.join(missing)}", file=sys.stderr)
        return 2
    text = render()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
