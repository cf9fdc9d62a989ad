"""The page carries its own Content-Security-Policy (issue #28): a `<meta>` in web/index.html that names
origins, never a wildcard, filled in by `make serve` and `make page`; the committed file fails closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract import page_policy
from operations import page as page_command

REPO = Path(__file__).resolve().parents[2]
INDEX = (REPO / "web" / "index.html").read_text()


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in policy.split(";"):
        name, *sources = directive.split()
        parsed[name] = sources
    return parsed


def test_the_committed_page_carries_a_policy_that_reaches_only_its_own_origin() -> None:
    carried = directives(page_policy.carried_policy(INDEX))
    assert carried["connect-src"] == ["'self'"]  # hosted as it is, it reaches nothing else
    assert carried["default-src"] == ["'self'"] and carried["object-src"] == ["'none'"]
    assert carried["base-uri"] == ["'none'"] and carried["form-action"] == ["'none'"]
    assert "frame-ancestors" not in carried  # ignored in a <meta>: the header carries it
    assert not any("*" in s or "unsafe" in s for sources in carried.values() for s in sources)
    assert INDEX.index('http-equiv="Content-Security-Policy"') < INDEX.index("<script"), "before any script"


def test_a_rendered_page_names_exactly_the_given_origins() -> None:
    api = "https://a1b2c3.execute-api.eu-west-1.amazonaws.com"
    bucket = "https://audio-inference-prod-input123.s3.amazonaws.com"
    rendered = page_policy.with_policy(INDEX, [f"{api}/v1", bucket, bucket])
    connect = directives(page_policy.carried_policy(rendered))["connect-src"]
    assert connect == ["'self'", api, bucket]  # origins, each once; a path is not an origin
    assert rendered.replace(page_policy.carried_policy(rendered), "") == INDEX.replace(
        page_policy.carried_policy(INDEX), ""
    ), "only the policy changes"
    header = directives(page_policy.header_policy([api]))
    assert header["frame-ancestors"] == ["'none'"] and header["connect-src"] == ["'self'", api]


@pytest.mark.parametrize(
    "bad",
    [
        "https://*.amazonaws.com",
        "http://api.example.com",
        "javascript:alert(1)",
        "https://",
        "ftp://files.example.com",
    ],
)
def test_a_wildcard_plain_http_off_loopback_or_odd_scheme_is_refused(bad: str) -> None:
    with pytest.raises(page_policy.PagePolicyError):
        page_policy.meta_policy([bad])


def test_loopback_may_be_plain_http_and_a_page_without_its_meta_is_refused() -> None:
    assert page_policy.origin("http://127.0.0.1:5000/bucket/key") == "http://127.0.0.1:5000"
    with pytest.raises(page_policy.PagePolicyError):
        page_policy.with_policy(INDEX.replace('http-equiv="Content-Security-Policy"', 'name="x"'), [])


def test_make_page_writes_the_page_as_make_serve_lays_it_out(tmp_path: Path) -> None:
    origins = ["https://abc.execute-api.us-east-1.amazonaws.com"]
    index = page_command.write_page(tmp_path / "site", origins)
    assert directives(page_policy.carried_policy(index.read_text()))["connect-src"] == ["'self'", *origins]
    copied = sorted(p.name for p in (tmp_path / "site" / "page").iterdir())
    assert copied == sorted(p.name for p in (REPO / "web").iterdir() if p.suffix in (".js", ".css"))
    with pytest.raises(page_command.ReleaseError):
        page_command.write_page(REPO / "web" / "out", origins)
