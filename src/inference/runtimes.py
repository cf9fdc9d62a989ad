"""The engines that run a model's ONNX file: onnxruntime and OpenVINO, behind one small call.

Why two: the model is nearly all of a transcription's time, and Lambda bills for exactly that.
onnxruntime in f32 is what the results were validated on, bit for bit; OpenVINO can compute the
heavy convolutions in bf16 on CPUs that have it (AVX512_BF16, AMX), which is what `fast` buys.
OpenVINO silently computes in bf16 on such CPUs unless told `INFERENCE_PRECISION_HINT=f32`, so
every OpenVINO session here states its precision hint. Both engines are imported only when a session
is opened: a runtime that is not chosen costs no import time.
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from inference.config import PRECISIONS, RUNTIMES
from inference.errors import ModelArtifactUnreadableError
from inference.graph_rewrites import rewrite_for_cpu

__all__ = [
    "PRECISIONS",
    "RUNTIMES",
    "WEIGHT_ROUNDINGS",
    "Int8Input",
    "Session",
    "cpu_has_bf16",
    "cpu_has_int8",
    "function_vcpus",
    "open_onnxruntime",
    "open_openvino",
    "round_keeping_row_sums",
]

LAMBDA_MB_PER_VCPU = 1769
"""Lambda gives one vCPU per 1,769 MB of memory (AWS's figure), up to six at 10,240 MB."""
LAMBDA_MEMORY_VARIABLE = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
"""Set by Lambda itself on every function (MB)."""


def function_vcpus(environ: Mapping[str, str] | None = None) -> int:
    """The vCPUs this function may use: from its memory on Lambda (whose /proc may show the host's
    cores), else the CPUs this process is allowed to run on."""
    environ = os.environ if environ is None else environ
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    memory = environ.get(LAMBDA_MEMORY_VARIABLE, "")
    if memory.isdigit() and int(memory) > 0:
        return max(1, min(allowed, math.ceil(int(memory) / LAMBDA_MB_PER_VCPU)))
    return max(1, allowed)


class Session(Protocol):
    runtime: str
    compute: str
    """The arithmetic it really does: "f32", "bf16", "int8", or a mix ("f32+bf16", "f32+int8")."""

    def run(self, batch: np.ndarray, outputs: Sequence[str]) -> list[np.ndarray]:
        """The named outputs for one batch of inputs (the model's single input)."""


@dataclass
class OnnxRuntimeSession:
    """onnxruntime's CPU provider in f32, all graph optimisations: the results' reference."""

    runtime = "onnxruntime"
    compute = "f32"
    _session: Any
    _input: str

    def run(self, batch: np.ndarray, outputs: Sequence[str]) -> list[np.ndarray]:
        return list(self._session.run(list(outputs), {self._input: batch}))


def open_onnxruntime(artifact: Path, *, threads: int) -> OnnxRuntimeSession:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(artifact), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ModelArtifactUnreadableError(f"{artifact} is not a loadable ONNX model: {exc}") from exc
    return OnnxRuntimeSession(session, session.get_inputs()[0].name)


@dataclass
class OpenVinoSession:
    """One or two OpenVINO compiled models on the CPU, run in sequence (a mixed-precision split: the
    first stage's outputs are the second's inputs, in order), each with one reused infer request."""

    runtime = "openvino"
    compute: str
    _stages: list[tuple[Any, Any]]
    """(compiled model, infer request) per stage, in order."""
    _rows: int | None = None
    """The batch the stages were compiled for (None: any); other batches go through in such pieces,
    the last one padded with zeros."""

    def run(self, batch: np.ndarray, outputs: Sequence[str]) -> list[np.ndarray]:
        rows = self._rows
        if rows is None or batch.shape[0] == rows:
            return self._run(batch, outputs)
        pieces = []
        for first in range(0, batch.shape[0], rows):
            piece = batch[first : first + rows]
            if piece.shape[0] < rows:
                piece = np.concatenate([piece, np.zeros((rows - piece.shape[0], *piece.shape[1:]), piece.dtype)])
            pieces.append([out[: batch.shape[0] - first] for out in self._run(piece, outputs)])
        return [np.concatenate([piece[i] for piece in pieces]) for i in range(len(outputs))]

    def _run(self, batch: np.ndarray, outputs: Sequence[str]) -> list[np.ndarray]:
        # no copies between stages: each reads its inputs in place (the batch, or the outputs of the
        # stage before, which stay put until that stage runs again, on the next call)
        values: list[Any] = [np.ascontiguousarray(batch, dtype=np.float32)]
        for compiled, request in self._stages[:-1]:
            result = request.infer(dict(enumerate(values)), share_inputs=True, share_outputs=True)
            values = [result[output] for output in compiled.outputs]
        compiled, request = self._stages[-1]
        result = request.infer(dict(enumerate(values)), share_inputs=True, share_outputs=True)
        # the request reuses its output buffers on the next call: copy what we hand out
        return [np.array(result[compiled.output(name)], copy=True) for name in outputs]


WEIGHT_ROUNDINGS = ("nearest", "row-sums")


@dataclass(frozen=True)
class Int8Input:
    """A tensor whose consuming convolutions run in int8: the tensor quantized to 256 levels over
    [low, high] (calibrated), each convolution's weights to 255 levels per output channel over
    [-max |w|, max |w|]. OpenVINO's low-precision transformations turn these FakeQuantize pairs into
    u8 x i8 convolutions (VNNI where the CPU has it)."""

    tensor: str
    low: float
    high: float
    convolutions: tuple[str, ...] = ()
    """Which of the convolutions reading it (friendly-name prefixes); all of them when empty."""
    weight_rounding: str = "row-sums"
    """How the weights reach their levels: "nearest" (each to its nearest level), or "row-sums" (the
    nearest, then in each kernel row the fewest weights moved one level so the row's levels sum to its
    exact sum, rounded: `round_keeping_row_sums`). Nearest rounding leaves each row's sum off by up to
    half its width in levels, and on a smooth input (a spectrogram) that error adds up into a shift:
    docs/performance.md, Real music."""

    def __post_init__(self) -> None:
        if self.weight_rounding not in WEIGHT_ROUNDINGS:
            raise ValueError(
                f"Int8Input.weight_rounding: {self.weight_rounding!r} is not one of {list(WEIGHT_ROUNDINGS)}"
            )


def round_keeping_row_sums(levels: np.ndarray) -> np.ndarray:
    """`levels` (weights divided by their level step) rounded to integers so that every row (the last
    axis) sums to its exact sum rounded: each value to its nearest integer, then in a row short of
    (over) its sum by n, the n values rounded down (up) the furthest moved one up (down), ties in
    order. No value moves more than one level from its nearest, and a row's rounding error sums to
    at most 0.5 level, where nearest rounding leaves up to half the row's length."""
    exact = np.asarray(levels, dtype=np.float64)
    rounded = np.round(exact)
    residual = exact - rounded
    need = np.round(residual.sum(axis=-1, keepdims=True))
    rank_up = np.argsort(np.argsort(-residual, axis=-1, kind="stable"), axis=-1, kind="stable")
    rank_down = np.argsort(np.argsort(residual, axis=-1, kind="stable"), axis=-1, kind="stable")
    rounded += (rank_up < need).astype(np.float64)
    rounded -= (rank_down < -need).astype(np.float64)
    return rounded


def cpu_has_int8(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether fast's int8 convolution pays here: x86_64 with VNNI (AVX512_VNNI or AVX-VNNI, the
    8-bit dot products int8 was measured with) and OpenVINO's CPU plugin reporting INT8. Without VNNI
    int8 goes through 16-bit multiply-adds, unmeasured; arm64's int8 path was not measured either:
    there fast runs exact rather than risk being slower."""
    import openvino as ov
    import openvino.properties as props

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        flags = {flag for line in cpuinfo.read_text().splitlines() if line.startswith("flags") for flag in line.split()}
    except OSError:
        return False
    if not flags & {"avx512_vnni", "avx_vnni"}:
        return False
    return "INT8" in ov.Core().get_property("CPU", props.device.capabilities())


def cpu_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin computes bf16 natively here (AVX512_BF16 or AMX)."""
    import openvino as ov
    import openvino.properties as props

    return "BF16" in ov.Core().get_property("CPU", props.device.capabilities())


def open_openvino(
    artifact: Path,
    *,
    threads: int,
    bf16: bool,
    f32_until: Sequence[str] = (),
    f32_from: Sequence[str] = (),
    int8: Sequence[Int8Input] = (),
    rewrite_f32_stages: bool = False,
    rows: int | None = None,
    cache_dir: Path | None = None,
) -> OpenVinoSession:
    """The model in f32 (OpenVINO is told so: on a CPU with bf16 its default is bf16); or in bf16 (what
    its CPU plugin converts: it keeps only what it must in f32), with everything up to the tensors named
    in `f32_until` (together a cut of the graph) kept in f32 as a first stage of its own.

    Why a split: the plugin does not honour per-node precision marks for bf16 (measured with 2026.4),
    and a model's front end (a spectrogram, a log) is often where bf16's 8-bit mantissa hurts while
    its heavy convolutions come after it. The caller checks `cpu_has_bf16` first: without it bf16
    would be emulated, slower than f32. `int8` runs the convolutions reading those tensors in int8,
    whatever the stage's precision (the caller checks `cpu_has_int8`). `rewrite_f32_stages` puts the f32
    stages' parts OpenVINO runs poorly into forms it runs well (`inference.graph_rewrites`: one-channel
    convolutions as matrix products, complex magnitudes without their axis of two; the same sums in
    another order, so not for exact). `rows` compiles for batches of that many inputs
    (static shapes: OpenVINO's CPU plugin runs them ~1.2x faster than a dynamic batch; other batches
    are run in such pieces). `cache_dir` keeps compiled models across loads."""
    import openvino as ov
    import openvino.properties as props
    import openvino.properties.hint as hints

    core = ov.Core()
    common: dict[str, Any] = {
        props.inference_num_threads(): threads,
        hints.performance_mode(): hints.PerformanceMode.LATENCY,
    }
    if cache_dir is not None:
        common[props.cache_dir()] = str(cache_dir)
    f32 = {**common, hints.inference_precision(): ov.Type.f32}
    reduced = {**common, hints.inference_precision(): ov.Type.bf16 if bf16 else ov.Type.f32}

    def read() -> Any:
        model = quantize_inputs(core.read_model(str(artifact)), int8)
        if rows is not None:
            shape = model.input(0).get_partial_shape()
            shape[0] = rows
            model.reshape(shape)
        return model

    def in_f32(graph: Any) -> Any:
        """An f32 stage, rewritten if asked (in bf16 the rewrites' other summation order would round
        differently, so bf16 stages keep theirs)."""
        if rewrite_f32_stages:
            rewrite_for_cpu(graph)
        return graph

    kinds = {"f32": not bf16 or bool(f32_until or f32_from), "bf16": bf16, "int8": bool(int8)}
    compute = "+".join(kind for kind, used in kinds.items() if used)
    try:
        if not bf16 or not (f32_until or f32_from):
            rewrite = rewrite_f32_stages and not bf16
            whole = in_f32(read()) if rewrite else read() if int8 or rows else str(artifact)
            compiled = core.compile_model(whole, "CPU", reduced)
            return OpenVinoSession(compute, [(compiled, compiled.create_infer_request())], rows)
        plan: list[tuple[Any, dict[str, Any]]] = []
        rest = read()
        if f32_until:
            front, rest = split_at(rest, read(), f32_until)
            plan.append((in_f32(front), f32))
        if f32_from:
            middle, back = split_at(rest, rest.clone(), f32_from)
            plan += [(middle, reduced), (in_f32(back), f32)]
        else:
            plan.append((rest, reduced))
        stages = [core.compile_model(graph, "CPU", config) for graph, config in plan]
    except ModelArtifactUnreadableError:
        raise
    except Exception as exc:  # OpenVINO raises RuntimeError subclasses with the reader's message
        raise ModelArtifactUnreadableError(f"{artifact} is not a loadable ONNX model: {exc}") from exc
    return OpenVinoSession(compute, [(stage, stage.create_infer_request()) for stage in stages], rows)


def quantize_inputs(model: Any, inputs: Sequence[Int8Input]) -> Any:
    """`model` with FakeQuantize on each named tensor where convolutions read it, and on those
    convolutions' weights (see Int8Input). A name the model lacks, or one no convolution reads, is
    ModelArtifactUnreadableError: a silent no-op would run f32 while the result says int8."""
    import openvino as ov

    for spec in inputs:
        convolutions = [
            consumer.get_node()
            for op in model.get_ops()
            for output in op.outputs()
            if spec.tensor in output.get_names()
            for consumer in output.get_target_inputs()
            if consumer.get_node().get_type_name() == "Convolution"
            and consumer.get_index() == 0
            and (not spec.convolutions or consumer.get_node().get_friendly_name().startswith(spec.convolutions))
        ]
        if not convolutions:
            raise ModelArtifactUnreadableError(f"the model has no convolution reading a tensor named {spec.tensor!r}")
        source = convolutions[0].input(0).get_source_output()
        low, high = (ov.opset13.constant(np.float32(v)) for v in (spec.low, spec.high))
        quantized = ov.opset13.fake_quantize(source, low, high, low, high, 256)
        for convolution in convolutions:
            convolution.input(0).replace_source_output(quantized.output(0))
            weights = convolution.input(1).get_source_output()
            if weights.get_node().get_type_name() != "Constant":
                raise ModelArtifactUnreadableError(f"the convolution reading {spec.tensor!r} has no constant weights")
            values = weights.get_node().get_data()
            reach = np.abs(values).reshape(values.shape[0], -1).max(axis=1).astype(np.float32)
            reach = np.maximum(reach, np.float32(1e-12)).reshape(-1, *[1] * (values.ndim - 1))
            bound, lower = ov.opset13.constant(reach), ov.opset13.constant(-reach)
            if spec.weight_rounding == "row-sums":  # the weights on their levels already: the FakeQuantize keeps them
                step = reach.astype(np.float64) / 127
                levels = np.clip(round_keeping_row_sums(values / step), -127, 127)
                weights = ov.opset13.constant((levels * step).astype(values.dtype)).output(0)
            convolution.input(1).replace_source_output(
                ov.opset13.fake_quantize(weights, lower, bound, lower, bound, 255).output(0)
            )
    return model


def split_at(model: Any, copy: Any, tensors: Sequence[str]) -> tuple[Any, Any]:
    """Two models from two reads of one: the graph up to `tensors` (its outputs, in that order), and
    the rest, which takes them as its inputs. The tensors must cut the graph: the rest may not reach
    the original input except through them (else ModelArtifactUnreadableError, as for a missing name)."""
    import openvino as ov

    def output_named(graph: Any, tensor: str) -> Any:
        for op in graph.get_ops():
            if op.get_type_name() == "Result":  # it repeats its source's names: cut at the source
                continue
            for output in op.outputs():
                if tensor in output.get_names():
                    return output
        raise ModelArtifactUnreadableError(f"the model has no tensor named {tensor!r} to split its precision at")

    front = ov.Model([output_named(model, t) for t in tensors], model.get_parameters(), "f32-front")
    stage_inputs = []
    for tensor in tensors:
        cut = output_named(copy, tensor)
        stage_input = ov.opset13.parameter(cut.get_partial_shape(), cut.get_element_type(), name=f"cut:{tensor}")
        for consumer in list(cut.get_target_inputs()):
            consumer.replace_source_output(stage_input.output(0))
        stage_inputs.append(stage_input)
    back = ov.Model(copy.get_results(), stage_inputs, "reduced-back")
    original = {p.get_friendly_name() for p in copy.get_parameters()}
    if any(op.get_type_name() == "Parameter" and op.get_friendly_name() in original for op in back.get_ordered_ops()):
        raise ModelArtifactUnreadableError(
            f"the tensors {list(tensors)} do not cut the model: its input reaches past them"
        )
    return front, back
