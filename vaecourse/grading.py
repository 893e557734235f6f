"""Grading records: test cells report values, the grader judges them outside the student's kernel.

A test cell of an assignment runs in the same Python process as the student's code, so anything it
calls there (``torch.testing.assert_close``, ``numpy.testing``, ``vc.checks``, even ``assert`` through
a replaced function) can have been replaced by a cell above it. The assertions inside a test cell
therefore only *teach*: they stop at the first mistake with what was expected, what came and a hint.
What *grades* is a second check outside the kernel: each hidden test publishes the values the
student's code produced on the hidden inputs with :func:`record`, and the autograder
(:mod:`vaecourse.autograde`, run inside ``nbgrader autograde``) compares them with the values the model
solution published in the same cell of ``solutions/<aid>/<aid>.ipynb``. A test cell earns its points
only when its own assertions pass *and* every recorded value matches.

Record values that only a correct answer produces (outputs on hidden inputs, gradients), never a
bare ``True``: a replaced recorder could forge a flag, but not numbers it does not know. Tolerances
and hints are read from the solution's record only, so a submission cannot loosen them.

Used by the hidden tests of solutions/q*/; the comparison functions are shared with
:mod:`vaecourse.autograde`. This module imports no torch at module level, so the grader's process
stays light.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: MIME type of a grading record in a notebook's outputs.
RECORD_MIME = "application/vnd.vaecourse.grading-record+json"


def _plain(value: Any) -> Any:
    """A JSON-safe copy of ``value``: arrays and tensors become {"shape", "dtype", "data"}."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        dtype = str(value.dtype).removeprefix("torch.")
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.double()
        array = value.numpy()
        return {"shape": list(array.shape), "dtype": dtype, "data": _json_numbers(array)}
    if isinstance(value, np.ndarray):
        return {"shape": list(value.shape), "dtype": str(value.dtype), "data": _json_numbers(value)}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _json_float(float(value))
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    raise TypeError(f"cannot record a {type(value).__name__}; record tensors, arrays, numbers or strings")


def _json_float(x: float) -> float | str:
    # strict JSON has no NaN or infinity, and nbformat writes strict JSON
    return x if math.isfinite(x) else repr(x)


def _json_numbers(array: np.ndarray) -> list | float | int | bool | str:
    if array.dtype.kind == "f":
        return np.vectorize(_json_float, otypes=[object])(array).tolist() if array.size else array.tolist()
    return array.tolist()


def record(check: str, value: Any, *, rtol: float = 0.0, atol: float = 0.0, hint: str = "") -> None:
    """Publish ``value`` under the name ``check`` for the out-of-kernel comparison.

    Parameters
    ----------
    check : str
        Name of the value, unique within its test cell, e.g. ``"kl on the hidden batch"``.
    value : tensor, array, number, bool, str, or a list / dict of these
        What the student's code produced. Floats are compared with ``rtol`` and ``atol``; everything
        else (shapes, dtypes, integers, strings) must be equal.
    rtol, atol : float
        Tolerances of the comparison; only the model solution's values count.
    hint : str
        What to look at when the value is wrong; shown to the student with the expected and the
        measured value.
    """
    from IPython.display import display

    payload = {"check": str(check), "value": _plain(value), "rtol": float(rtol), "atol": float(atol),
               "hint": str(hint)}
    display({RECORD_MIME: payload, "text/plain": f"[recorded for grading: {check}]"}, raw=True)


def is_test_cell(cell: dict) -> bool:
    """Whether a notebook cell is an autograded test cell (nbgrader: a code cell with ``grade`` and no ``solution``)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def records_of(cell: dict) -> list[dict]:
    """The grading records among a notebook cell's outputs, in order."""
    found = []
    for output in cell.get("outputs", []):
        if output.get("output_type") in ("display_data", "execute_result"):
            payload = output.get("data", {}).get(RECORD_MIME)
            if isinstance(payload, dict) and "check" in payload:
                found.append(payload)
    return found


def _to_array(data: Any) -> np.ndarray:
    def number(x):
        return float(x) if isinstance(x, str) else x  # "nan", "inf" and "-inf" from _json_float

    return np.asarray(np.vectorize(number, otypes=[float])(np.asarray(data, dtype=object)), dtype=float)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) or x in ("nan", "inf", "-inf")


def summarize(value: Any, limit: int = 6) -> str:
    """A short text form of a recorded value for messages: shape, dtype and the first entries."""
    if isinstance(value, dict) and {"shape", "dtype", "data"} <= set(value):
        array = _to_array(value["data"]) if value["data"] != [] else np.zeros(value["shape"])
        flat = array.ravel()
        shown = ", ".join(f"{x:.6g}" for x in flat[:limit]) + (", ..." if flat.size > limit else "")
        return f"{value['dtype']} tensor of shape {tuple(value['shape'])} [{shown}]"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        shown = [summarize(v, limit=3) for v in value[:4]]
        return "[" + "; ".join(shown) + ("; ..." if len(value) > 4 else "") + "]"
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def compare(expected: Any, actual: Any, rtol: float, atol: float) -> str | None:
    """``None`` when ``actual`` matches ``expected``, else a one-line reason."""
    if isinstance(expected, dict) and {"shape", "dtype", "data"} <= set(expected):
        if not (isinstance(actual, dict) and {"shape", "dtype", "data"} <= set(actual)):
            return f"expected a tensor, got {summarize(actual)}"
        if list(actual["shape"]) != list(expected["shape"]):
            return f"expected shape {tuple(expected['shape'])}, got {tuple(actual['shape'])}"
        if actual["dtype"] != expected["dtype"]:
            return f"expected dtype {expected['dtype']}, got {actual['dtype']}"
        try:
            want, got = _to_array(expected["data"]), _to_array(actual["data"])
        except (TypeError, ValueError):
            return "the recorded values are not numbers"
        if want.shape != got.shape:
            return "the recorded data does not have the recorded shape"
        nan_want, nan_got = np.isnan(want), np.isnan(got)
        if not np.array_equal(nan_want, nan_got):
            return "NaN in different places"
        with np.errstate(invalid="ignore"):  # inf - inf
            infinite = np.isinf(want) | np.isinf(got)  # an infinity matches only itself
            close = np.where(infinite, want == got, np.abs(got - want) <= atol + rtol * np.abs(want)) | nan_want
        if not close.all():
            bad = int(np.argmax(~close.ravel()))
            return (f"{int((~close).sum())} of {close.size} values differ beyond rtol={rtol:g}, atol={atol:g}; "
                    f"first at flat index {bad}: expected {want.ravel()[bad]:.8g}, got {got.ravel()[bad]:.8g}")
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"expected a list of {len(expected)} values, got {summarize(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            reason = compare(e, a, rtol, atol)
            if reason:
                return f"item {i}: {reason}"
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            return f"expected the keys {sorted(expected)}, got {summarize(actual)}"
        for key in expected:
            reason = compare(expected[key], actual[key], rtol, atol)
            if reason:
                return f"{key}: {reason}"
        return None
    if _is_number(expected) and not isinstance(expected, bool):
        if not _is_number(actual) or isinstance(actual, bool):
            return f"expected the number {expected!r}, got {summarize(actual)}"
        return compare({"shape": [], "dtype": "number", "data": expected},
                       {"shape": [], "dtype": "number", "data": actual}, rtol, atol)
    if isinstance(expected, (bool, str)) or expected is None:
        same = type(actual) is type(expected) and actual == expected
        return None if same else f"expected {expected!r}, got {summarize(actual)}"
    return f"cannot compare {summarize(expected)} with {summarize(actual)}"


def assert_close(actual: Any, expected: Any, *, what: str, hint: str, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    """Raise ``AssertionError("<what>: expected ..., got ... (<why>). Hint: <hint>")`` unless close.

    The teaching half of a test: in the student's kernel, it stops at the first wrong value with what
    was expected, what came and where to look. (The grading half is :func:`record`.) Shapes and
    dtypes must match; values must satisfy ``|actual - expected| <= atol + rtol * |expected|``.
    """
    reason = compare(_plain(expected), _plain(actual), rtol, atol)
    if reason:
        raise AssertionError(f"{what}: expected {summarize(_plain(expected))}, got {summarize(_plain(actual))} "
                             f"({reason}). Hint: {hint}")


def assert_equal(actual: Any, expected: Any, *, what: str, hint: str) -> None:
    """Raise ``AssertionError("<what>: expected <expected>, got <actual>. Hint: <hint>")`` unless equal."""
    if _plain(actual) != _plain(expected):
        raise AssertionError(f"{what}: expected {summarize(_plain(expected))}, got {summarize(_plain(actual))}. "
                             f"Hint: {hint}")
