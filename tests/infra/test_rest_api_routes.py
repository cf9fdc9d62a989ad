"""Routes as data: one `add_route` call brings every part a route needs, and the deployment follows."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from config.environments import DEV
from tests.support.construct_props import function_props, rest_api_props
from tests.support.stacks import resources_of

pytestmark = pytest.mark.slow


def synth_api(*routes: tuple[str, str, bool | None]) -> dict[str, Any]:
    # Imported here: the AWS bindings take ~20 s to import, which `make test-fast` never pays.
    import cdktf

    from infra_constructs.container_function import ContainerFunction
    from infra_constructs.rest_api import RestApi
    from stacks.base import EnvironmentStack

    stack = EnvironmentStack(cdktf.Testing.app(), "routes", DEV)
    function = ContainerFunction(stack, "fn", function_props(function_name="jobs", image_uri="repo:tag"))
    api = RestApi(stack, "api", rest_api_props(api_name="jobs-api", api_key_required=True))
    for method, path, key in routes:
        api.add_route(method, path, function, api_key_required=key)
    synthesized: dict[str, Any] = json.loads(cdktf.Testing.synth(stack))
    return synthesized


def by_path(stack: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Resources of a type keyed by their construct id: api_jobs-post_1A2B3C4D -> jobs-post."""
    return {re.sub(r"^api_(.*)_[0-9A-F]{8}$", r"\1", key): r for key, r in resources_of(stack, resource_type).items()}


JOBS = (("POST", "/jobs", None), ("GET", "/jobs/{job_id}", None), ("GET", "/health", False))


def test_nested_paths_and_path_parameters_become_a_resource_tree() -> None:
    stack = synth_api(*JOBS)
    resources = by_path(stack, "aws_api_gateway_resource")
    assert {k: r["path_part"] for k, r in resources.items()} == {
        "jobs-resource": "jobs",
        "jobs-by-job_id-resource": "{job_id}",
        "health-resource": "health",
    }
    assert resources["jobs-by-job_id-resource"]["parent_id"].startswith("${aws_api_gateway_resource.api_jobs-resource_")
    assert resources["jobs-resource"]["parent_id"].endswith(".root_resource_id}")


def test_each_route_is_a_proxy_with_its_own_scoped_permission() -> None:
    stack = synth_api(*JOBS)
    integrations = by_path(stack, "aws_api_gateway_integration")
    for route in ("jobs-post", "jobs-by-job_id-get", "health-get"):
        assert integrations[f"{route}-integration"]["type"] == "AWS_PROXY"
        assert integrations[f"{route}-integration"]["uri"].endswith(".invoke_arn}")
    permissions = {p["statement_id"]: p["source_arn"] for p in resources_of(stack, "aws_lambda_permission").values()}
    assert {k: v.split("}", 1)[1] for k, v in permissions.items()} == {
        "AllowApiGatewayPostJobs": "/*/POST/jobs",
        "AllowApiGatewayGetJobsJobId": "/*/GET/jobs/*",  # a path parameter matches any value
        "AllowApiGatewayGetHealth": "/*/GET/health",
    }


def test_api_key_follows_the_api_unless_the_route_says_otherwise() -> None:
    methods = by_path(synth_api(*JOBS), "aws_api_gateway_method")
    assert methods["jobs-post"]["api_key_required"] is True
    assert methods["jobs-by-job_id-get"]["api_key_required"] is True
    assert methods["health-get"]["api_key_required"] is False
    assert all(m["api_key_required"] is False for k, m in methods.items() if k.endswith("-options"))


def test_one_preflight_per_resource_with_that_resources_methods() -> None:
    stack = synth_api(("POST", "/jobs", None), ("GET", "/jobs", None), ("GET", "/jobs/{job_id}", None))
    responses = by_path(stack, "aws_api_gateway_integration_response")
    allowed = {
        k: r["response_parameters"]["method.response.header.Access-Control-Allow-Methods"] for k, r in responses.items()
    }
    assert allowed == {
        "jobs-options-integration-200": "'GET,OPTIONS,POST'",
        "jobs-by-job_id-options-integration-200": "'GET,OPTIONS'",
    }
    gateway = resources_of(stack, "aws_api_gateway_gateway_response").values()
    assert {g["response_parameters"]["gatewayresponse.header.Access-Control-Allow-Methods"] for g in gateway} == {
        "'GET,OPTIONS,POST'"
    }


def test_every_part_of_every_route_is_in_the_deployment_trigger() -> None:
    stack = synth_api(*JOBS)
    (deployment,) = resources_of(stack, "aws_api_gateway_deployment").values()
    route_types = (
        "aws_api_gateway_resource",
        "aws_api_gateway_method",
        "aws_api_gateway_integration",
        "aws_api_gateway_method_response",
        "aws_api_gateway_integration_response",
        "aws_api_gateway_gateway_response",
    )
    parts = {f"{t}.{key}" for t in route_types for key in resources_of(stack, t)}
    assert set(deployment["depends_on"]) == parts
    for part in parts:
        assert f"{part}.id" in deployment["triggers"]["resources"], part
    for key in resources_of(stack, "aws_api_gateway_integration"):
        if "options" not in key:
            assert f"aws_api_gateway_integration.{key}.uri" in deployment["triggers"]["resources"]


def test_adding_a_route_or_changing_one_redeploys() -> None:
    def definition(*routes: tuple[str, str, bool | None]) -> str:
        (deployment,) = resources_of(synth_api(*routes), "aws_api_gateway_deployment").values()
        trigger: str = deployment["triggers"]["definition"]
        return trigger

    base = definition(("POST", "/jobs", None))
    assert definition(("POST", "/jobs", None)) == base, "the trigger is deterministic"
    assert definition(("POST", "/jobs", None), ("GET", "/jobs/{job_id}", None)) != base
    assert definition(("POST", "/jobs", False)) != base


@pytest.mark.parametrize(
    "method, path, error",
    [
        ("FETCH", "/jobs", "route method 'FETCH' is invalid"),
        ("GET", "jobs", "route path 'jobs' is invalid"),
        ("GET", "/jobs/", "route path '/jobs/' is invalid"),
        ("GET", "/jobs/{job id}", "route path '/jobs/{job id}' is invalid"),
    ],
)
def test_fails_on_a_malformed_route(method: str, path: str, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("{", r"\{").replace("}", r"\}")):
        synth_api((method, path, None))


def test_fails_on_a_route_added_twice() -> None:
    with pytest.raises(ValueError, match="route POST /jobs already exists"):
        synth_api(("POST", "/jobs", None), ("post", "/jobs", None))


def test_the_deployment_trigger_does_not_depend_on_how_many_references_came_before() -> None:
    """Unresolved references are numbered in creation order; the trigger must not hash those numbers, or
    any unrelated change earlier in a stack would redeploy the API."""
    import cdktf
    from cdktf_cdktf_provider_aws.sns_topic import SnsTopic

    from infra_constructs.rest_api import RestApi
    from stacks.base import EnvironmentStack

    def trigger(extra_references: int) -> str:
        stack = EnvironmentStack(cdktf.Testing.app(), "tokens", DEV)
        topic = SnsTopic(stack, "topic", name="t")
        for _ in range(extra_references):
            _ = topic.arn  # each access makes a new token
        api = RestApi(stack, "api", rest_api_props(api_name="tokens-api", kms_key_arn=topic.arn))
        api.add_route("GET", "/health", api_target(stack), api_key_required=False)
        synthesized = json.loads(cdktf.Testing.synth(stack))
        (deployment,) = resources_of(synthesized, "aws_api_gateway_deployment").values()
        definition: str = deployment["triggers"]["definition"]
        return definition

    assert trigger(0) == trigger(7)


def test_a_new_static_answer_redeploys_the_stage() -> None:
    """A MOCK route's answer (the models /health lists) is updated in place on its integration response;
    the stage serves it only after a new deployment, so the answer must be part of the trigger."""
    import cdktf

    from infra_constructs.rest_api import RestApi
    from stacks.base import EnvironmentStack

    def trigger(body: str) -> str:
        stack = EnvironmentStack(cdktf.Testing.app(), "mock", DEV)
        api = RestApi(stack, "api", rest_api_props(api_name="mock-api"))
        api.add_mock_route("GET", "/health", body=body, api_key_required=False)
        synthesized = json.loads(cdktf.Testing.synth(stack))
        (deployment,) = resources_of(synthesized, "aws_api_gateway_deployment").values()
        definition: str = deployment["triggers"]["definition"]
        return definition

    one = '{"models": [{"name": "basic-pitch"}]}'
    assert trigger(one) == trigger(one)
    assert trigger(one) != trigger('{"models": [{"name": "basic-pitch"}, {"name": "silero-vad"}]}')


def api_target(stack: Any) -> Any:
    from infra_constructs.container_function import ContainerFunction

    return ContainerFunction(stack, "fn", function_props(function_name="tokens", image_uri="repo:tag"))
