"""The README and docs/ stay true to the repository: every relative link and anchor resolves, the README
stays a page, and what a reader would copy from a shell or Python block names a real make target, an
importable module, or compiles.

The blocks some tests run as written (the client examples in docs/api.md, the emulator commands in
docs/operations.md) are executed there; here every block is only checked for what it names.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
README_MAX_LINES = 320

FENCED = re.compile(r"^(`{3,})([^\n`]*)\n(.*?)^\1[ \t]*$", re.S | re.M)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
SHELL = {"bash", "sh", "shell"}
MAKE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*make((?:\s+\S+)*)")
PYTHON_M = re.compile(r"(?:^|[\s/])python3?\s+-m\s+([A-Za-z_][\w.]*)")
MAKE_TARGET = re.compile(r"^([A-Za-z][\w-]*)\s*:(?!=)", re.M)


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced code block."""
    return [(match.group(2).strip().lower(), match.group(3)) for match in FENCED.finditer(text)]


def prose(text: str) -> str:
    """The text outside code: fenced blocks and inline code spans removed."""
    return INLINE_CODE.sub("", FENCED.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower-case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link renders as its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = re.sub(r"(\*\*|__|\*)(.+?)\1", r"\2", text)  # emphasis renders without its markers
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a Markdown file, with GitHub's -1, -2 ... for repeated headings."""
    seen: Counter[str] = Counter()
    found: set[str] = set()
    for match in HEADING.finditer(FENCED.sub("", path.read_text())):
        base = slug(match.group(2))
        found.add(base if seen[base] == 0 else f"{base}-{seen[base]}")
        seen[base] += 1
    return found


def relative_links(path: Path) -> list[str]:
    links = LINK.findall(prose(path.read_text()))
    return [link for link in links if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//", link)]


def shell_lines(path: Path) -> list[str]:
    """Each command of each shell block, comments dropped, continuation lines joined."""
    commands: list[str] = []
    for language, body in blocks(path.read_text()):
        if language not in SHELL:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            code = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
            commands.extend(part.strip() for part in re.split(r"&&|\|\||;", code) if part.strip())
    return commands


def makefile_targets() -> set[str]:
    return set(MAKE_TARGET.findall((REPO / "Makefile").read_text()))


def test_there_are_pages_to_check() -> None:
    assert README.exists() and len(PAGES) > 1, PAGES


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_relative_link_resolves_to_a_file_and_heading(page: Path) -> None:
    broken: list[str] = []
    for link in relative_links(page):
        target, _, anchor = link.partition("#")
        resolved = (page.parent / target).resolve() if target else page
        if not resolved.exists():
            broken.append(f"{link}: no {resolved.relative_to(REPO) if resolved.is_relative_to(REPO) else resolved}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{link}: no heading with anchor #{anchor} in {rel(resolved)}")
        elif anchor and resolved.suffix != ".md":
            broken.append(f"{link}: an anchor into a file that is not Markdown")
    assert not broken, "\n".join(broken)


def test_the_slug_follows_githubs_rules() -> None:
    assert slug("Long audio: jobs") == "long-audio-jobs"
    assert slug("`make serve`") == "make-serve"
    assert slug("CI/CD for adopters") == "cicd-for-adopters"
    assert slug("Top level (`EnvironmentConfig`)") == "top-level-environmentconfig"
    assert slug("Checks skipped, and why") == "checks-skipped-and-why"
    assert slug("POST /predict") == "post-predict"


def test_the_link_check_would_catch_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [bad](#nothing) [code `x`](missing.md)\n\n```\n[not](a-link.md)\n```\n")
    assert relative_links(page) == ["#title", "#nothing", "missing.md"]
    assert anchors(page) == {"title"}


def test_the_readme_is_a_page_not_a_manual() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; at most {README_MAX_LINES}: move detail to docs/"


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_make_line_names_a_target_the_makefile_defines(page: Path) -> None:
    targets = makefile_targets()
    unknown: list[str] = []
    for command in shell_lines(page):
        match = MAKE.match(command)
        if match is None:
            continue
        words = [word for word in match.group(1).split() if "=" not in word and not word.startswith("-")]
        unknown.extend(f"{command!r}: no target {word!r}" for word in words[:1] if word.strip("&") not in targets)
    assert not unknown, "\n".join(unknown)


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_python_m_names_an_importable_module(page: Path) -> None:
    missing: list[str] = []
    for command in shell_lines(page):
        for module in PYTHON_M.findall(command):
            if importlib.util.find_spec(module) is None:
                missing.append(f"{command!r}: no module {module!r}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_python_block_compiles(page: Path) -> None:
    for number, (language, body) in enumerate(blocks(page.read_text()), start=1):
        if language in {"python", "py"}:
            compile(body, f"{rel(page)}, block {number}", "exec")


def test_the_checks_see_the_commands_they_are_meant_to() -> None:
    operations = shell_lines(REPO / "docs" / "operations.md")
    assert "make deploy ENV=dev" in operations
    assert any(PYTHON_M.search(command) for command in operations)
    assert {"serve", "test", "deploy", "bench", "evaluate", "parity"} <= makefile_targets()


def test_every_test_the_docs_cite_as_proof_exists() -> None:
    """docs/ says which test proves each claim (security.md above all): a renamed or deleted test must not
    leave a claim pointing at nothing."""
    defined = {
        match.group(1)
        for path in (REPO / "tests").rglob("*.py")
        for match in re.finditer(r"^\s*def (test_\w+)", path.read_text(), re.MULTILINE)
    }
    cited_files = set()
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text()
        missing = sorted(set(re.findall(r"`(test_\w+)`", text)) - defined)
        assert missing == [], f"{doc.name} cites tests that do not exist: {missing}"
        cited_files |= {REPO / path for path in re.findall(r"`(tests/[\w/]+\.py)`", text)}
    assert [path for path in sorted(cited_files) if not path.exists()] == []


def adopted(source: str, line: str) -> dict[str, object]:
    """config/environments.py with one ADOPTER CHOICES line replaced by `line`, run."""
    name = line.split("=", 1)[0].strip()
    (current,) = [x for x in source.splitlines() if x.startswith(f"{name} =") or x.startswith(f"{name}: ")]
    namespace: dict[str, object] = {"__name__": "adopted_environments"}
    exec(compile(source.replace(current, line, 1), "environments.py", "exec"), namespace)
    return namespace


def test_the_ci_snippet_runs_where_the_docs_say_to_put_it() -> None:
    """docs/operations.md's CI snippet, put among config/environments.py's ADOPTER CHOICES as it says,
    runs and turns prod's CI identities on (the earlier `ci=CiIdentities(...)` snippet raised NameError)."""
    (snippet,) = [
        body for language, body in blocks((REPO / "docs" / "operations.md").read_text()) if "GITHUB_REPOSITORY" in body
    ]
    line = next(x for x in snippet.splitlines() if x.startswith("GITHUB_REPOSITORY"))
    prod = adopted((REPO / "config" / "environments.py").read_text(), line)["PROD"]
    assert prod.ci is not None and prod.ci.repository == "octo-org/audio-inference"  # type: ignore[attr-defined]


def test_the_readmes_adoption_checklist_is_the_configs_one_place_and_its_snippet_runs() -> None:
    """Every choice the README's checklist names is an ADOPTER CHOICES constant of config/environments.py,
    and every such constant is in the checklist; the checklist's Python runs there as written."""
    from config import environments

    source = (REPO / "config" / "environments.py").read_text()
    block = source.split("# --- ADOPTER CHOICES", 1)[1].split("# ---", 1)[0]
    constants = set(re.findall(r"^([A-Z_]+)(?::[^=]*)? =", block, re.M))
    section = README.read_text().split("### Adopt it", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([A-Z][A-Z_]+)`", section)) & {n for n in dir(environments) if n.isupper()}
    assert constants and named == constants, (named, constants)
    python = [body for language, body in blocks(section) if language == "python"]
    assert python, "the checklist shows the edit"
    namespace: dict[str, object] = {"__name__": "adopted_environments"}
    edited = source
    for line in python[0].splitlines():
        if re.match(r"^[A-Z_]+ =", line):
            namespace = adopted(edited, line)
            name = line.split("=", 1)[0].strip()
            (current,) = [x for x in edited.splitlines() if x.startswith(f"{name} =") or x.startswith(f"{name}: ")]
            edited = edited.replace(current, line, 1)
    prod, dev = namespace["PROD"], namespace["DEV"]
    assert prod.region == dev.region == "eu-west-1"  # type: ignore[attr-defined]
    assert prod.state.bucket is None and prod.state.region == "eu-west-1"  # type: ignore[attr-defined]
    assert prod.state_bucket("123456789012") == "acme-audio-tfstate-123456789012-eu-west-1"  # type: ignore[attr-defined]
    assert prod.resource_prefix == "acme-audio-prod"  # type: ignore[attr-defined]
    assert prod.ci.repository == "acme/audio-api"  # type: ignore[attr-defined]
    assert prod.api.cors_allowed_origins == ("https://audio.acme.example",)  # type: ignore[attr-defined]
