"""fast's int8 weights: rounded so that every kernel row keeps its sum (inference.runtimes), the fix for
the note map's shift on real music (docs/performance.md, Real music); small arrays, no model."""

from __future__ import annotations

import numpy as np
import pytest

from inference.runtimes import Int8Input, round_keeping_row_sums


def test_every_row_sums_to_its_exact_sum_rounded_and_no_value_moves_past_one_level():
    levels = np.random.default_rng(31).uniform(-127, 127, size=(8, 8, 3, 39))
    rounded = round_keeping_row_sums(levels)
    assert np.array_equal(rounded, np.round(rounded))
    assert np.array_equal(rounded.sum(axis=-1), np.round(levels.sum(axis=-1)))
    assert np.abs(rounded - np.round(levels)).max() == 1
    assert np.abs(rounded - levels).max() < 1.5
    # what it fixes: nearest rounding leaves rows whose levels sum off by more than one
    assert np.abs(np.round(levels).sum(axis=-1) - levels.sum(axis=-1)).max() > 1


@pytest.mark.parametrize(
    "row, expected",
    [
        ([0.4, 0.4, 0.4], [1, 0, 0]),  # 1.2 in all: one goes up, the first of equals
        ([-0.4, -0.4, -0.4], [-1, 0, 0]),
        ([0.1, 0.45, 0.3], [0, 1, 0]),  # the one rounded down furthest goes up
        ([0.6, 0.6, 0.6, 0.6], [0, 0, 1, 1]),  # 2.4: nearest sums to 4, so two go down, the first of equals
        ([3.0, -2.0, 5.0], [3, -2, 5]),  # on its levels already: unchanged
    ],
)
def test_the_fewest_values_move_the_furthest_rounded_first(row, expected):
    assert round_keeping_row_sums(np.array([row])).tolist() == [expected]


def test_an_unknown_weight_rounding_names_the_field_the_value_and_the_choices():
    with pytest.raises(ValueError, match=r"Int8Input.weight_rounding: 'floor' is not one of \['nearest', 'row-sums'\]"):
        Int8Input("tensor", 0.0, 1.0, weight_rounding="floor")
