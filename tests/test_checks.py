"""Unit tests of vaecourse.checks: one PASS/FAIL line, the return value, and the error on failure."""

import math

import numpy as np
import pytest
import torch

from vaecourse import checks


def _single_line(capsys) -> str:
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, f"expected exactly one printed line, got {lines!r}"
    return lines[0]


# ----------------------------------------------------------------------------------------- passing
def test_check_close_prints_pass_and_returns_actual(capsys):
    actual = torch.tensor([1.0, 2.0, 3.0])
    returned = checks.check_close("tensors agree", actual, np.array([1.0, 2.0, 3.0]))
    assert returned is actual
    line = _single_line(capsys)
    assert line.startswith("PASS  tensors agree")
    assert "rtol=1e-06" in line and "atol=1e-08" in line


def test_check_close_uses_rtol_and_atol():
    # |a - e| <= atol + rtol * |e|: 1e-7 off at 1.0 is inside rtol=1e-6, 1e-5 off is not.
    checks.check_close("inside rtol", 1.0 + 1e-7, 1.0, rtol=1e-6, atol=0.0)
    checks.check_close("inside atol", 0.05, 0.0, rtol=0.0, atol=0.1)
    with pytest.raises(AssertionError):
        checks.check_close("outside rtol", 1.0 + 1e-5, 1.0, rtol=1e-6, atol=0.0)


def test_check_close_broadcasts_scalar_expected(capsys):
    checks.check_close("all ones", torch.ones(2, 3), 1.0)
    assert _single_line(capsys).startswith("PASS  ")


def test_check_true_prints_pass_and_returns_nothing(capsys):
    # check_true returns None on purpose: a check ending a notebook cell must not add a "True" output.
    assert checks.check_true("two is bigger", 2 > 1) is None
    assert _single_line(capsys).startswith("PASS  two is bigger")


def test_check_shape_prints_pass_and_returns_tensor(capsys):
    tensor = torch.zeros(4, 2)
    assert checks.check_shape("codes are (4, 2)", tensor, (4, 2)) is tensor
    line = _single_line(capsys)
    assert line.startswith("PASS  codes are (4, 2)") and "(4, 2)" in line


def test_check_within_mc_error_prints_pass_and_returns_estimate(capsys):
    assert checks.check_within_mc_error("mean near zero", 0.3, 0.0, 0.1) == 0.3  # 3 standard errors
    assert _single_line(capsys).startswith("PASS  mean near zero")


def test_check_within_mc_error_accepts_zero_stderr_on_exact_match(capsys):
    assert checks.check_within_mc_error("exact", 1.5, 1.5, 0.0) == 1.5
    assert _single_line(capsys).startswith("PASS  ")


def test_printed_line_has_no_measured_numbers(capsys):
    # The checked line must be stable across machines: the measured value goes to the error only.
    checks.check_close("value", 0.123456789, 0.123456789)
    assert "0.1234" not in _single_line(capsys)


# ----------------------------------------------------------------------------------------- failing
def test_check_close_failure_names_measured_and_expected(capsys):
    with pytest.raises(AssertionError, match=r"(?s)measured 1\.25.*expected 2\.5"):
        checks.check_close("halves", 1.25, 2.5)
    assert _single_line(capsys).startswith("FAIL  halves")


def test_check_close_nan_fails(capsys):
    with pytest.raises(AssertionError, match="measured nan"):
        checks.check_close("nan is not close", math.nan, 0.0, atol=1.0)
    assert _single_line(capsys).startswith("FAIL  ")


def test_check_close_rejects_incompatible_shapes():
    with pytest.raises(ValueError, match=r"cannot compare shapes \(2,\) and \(3,\)"):
        checks.check_close("shapes", np.zeros(2), np.zeros(3))


def test_check_true_failure_carries_detail(capsys):
    with pytest.raises(AssertionError, match="measured 0.3 < 0.5"):
        checks.check_true("big enough", False, detail="measured 0.3 < 0.5")
    assert _single_line(capsys).startswith("FAIL  big enough")


def test_check_shape_failure_names_measured_and_expected_shapes(capsys):
    with pytest.raises(AssertionError) as info:
        checks.check_shape("codes", torch.zeros(2, 3), (3, 2))
    assert _single_line(capsys).startswith("FAIL  codes")
    message = str(info.value)
    assert "(2, 3)" in message, message  # measured
    assert "(3, 2)" in message, message  # expected


def test_check_within_mc_error_failure_names_estimate_target_and_stderr(capsys):
    with pytest.raises(AssertionError, match=r"estimate 1\.5, target 0, standard error 0\.1"):
        checks.check_within_mc_error("too far", 1.5, 0.0, 0.1)
    assert _single_line(capsys).startswith("FAIL  too far")


def test_check_within_mc_error_respects_k(capsys):
    checks.check_within_mc_error("5 se with k=6", 0.5, 0.0, 0.1, k=6)
    with pytest.raises(AssertionError):
        checks.check_within_mc_error("5 se with k=4", 0.5, 0.0, 0.1, k=4)


@pytest.mark.parametrize("stderr", [-0.1, math.nan, math.inf])
def test_check_within_mc_error_rejects_bad_stderr(stderr, capsys):
    with pytest.raises(ValueError, match="standard error must be a finite non-negative number"):
        checks.check_within_mc_error("bad stderr", 0.0, 0.0, stderr)
    assert capsys.readouterr().out == ""  # an invalid call is not a verdict


def test_kind_settles_and_control_are_printed_at_the_end_of_the_line(capsys):
    checks.check_true("box beats noise", True, kind="evidence", settles=("C2", "C5"), control=True)
    checks.check_close("two routes agree", 1.0, 1.0, kind="consistency")
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["PASS  box beats noise  [condition]  (evidence; settles C2, C5; negative control)",
                     "PASS  two routes agree  [tol: rtol=1e-06, atol=1e-08]  (consistency)"]


@pytest.mark.parametrize("arguments, message", [
    ({"kind": "proof"}, "kind must be one of"),
    ({"kind": "evidence", "settles": ("2",)}, "claim ids"),
    ({"kind": "evidence", "settles": "C2"}, "claim ids"),  # a bare string would be split into letters
    ({"kind": "consistency", "settles": ("C2",)}, "only an evidence check settles"),
    ({"settles": ("C2",)}, "need a kind"),
    ({"control": True}, "need a kind"),
])
def test_wrong_tags_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        checks.check_true("claim", True, **arguments)


def test_negative_control_shows_the_failure_and_goes_on(capsys):
    with checks.negative_control("decoded training images"):
        checks.check_true("samples are not copies", False, kind="evidence")
        raise RuntimeError("not reached: the failing check ends the block")
    assert capsys.readouterr().out.splitlines() == [
        "EXPECTED FAIL  samples are not copies  [condition]  (negative control: decoded training images)"]
    checks.check_true("a later check reports normally", True)
    assert capsys.readouterr().out.startswith("PASS  a later check")


def test_negative_control_that_passes_raises(capsys):
    with pytest.raises(AssertionError, match="negative control passed"):
        with checks.negative_control("a right answer in disguise"):
            checks.check_close("close", 1.0, 1.0)
    assert capsys.readouterr().out.startswith("UNEXPECTED PASS  close")
    checks.check_true("the control state was reset", True)
    assert capsys.readouterr().out.startswith("PASS  the control state")


def test_negative_control_without_a_check_raises():
    with pytest.raises(AssertionError, match="ran no check"):
        with checks.negative_control("nothing"):
            pass
    with pytest.raises(ValueError, match="description"):
        with checks.negative_control(" "):
            pass


def test_negative_control_lets_other_errors_through():
    with pytest.raises(ZeroDivisionError):
        with checks.negative_control("a broken input"):
            1 / 0
