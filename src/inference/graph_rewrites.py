"""Parts of a graph OpenVINO's CPU plugin runs poorly, rewritten into forms it runs well: for fast.

OpenVINO's CPU plugin vectorises a convolution across its channels, and an elementwise operation
along its innermost axis. With one channel in and out (a strided FIR filter, such as a CQT's
anti-aliasing downsampler), one channel out (a map-producing head), or an innermost axis of two (a
complex number's real and imaginary parts), most of each vector is idle: in Basic Pitch such parts
took over a third of `fast`'s time for a tenth of its arithmetic. Rewritten:

- **one channel in and out, stride S, K taps** (`fir_as_banded_matmul`): the signal cut into
  overlapping blocks (a Gather of constant indices), each block times a banded matrix whose column
  i holds the K taps shifted by S*i: P outputs per block.
- **C channels in, one out, stride 1** (`single_output_as_matmul`): one matrix product of the
  KH*KW taps by the C channels at every position, then the KH*KW shifted planes summed (one Gather
  of constant indices and a sum: fewer nodes, so less to compile, than a Slice per tap). A
  convolution whose input is a channel Concat reads the Concat's parts, one product each: the
  Concat is never built.
- **magnitudes of stacked complex values** (`stacked_magnitudes`): sqrt(sum((c * z)^2)) over a
  last axis of (re, im) built by stacking pairs, transposed in and out: computed as
  sqrt(c^2 * (re^2 + im^2)) on the pairs before stacking, in the original layout.

Each rewrite computes the same quantities in another order (f32: within a few ulps; measured at most
4e-7 on Basic Pitch's outputs), so it is for `fast`'s f32 stages only: `exact` keeps the validated
engine, and a bf16 stage's sums in another order would round differently.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

FIR_BLOCK = 64
"""Outputs per block of the banded product (32-128 measured within 4% of each other)."""


def rewrite_for_cpu(model: Any) -> int:
    """Rewrite every part of `model` (an `openvino.Model`, in place) that one of the forms fits; the
    number rewritten."""
    return fir_as_banded_matmul(model) + single_output_as_matmul(model) + stacked_magnitudes(model)


def _constants(values: Any, dtype: Any = np.int64) -> Any:
    import openvino.opset13 as ops

    return ops.constant(np.asarray(values, dtype=dtype))


def _static_dims(port: Any) -> list[int] | None:
    """The input's dimensions after the batch, if they are all known and it is 4-D."""
    shape = port.get_partial_shape()
    if shape.rank.is_dynamic or shape.rank.get_length() != 4 or not all(d.is_static for d in list(shape)[1:]):
        return None
    return [d.get_length() for d in list(shape)[1:]]


def _constant_weights(convolution: Any) -> np.ndarray | None:
    node = convolution.input(1).get_source_output().get_node()
    return node.get_data().astype(np.float32) if node.get_type_name() == "Constant" else None


def _convolutions(model: Any) -> Iterator[tuple[Any, np.ndarray, list[int], dict[str, Any]]]:
    """Each convolution with constant weights over an input of known (C, H, W): (node, weights, those
    dimensions, attributes). A list first: the caller replaces nodes as it goes."""
    for convolution in list(model.get_ordered_ops()):
        if convolution.get_type_name() != "Convolution":
            continue
        weights, dims = _constant_weights(convolution), _static_dims(convolution.input(0))
        if weights is not None and dims is not None:
            yield convolution, weights, dims, convolution.get_attributes()


def fir_as_banded_matmul(model: Any, block: int = FIR_BLOCK) -> int:
    """Convolutions of one channel in and out over a (batch, 1, 1, L) signal, stride S along L, no
    padding: as blocks of the signal times a banded (span x block) matrix."""
    import openvino.opset13 as ops

    rewritten = 0
    for convolution, weights, dims, attributes in _convolutions(model):
        if weights.shape[:3] != (1, 1, 1) or dims[:2] != [1, 1]:
            continue
        if list(attributes["pads_begin"]) != [0, 0] or list(attributes["pads_end"]) != [0, 0]:
            continue
        if list(attributes["dilations"]) != [1, 1] or attributes["strides"][0] != 1:
            continue
        taps = weights.reshape(-1)
        k, stride, length = taps.size, int(attributes["strides"][1]), dims[2]
        outputs = (length - k) // stride + 1
        blocks = -(-outputs // block)
        span = stride * (block - 1) + k
        needed = stride * block * (blocks - 1) + span
        signal = ops.reshape(convolution.input(0).get_source_output(), _constants([-1, length]), False)
        if needed > length:
            signal = ops.pad(signal, _constants([0, 0]), _constants([0, needed - length]), "constant")
        starts = np.arange(blocks)[:, None] * stride * block + np.arange(span)[None, :]
        pieces = ops.gather(signal, _constants(starts, np.int32), _constants(1))  # batch, blocks, span
        band = np.zeros((span, block), np.float32)
        for i in range(block):
            band[stride * i : stride * i + k, i] = taps
        filtered = ops.matmul(pieces, ops.constant(band), False, False)  # batch, blocks, block
        filtered = ops.reshape(filtered, _constants([-1, blocks * block]), False)
        filtered = ops.slice(filtered, _constants([0]), _constants([outputs]), _constants([1]), _constants([1]))
        convolution.output(0).replace(ops.reshape(filtered, _constants([-1, 1, 1, outputs]), False).output(0))
        rewritten += 1
    return rewritten


def single_output_as_matmul(model: Any) -> int:
    """Stride-1 convolutions of C > 1 channels in and one out over static (C, H, W): the taps by the
    channels at every position (one product per Concat part), then the KH*KW shifted planes summed."""
    import openvino.opset13 as ops

    rewritten = 0
    for convolution, weights, dims, attributes in _convolutions(model):
        if weights.shape[0] != 1 or weights.shape[1] == 1:
            continue
        if list(attributes["strides"]) != [1, 1] or list(attributes["dilations"]) != [1, 1]:
            continue
        _, channels, kh, kw = weights.shape
        _, height, width = dims
        (top, left), (bottom, right) = attributes["pads_begin"], attributes["pads_end"]
        out_h, out_w = height + top + bottom - kh + 1, width + left + right - kw + 1
        taps = weights[0].transpose(1, 2, 0).reshape(kh * kw, channels)  # row: one (kh, kw); column: a channel
        source = convolution.input(0).get_source_output()
        node = source.get_node()
        parts = [source]
        if node.get_type_name() == "Concat" and node.get_attributes()["axis"] in (1, -3):
            inputs = [port.get_source_output() for port in node.inputs()]
            if all(_static_dims(port) is not None for port in inputs):
                parts = inputs
        planes, first = None, 0
        for part in parts:
            n = part.get_partial_shape()[1].get_length()
            flat = ops.reshape(part, _constants([-1, n, height * width]), False)
            product = ops.matmul(ops.constant(np.ascontiguousarray(taps[:, first : first + n])), flat, False, False)
            planes = product if planes is None else ops.add(planes, product)
            first += n
        assert planes is not None and first == channels
        planes = ops.reshape(planes, _constants([-1, kh * kw, height, width]), False)
        planes = ops.pad(planes, _constants([0, 0, top, left]), _constants([0, 0, bottom, right]), "constant")
        padded_h, padded_w = height + top + bottom, width + left + right
        planes = ops.reshape(planes, _constants([-1, kh * kw * padded_h * padded_w]), False)
        # output (y, x) sums tap (r, c) of plane r*kw + c at (y + r, x + c): one Gather, one sum
        tap_rows, tap_columns = np.divmod(np.arange(kh * kw), kw)
        ys, xs = np.divmod(np.arange(out_h * out_w), out_w)
        where = (
            np.arange(kh * kw)[None, :] * padded_h * padded_w
            + (ys[:, None] + tap_rows[None, :]) * padded_w
            + (xs[:, None] + tap_columns[None, :])
        )
        gathered = ops.gather(planes, _constants(where, np.int32), _constants(1))  # batch, out_h*out_w, taps
        total = ops.reshape(ops.reduce_sum(gathered, _constants([2]), False), _constants([-1, 1, out_h, out_w]), False)
        convolution.output(0).replace(total.output(0))
        rewritten += 1
    return rewritten


def _source(node: Any, index: int = 0) -> Any:
    return node.input(index).get_source_output().get_node()


def _constant_value(node: Any, index: int) -> np.ndarray | None:
    source = _source(node, index)
    return source.get_data() if source.get_type_name() == "Constant" else None


def _constant_is(node: Any, index: int, *allowed: list[int]) -> bool:
    """Whether input `index` of `node` is a constant holding one of the `allowed` integer lists."""
    value = _constant_value(node, index)
    return value is not None and value.reshape(-1).tolist() in allowed


def _stacked_pairs(node: Any) -> list[tuple[Any, Any]] | None:
    """The (re, im) tensors of a Concat chain along axis 2 of pairs stacked along a new last axis
    (Concat on axis 3 of two Unsqueezed 3-D tensors), in order; None if it is not one."""
    if node.get_type_name() != "Concat":
        return None
    axis = node.get_attributes()["axis"]
    if axis in (2, -2):
        pairs: list[tuple[Any, Any]] = []
        for port in node.inputs():
            inner = _stacked_pairs(port.get_source_output().get_node())
            if inner is None:
                return None
            pairs += inner
        return pairs
    if axis not in (3, -1) or node.get_input_size() != 2:
        return None
    halves = [_source(node, i) for i in range(2)]
    if any(h.get_type_name() != "Unsqueeze" or h.get_output_partial_shape(0).rank.get_length() != 4 for h in halves):
        return None
    if any(len(h.output(0).get_target_inputs()) != 1 for h in halves):
        return None
    return [(halves[0].input(0).get_source_output(), halves[1].input(0).get_source_output())]


def stacked_magnitudes(model: Any) -> int:
    """Transpose(0,2,1) . Sqrt . ReduceSum(last) . Square . Multiply(c: (n, 1, 1)) . Transpose(0,2,1,3)
    . Slice over stacked (re, im) pairs: as sqrt(c^2 * (re^2 + im^2)) per pair, concatenated and sliced
    as the pairs were, with no transposes and no axis of two."""
    import openvino.opset13 as ops

    rewritten = 0
    for root in list(model.get_ordered_ops()):
        if root.get_type_name() != "Sqrt":
            continue
        consumers = list(root.output(0).get_target_inputs())
        after = consumers[0].get_node() if len(consumers) == 1 else None
        if after is None or after.get_type_name() != "Transpose":
            continue
        if not _constant_is(after, 1, [0, 2, 1]):
            continue
        total = _source(root)
        if total.get_type_name() != "ReduceSum" or total.get_attributes()["keep_dims"]:
            continue
        if not _constant_is(total, 1, [-1], [3]):
            continue
        square = _source(total)
        if (
            square.get_type_name() != "Multiply"
            or square.input(0).get_source_output() != square.input(1).get_source_output()
        ):
            continue
        scaled = _source(square)
        scale = _constant_value(scaled, 1) if scaled.get_type_name() == "Multiply" else None
        if scale is None or scale.ndim != 3 or scale.shape[1:] != (1, 1):
            continue
        swapped = _source(scaled)
        if swapped.get_type_name() != "Transpose" or not _constant_is(swapped, 1, [0, 2, 1, 3]):
            continue
        cut = _source(swapped)
        pairs = _stacked_pairs(_source(cut)) if cut.get_type_name() == "Slice" else None
        if not pairs or cut.get_output_partial_shape(0)[2].get_length() != scale.shape[0]:
            continue
        powers = [
            ops.unsqueeze(ops.add(ops.multiply(re, re), ops.multiply(im, im)), _constants([3])).output(0)
            for re, im in pairs
        ]
        stacked = ops.concat(powers, 2)  # batch, frames, bins, 1: the layout the pairs had, one value each
        cut.input(0).replace_source_output(stacked.output(0))  # the same slice, of one value per pair
        sliced = cut
        weights = ops.constant(np.square(scale.astype(np.float32)).reshape(1, 1, -1, 1))
        magnitudes = ops.sqrt(ops.multiply(sliced.output(0), weights))
        after.output(0).replace(ops.squeeze(magnitudes, _constants([3])).output(0))
        rewritten += 1
    if rewritten:
        model.validate_nodes_and_infer_types()
    return rewritten
