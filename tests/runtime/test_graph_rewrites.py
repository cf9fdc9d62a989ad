"""The graph rewrites compute what the graph did: small OpenVINO models with each form (and the forms
the rewrites must leave alone) compiled before and after, outputs compared in f32; then Basic
Pitch's own f32 stages through `fast`'s split, rewritten and not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inference.graph_rewrites import (
    fir_as_banded_matmul,
    rewrite_for_cpu,
    single_output_as_matmul,
    stacked_magnitudes,
)
from inference.models.basic_pitch import constants as c
from inference.runtimes import open_openvino, split_at

ov = pytest.importorskip("openvino")
ops = pytest.importorskip("openvino.opset13")
F32 = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1}
rng = np.random.default_rng(7)


def run(model: Any, inputs: list[np.ndarray]) -> list[np.ndarray]:
    compiled = ov.Core().compile_model(model, "CPU", F32)
    result = compiled.create_infer_request().infer(dict(enumerate(inputs)))
    return [np.array(result[output]) for output in compiled.outputs]


def compare(build: Callable[[], tuple[Any, list[np.ndarray]]], rewrite: Callable[[Any], int], expected: int) -> None:
    """Build the model twice, rewrite one; the count rewritten and the outputs as before."""
    model, inputs = build()
    before = run(model, inputs)
    rewritten, _ = build()
    assert rewrite(rewritten) == expected
    after = run(rewritten, inputs)
    for old, new in zip(before, after, strict=True):
        assert old.shape == new.shape
        np.testing.assert_allclose(new, old, rtol=1e-5, atol=1e-5 * float(np.abs(old).max()))


def weights(*shape: int) -> Any:
    """The same weights for the same shape, so that both builds of a model are the same model."""
    return ops.constant(np.random.default_rng(list(shape)).standard_normal(shape).astype(np.float32))


@pytest.mark.parametrize(("length", "taps", "stride"), [(44098, 256, 2), (1000, 7, 3), (300, 256, 1), (64, 64, 5)])
def test_a_strided_fir_as_a_banded_product(length: int, taps: int, stride: int) -> None:
    signal = rng.standard_normal((2, 1, 1, length)).astype(np.float32)

    def build() -> tuple[Any, list[np.ndarray]]:
        x = ops.parameter([-1, 1, 1, length], np.float32)
        y = ops.convolution(x, weights(1, 1, 1, taps), [1, stride], [0, 0], [0, 0], [1, 1])
        return ov.Model([ops.relu(y)], [x]), [signal]

    compare(build, fir_as_banded_matmul, 1)


@pytest.mark.parametrize(
    ("channels", "kernel", "pads"),
    [(32, (7, 3), ([3, 1], [3, 1])), (8, (5, 5), ([2, 2], [2, 2])), (4, (3, 2), ([0, 1], [2, 0]))],
)
def test_one_output_channel_as_a_product_and_shifted_sums(channels: int, kernel: tuple[int, int], pads: Any) -> None:
    image = rng.standard_normal((2, channels, 17, 23)).astype(np.float32)

    def build() -> tuple[Any, list[np.ndarray]]:
        x = ops.parameter([-1, channels, 17, 23], np.float32)
        y = ops.convolution(x, weights(1, channels, *kernel), [1, 1], pads[0], pads[1], [1, 1])
        return ov.Model([ops.sigmoid(y)], [x]), [image]

    compare(build, single_output_as_matmul, 1)


def test_a_concat_input_is_read_part_by_part_and_never_built() -> None:
    parts = [rng.standard_normal((2, n, 9, 11)).astype(np.float32) for n in (5, 1)]

    def build() -> tuple[Any, list[np.ndarray]]:
        a, b = ops.parameter([-1, 5, 9, 11], np.float32), ops.parameter([-1, 1, 9, 11], np.float32)
        y = ops.convolution(ops.concat([a, b], 1), weights(1, 6, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1])
        return ov.Model([y], [a, b]), parts

    compare(build, single_output_as_matmul, 1)
    model, _ = build()
    single_output_as_matmul(model)
    assert not [op for op in model.get_ordered_ops() if op.get_type_name() == "Concat"]


def test_other_convolutions_are_left_as_they_are() -> None:
    """Several channels out, strides, dilations, padding on a FIR: not the forms rewritten."""
    image = rng.standard_normal((1, 3, 12, 40)).astype(np.float32)

    def build() -> tuple[Any, list[np.ndarray]]:
        x = ops.parameter([-1, 3, 12, 40], np.float32)
        many = ops.convolution(x, weights(4, 3, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1])
        strided = ops.convolution(x, weights(1, 3, 3, 3), [1, 2], [1, 1], [1, 1], [1, 1])
        dilated = ops.convolution(x, weights(1, 3, 3, 3), [1, 1], [2, 2], [2, 2], [2, 2])
        one = ops.convolution(
            ops.reduce_sum(x, ops.constant(np.array([1, 2])), True), weights(1, 1, 1, 9), [1, 2], [0, 4], [0, 4], [1, 1]
        )
        return ov.Model([many, strided, dilated, one], [x]), [image]

    compare(build, rewrite_for_cpu, 0)


def test_magnitudes_of_stacked_pairs_without_the_axis_of_two() -> None:
    """A CQT's tail: (re, im) pairs stacked, concatenated, sliced, transposed, scaled per bin, squared,
    summed, rooted and transposed back."""
    bins, frames = 5, 7
    halves = [rng.standard_normal((2, frames, bins)).astype(np.float32) for _ in range(6)]
    scale = (rng.random((13, 1, 1)) + 0.5).astype(np.float32)

    def build() -> tuple[Any, list[np.ndarray]]:
        inputs = [ops.parameter([-1, frames, bins], np.float32) for _ in range(6)]
        last = ops.constant(np.array([3]))
        stacks = [
            ops.concat([ops.unsqueeze(inputs[i], last), ops.unsqueeze(ops.negative(inputs[i + 1]), last)], 3)
            for i in (0, 2, 4)
        ]
        joined = ops.concat([ops.concat(stacks[:2], 2), stacks[2]], 2)  # batch, frames, 15, 2
        cut = ops.slice(
            joined, *(ops.constant(np.array(v)) for v in ([0, -13, 0, 0], [2**31] * 4, [1] * 4, [0, 2, 1, 3]))
        )
        swapped = ops.transpose(cut, ops.constant(np.array([0, 2, 1, 3])))
        scaled = ops.multiply(swapped, ops.constant(scale))
        total = ops.reduce_sum(ops.multiply(scaled, scaled), ops.constant(np.array([-1])), False)
        return ov.Model([ops.transpose(ops.sqrt(total), ops.constant(np.array([0, 2, 1])))], inputs), halves

    compare(build, stacked_magnitudes, 1)


def test_fast_stages_rewritten_give_what_they_gave(model_artifact: Path) -> None:
    """Basic Pitch's f32 front end (8 downsampling FIRs, the CQT's magnitudes) and note/onset heads (2
    one-channel convolutions, one over a Concat) rewritten; the whole f32 model's outputs within f32
    rounding of before."""
    core = ov.Core()
    front, rest = split_at(
        core.read_model(str(model_artifact)), core.read_model(str(model_artifact)), c.F32_FRONT_OUTPUT
    )
    _, back = split_at(rest, rest.clone(), c.F32_NOTE_ONSET_INPUTS)
    assert fir_as_banded_matmul(front) == 8
    assert stacked_magnitudes(front) == 1
    assert single_output_as_matmul(front) == 0
    assert rewrite_for_cpu(back) == 2

    audio = (rng.standard_normal((2, c.WINDOW_SAMPLES, 1)) * 0.2).astype(np.float32)
    outputs = [c.OUTPUT_NOTE, c.OUTPUT_ONSET, c.OUTPUT_CONTOUR]
    plain = open_openvino(model_artifact, threads=1, bf16=False).run(audio, outputs)
    rewritten = open_openvino(model_artifact, threads=1, bf16=False, rewrite_f32_stages=True).run(audio, outputs)
    for old, new in zip(plain, rewritten, strict=True):
        np.testing.assert_allclose(new, old, atol=2e-6)
