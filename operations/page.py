#!/usr/bin/env python
"""The consumers' page for a deployed environment, with its Content-Security-Policy naming that stage.

    make page ENV=prod [OUT=build/page-prod]
        (.venv/bin/python -m operations.page --env prod --out build/page-prod)

Writes web/'s files laid out as `make serve` serves them (`index.html`, `page/*`), ready for any static
host (a bucket behind CloudFront, GitHub Pages, an intranet server): index.html's `<meta>` policy names
the deployed API's origin (the custom domain where one is set, else the stage's execute-api host) and
the input and output buckets' origins (the presigned upload and the result links), nothing else, so the
page cannot be made to send audio or a key anywhere else even where the host sends no header. The API
is found by its name in the environment's region, the buckets in the predict function's settings: run it
after `make deploy`, and again after a destroy and deploy (new names). The page's origin must be one the
environment allows (`api.cors_allowed_origins`). Bad input: one line, exit code 2.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from contract import page_policy
from contract.env_names import SERVICE_SETTINGS
from operations.build_and_push import EXPECTED_ERRORS, ReleaseError, report

REPO = Path(__file__).resolve().parent.parent
WEB = REPO / "web"
PAGE_SUFFIXES = (".html", ".js", ".css")
"""What is copied from web/ (its screenshots and anything else stay behind)."""


def api_origin(env: Any, apigw: Any) -> str:
    """The origin the page calls: https://<custom_domain>, or the stage's execute-api host."""
    if env.api.custom_domain:
        return f"https://{env.api.custom_domain}"
    name = f"{env.resource_prefix}-api"
    found = [api for page in apigw.get_paginator("get_rest_apis").paginate() for api in page.get("items", [])]
    ours = [api["id"] for api in found if api.get("name") == name]
    if len(ours) != 1:
        what = "no REST API" if not ours else f"{len(ours)} REST APIs"
        raise ReleaseError(
            f"{env.name}: {what} named {name} in {env.region} (deploy first: make deploy ENV={env.name})"
        )
    return f"https://{ours[0]}.execute-api.{env.region}.amazonaws.com"


def bucket_origins(env: Any, lambda_client: Any) -> list[str]:
    """Both hosts a presigned link to the buckets may name: the global one botocore signs for, and the
    regional one S3 redirects a new bucket's requests to."""
    function = f"{env.resource_prefix}-predict"
    try:
        variables = lambda_client.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    except lambda_client.exceptions.ResourceNotFoundException:
        raise ReleaseError(f"{env.name}: no function {function} (deploy first: make deploy ENV={env.name})") from None
    buckets = [variables[SERVICE_SETTINGS[field]] for field in ("input_bucket", "output_bucket")]
    return [
        host
        for b in buckets
        for host in (f"https://{b}.s3.amazonaws.com", f"https://{b}.s3.{env.region}.amazonaws.com")
    ]


def write_page(out: Path, connect_origins: list[str]) -> Path:
    """web/'s page files under `out` (index.html at the top, the rest under page/), the policy filled in."""
    if out.resolve() == WEB.resolve() or WEB.resolve() in out.resolve().parents:
        raise ReleaseError(f"--out {out}: a folder outside web/ is needed (web/ is the source)")
    if out.exists():
        shutil.rmtree(out)
    (out / "page").mkdir(parents=True)
    index = (WEB / "index.html").read_text()
    (out / "index.html").write_text(page_policy.with_policy(index, connect_origins))
    for source in sorted(WEB.iterdir()):
        if source.suffix in PAGE_SUFFIXES and source.name != "index.html":
            shutil.copyfile(source, out / "page" / source.name)
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="operations.page", description=__doc__.split("\n")[0])
    parser.add_argument("--env", required=True, help="the environment: dev or prod (config/environments.py)")
    parser.add_argument("--out", default="", help="where to write the page (default build/page-<env>)")
    args = parser.parse_args(argv)
    try:
        from config.environments import get_environment
        from contract.validation import ConfigError

        try:
            env = get_environment(args.env)
        except ConfigError as exc:
            raise ReleaseError(str(exc)) from None
        import boto3

        origins = [
            api_origin(env, boto3.client("apigateway", region_name=env.region)),
            *bucket_origins(env, boto3.client("lambda", region_name=env.region)),
        ]
        index = write_page(Path(args.out or REPO / "build" / f"page-{env.name}"), origins)
        print(f"wrote {index.parent}/ for {env.stack_name}: connect-src {page_policy.connect_sources(origins)}")
        allowed = ", ".join(env.api.cors_allowed_origins)
        print(f"host it on an origin {env.name} allows (api.cors_allowed_origins: {allowed})")
        return 0
    except (*EXPECTED_ERRORS, page_policy.PagePolicyError) as exc:
        return report(exc)


if __name__ == "__main__":
    sys.exit(main())
