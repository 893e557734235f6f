"""Numerical checks that print one PASS/FAIL line and raise on failure.

Every claim a notebook makes is backed by one of these calls. The printed line holds the claim, the
tolerance and the verdict, never the measured numbers, so that nbval can compare it across machines;
the measured value is returned for display in a neighbouring, unchecked cell. A failed check prints
``FAIL ...`` and raises :class:`AssertionError` with the measured and expected values, so an executed
notebook (and nbval in lax mode) stops at a broken claim.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch


def _as_array(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=float)


def _report(claim: str, passed: bool, tolerance: str, detail: str) -> None:
    print(f"{'PASS' if passed else 'FAIL'}  {claim}  [{tolerance}]")
    if not passed:
        raise AssertionError(f"check failed: {claim}\n{detail}")


def check_close(claim: str, actual, expected, *, rtol: float = 1e-6, atol: float = 1e-8):
    """Check ``|actual - expected| <= atol + rtol * |expected|`` elementwise; return ``actual``."""
    actual_arr, expected_arr = _as_array(actual), _as_array(expected)
    try:
        np.broadcast_shapes(actual_arr.shape, expected_arr.shape)
    except ValueError:
        raise ValueError(f"{claim}: cannot compare shapes {actual_arr.shape} and {expected_arr.shape}") from None
    error = np.abs(actual_arr - expected_arr)
    passed = bool(np.all(error <= atol + rtol * np.abs(expected_arr)))
    detail = (f"measured {np.array2string(actual_arr, precision=8, threshold=6)}, "
              f"expected {np.array2string(expected_arr, precision=8, threshold=6)}, "
              f"largest absolute difference {error.max():.3e}")
    _report(claim, passed, f"tol: rtol={rtol:g}, atol={atol:g}", detail)
    return actual


def check_true(claim: str, condition, *, detail: str | None = None) -> None:
    """Check that ``condition`` holds; ``detail`` (measured numbers) goes into the error only.

    Returns nothing, so that a check ending a notebook cell adds no ``True`` output under its line.
    """
    _report(claim, bool(condition), "condition", detail or "the condition is false")


def check_shape(claim: str, tensor, shape: Sequence[int]):
    """Check that ``tensor.shape`` equals ``shape``; return the tensor."""
    actual = tuple(tensor.shape)
    _report(claim, actual == tuple(shape), f"shape {tuple(shape)}",
            f"measured shape {actual}, expected {tuple(shape)}")
    return tensor


def check_within_mc_error(claim: str, estimate, target, stderr, *, k: float = 4.0):
    """Check that a Monte Carlo ``estimate`` lies within ``k`` standard errors of ``target``."""
    estimate_f, target_f, stderr_f = float(estimate), float(target), float(stderr)
    if not math.isfinite(stderr_f) or stderr_f < 0:
        raise ValueError(f"{claim}: the standard error must be a finite non-negative number, got {stderr_f}")
    passed = abs(estimate_f - target_f) <= k * stderr_f
    detail = (f"estimate {estimate_f:.6g}, target {target_f:.6g}, standard error {stderr_f:.3g}: "
              f"{abs(estimate_f - target_f) / max(stderr_f, 1e-300):.2f} standard errors apart")
    _report(claim, passed, f"within {k:g} standard errors", detail)
    return estimate
