"""Numerical checks that print one PASS/FAIL line and raise on failure.

Every claim a notebook makes is backed by one of these calls. The printed line holds the claim, the
tolerance and the verdict, never the measured numbers, so that nbval can compare it across machines;
the measured value is returned for display in a neighbouring, unchecked cell. A failed check prints
``FAIL ...`` and raises :class:`AssertionError` with the measured and expected values, so an executed
notebook (and nbval in lax mode) stops at a broken claim.

**What a check is worth.** Every check takes a ``kind`` (docs/conventions.md, section 5):

- ``"evidence"``: a wrong implementation or a wrong claim would make it fail, and its expected value
  is computed independently (a closed form, brute force, another estimator, a control);
- ``"identity"``: an exact mathematical identity checked numerically (both sides computed differently);
- ``"consistency"``: a function compared with another route through the same code, or a condition
  that holds by construction. It guards against breakage; it is not evidence for a claim.

``settles=("C2",)`` names the homework claims (docs/claims.md) an ``evidence`` check settles, and
``control=True`` promises that the notebook also runs the check on a wrong input inside
:func:`negative_control` and shows it failing. These tags are printed at the end of the line, so
``tests/claim_ledger.py`` can collect them from the stored outputs into docs/claims.md.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable, Sequence

import numpy as np
import torch


def _as_array(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=float)


KINDS = ("evidence", "identity", "consistency")
_CLAIM_ID = re.compile(r"C[1-9][0-9]*")


class _ExpectedFailure(Exception):
    """Raised by a failing check inside :func:`negative_control`; the context manager swallows it."""


_negative_control: list[str] = []  # the wrong input of the negative control in progress, if any


def _tag(kind: str | None, settles: Iterable[str], control: bool) -> str:
    settles = tuple(settles)
    if kind is None:
        if settles or control:
            raise ValueError("settles= and control= need a kind= ('evidence', 'identity' or 'consistency')")
        return ""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    bad = [claim for claim in settles if not isinstance(claim, str) or not _CLAIM_ID.fullmatch(claim)]
    if bad:
        raise ValueError(f"settles= takes homework claim ids such as 'C2', got {bad}")
    if settles and kind != "evidence":
        raise ValueError(f"only an evidence check settles a claim; this one is {kind!r}")
    parts = [kind] + ([f"settles {', '.join(settles)}"] if settles else []) + (["negative control"] if control else [])
    return f"  ({'; '.join(parts)})"


def _report(claim: str, passed: bool, tolerance: str, detail: str, *, kind: str | None = None,
            settles: Iterable[str] = (), control: bool = False) -> None:
    tag = _tag(kind, settles, control)
    if _negative_control:
        wrong_input = _negative_control[-1]
        if passed:
            print(f"UNEXPECTED PASS  {claim}  [{tolerance}]  (negative control: {wrong_input})")
            raise AssertionError(f"negative control passed: the check {claim!r} accepted {wrong_input}, "
                                 "so it cannot tell a right answer from this wrong one")
        print(f"EXPECTED FAIL  {claim}  [{tolerance}]  (negative control: {wrong_input})")
        raise _ExpectedFailure(claim)
    print(f"{'PASS' if passed else 'FAIL'}  {claim}  [{tolerance}]{tag}")
    if not passed:
        raise AssertionError(f"check failed: {claim}\n{detail}")


@contextlib.contextmanager
def negative_control(wrong_input: str):
    """Run one check on a wrong input and show that it fails.

    Inside the ``with`` block, the first check that fails prints ``EXPECTED FAIL <claim> ...
    (negative control: <wrong_input>)`` and ends the block; the notebook goes on. A check that passes
    prints ``UNEXPECTED PASS`` and raises :class:`AssertionError`, and so does a block in which no
    check runs: either way the check could not tell the wrong input from a right one.
    """
    if not wrong_input.strip():
        raise ValueError("negative_control needs a description of the wrong input")
    _negative_control.append(wrong_input)
    try:
        yield
    except _ExpectedFailure:
        return
    finally:
        _negative_control.pop()
    raise AssertionError(f"negative control ran no check: nothing inside the block checked {wrong_input}")


def check_close(claim: str, actual, expected, *, rtol: float = 1e-6, atol: float = 1e-8, kind: str | None = None,
                settles: Iterable[str] = (), control: bool = False):
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
    _report(claim, passed, f"tol: rtol={rtol:g}, atol={atol:g}", detail, kind=kind, settles=settles, control=control)
    return actual


def check_true(claim: str, condition, *, detail: str | None = None, kind: str | None = None,
               settles: Iterable[str] = (), control: bool = False) -> None:
    """Check that ``condition`` holds; ``detail`` (measured numbers) goes into the error only.

    Returns nothing, so that a check ending a notebook cell adds no ``True`` output under its line.
    """
    _report(claim, bool(condition), "condition", detail or "the condition is false", kind=kind, settles=settles,
            control=control)


def check_shape(claim: str, tensor, shape: Sequence[int], *, kind: str | None = None, settles: Iterable[str] = (),
                control: bool = False):
    """Check that ``tensor.shape`` equals ``shape``; return the tensor."""
    actual = tuple(tensor.shape)
    _report(claim, actual == tuple(shape), f"shape {tuple(shape)}",
            f"measured shape {actual}, expected {tuple(shape)}", kind=kind, settles=settles, control=control)
    return tensor


def check_within_mc_error(claim: str, estimate, target, stderr, *, k: float = 4.0, kind: str | None = None,
                          settles: Iterable[str] = (), control: bool = False):
    """Check that a Monte Carlo ``estimate`` lies within ``k`` standard errors of ``target``."""
    estimate_f, target_f, stderr_f = float(estimate), float(target), float(stderr)
    if not math.isfinite(stderr_f) or stderr_f < 0:
        raise ValueError(f"{claim}: the standard error must be a finite non-negative number, got {stderr_f}")
    passed = abs(estimate_f - target_f) <= k * stderr_f
    detail = (f"estimate {estimate_f:.6g}, target {target_f:.6g}, standard error {stderr_f:.3g}: "
              f"{abs(estimate_f - target_f) / max(stderr_f, 1e-300):.2f} standard errors apart")
    _report(claim, passed, f"within {k:g} standard errors", detail, kind=kind, settles=settles, control=control)
    return estimate
