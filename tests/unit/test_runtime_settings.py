"""The runtime and precision settings: named errors, the environment's overrides, threads from the function's vCPUs."""

from __future__ import annotations

import os

import pytest

from contract.validation import ConfigError
from inference.config import InferenceParameters, load_config
from inference.runtimes import LAMBDA_MEMORY_VARIABLE, function_vcpus

ALLOWED_CPUS = len(os.sched_getaffinity(0))


def test_defaults_are_exact_on_onnxruntime_with_threads_from_the_function():
    p = load_config(environ={}).inference
    assert (p.precision, p.runtime, p.threads) == ("exact", "onnxruntime", 0)


def test_each_setting_is_read_from_its_variable():
    p = load_config(
        environ={"INFERENCE_PRECISION": "fast", "INFERENCE_RUNTIME": "openvino", "INFERENCE_THREADS": "3"}
    ).inference
    assert (p.precision, p.runtime, p.threads) == ("fast", "openvino", 3)


@pytest.mark.parametrize(
    "variable, value, field, allowed",
    [
        ("INFERENCE_PRECISION", "bf16", "inference.precision", "one of ('exact', 'fast')"),
        ("INFERENCE_RUNTIME", "tensorrt", "inference.runtime", "one of ('onnxruntime', 'openvino')"),
        ("INFERENCE_THREADS", "65", "inference.threads", "an integer from 0 to 64"),
        ("INFERENCE_THREADS", "-1", "inference.threads", "an integer from 0 to 64"),
        ("INFERENCE_THREADS", "1.5", "inference.threads", "an integer"),
    ],
)
def test_fails_with_the_field_the_value_and_what_is_allowed(variable, value, field, allowed):
    with pytest.raises(ConfigError) as e:
        load_config(environ={variable: value})
    assert e.value.field == field and allowed in str(e.value) and value in str(e.value)


def test_a_request_may_change_the_precision_and_nothing_else_of_the_engine():
    p = InferenceParameters().with_overrides(precision="fast")
    assert (p.precision, p.runtime, p.threads) == ("fast", "onnxruntime", 0)


@pytest.mark.parametrize(
    "memory_mb, vcpus",
    [("128", 1), ("1769", 1), ("1770", 2), ("3008", 2), ("4096", 3), ("10240", 6)],
)
def test_threads_follow_the_functions_memory_not_the_hosts_cores(memory_mb, vcpus):
    """Lambda's /proc may show the host: one vCPU per 1,769 MB, never more than the process may use."""
    assert function_vcpus({LAMBDA_MEMORY_VARIABLE: memory_mb}) == min(vcpus, ALLOWED_CPUS)


def test_threads_off_lambda_are_the_cpus_this_process_may_use():
    assert function_vcpus({}) == ALLOWED_CPUS
