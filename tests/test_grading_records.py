"""Unit tests of vaecourse.grading: the records test cells publish and the comparison the grader runs."""

import json
import math

import numpy as np
import pytest
import torch

from vaecourse.grading import RECORD_MIME, _plain, assert_close, assert_equal, compare, record, records_of, summarize


def test_plain_values_are_strict_json_and_keep_shape_and_dtype():
    value = _plain([torch.tensor([[1.0, float("nan")], [float("inf"), -float("inf")]]), np.arange(3), 2.5, True, "x"])
    text = json.dumps(value, allow_nan=False)  # raises on NaN or infinity
    tensor, array, number, flag, word = json.loads(text)
    assert tensor["shape"] == [2, 2] and tensor["dtype"] == "float32"
    assert tensor["data"] == [[1.0, "nan"], ["inf", "-inf"]]
    assert array == {"shape": [3], "dtype": "int64", "data": [0, 1, 2]}
    assert (number, flag, word) == (2.5, True, "x")
    with pytest.raises(TypeError, match="cannot record"):
        _plain(object())


def test_compare_within_and_beyond_tolerance():
    want = _plain(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert compare(want, _plain(torch.tensor([1.0, 2.0, 3.0 + 1e-9], dtype=torch.float64)), 1e-6, 0) is None
    reason = compare(want, _plain(torch.tensor([1.0, 2.5, 3.0], dtype=torch.float64)), 1e-6, 0)
    assert "1 of 3 values differ" in reason and "flat index 1" in reason
    assert "shape" in compare(want, _plain(torch.zeros(2, dtype=torch.float64)), 1, 1)
    assert "dtype" in compare(want, _plain(torch.tensor([1.0, 2.0, 3.0])), 1, 1)


def test_compare_nan_inf_and_scalars():
    nan_inf = _plain(torch.tensor([float("nan"), float("inf")]))
    assert compare(nan_inf, nan_inf, 0, 0) is None
    assert compare(nan_inf, _plain(torch.tensor([0.0, float("inf")])), 1, 1) == "NaN in different places"
    assert compare(_plain(torch.tensor([float("inf")])), _plain(torch.tensor([1e38])), 1e-3, 0) is not None
    assert compare(3.0, 3.0 + 1e-12, 1e-9, 0) is None and compare(3.0, 3.1, 1e-9, 0) is not None
    assert compare(3, True, 1, 1) is not None, "a bool must not pass for a number"
    assert compare(True, 1, 0, 0) is not None and compare("float64", "float64", 0, 0) is None
    assert compare("nan", "nan", 0, 0) is None and compare(math.pi, "x", 1, 1) is not None


def test_compare_nested_lists_and_dicts():
    want = _plain({"kl": torch.ones(2), "nll": [1.0, 2.0]})
    assert compare(want, _plain({"kl": torch.ones(2), "nll": [1.0, 2.0]}), 0, 0) is None
    assert compare(want, _plain({"kl": torch.ones(2)}), 0, 0).startswith("expected the keys")
    assert compare(want, _plain({"kl": torch.ones(2), "nll": [1.0, 2.5]}), 0, 0).startswith("nll: item 1")


def test_assertions_say_expected_got_and_hint():
    with pytest.raises(AssertionError) as failure:
        assert_close(torch.zeros(3), torch.ones(3), what="the KL", hint="check the sign")
    message = str(failure.value)
    assert message.startswith("the KL: expected") and "got" in message and message.endswith("Hint: check the sign")
    assert_close(torch.ones(3), torch.ones(3) + 1e-9, what="x", hint="y")
    with pytest.raises(AssertionError, match=r"shape: expected \[5, 3\], got \[5, 2\]. Hint: h"):
        assert_equal((5, 2), (5, 3), what="shape", hint="h")


def test_record_publishes_one_display_output(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw: shown.append(data))
    record("z", torch.arange(3.0), rtol=1e-6, hint="look")
    (bundle,) = shown
    assert bundle["text/plain"] == "[recorded for grading: z]"
    cell = {"outputs": [{"output_type": "display_data", "data": bundle}, {"output_type": "stream", "text": "x"}]}
    (payload,) = records_of(cell)
    assert payload == bundle[RECORD_MIME]
    assert payload["check"] == "z" and payload["rtol"] == 1e-6 and payload["hint"] == "look"
    assert summarize(payload["value"]) == "float32 tensor of shape (3,) [0, 1, 2]"
