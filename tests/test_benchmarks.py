"""The benchmark's verdict travels between machines: it is taken in calibration units, not seconds.

No timing here (speed is checked by benchmarks/run_notebooks.py on a quiet machine, never by a test):
only the arithmetic that turns measured seconds and a calibration into a verdict.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "benchmarks" / "run_notebooks.py")
run_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_notebooks)

NOTEBOOK_08 = ROOT / "notebooks" / "08_beta_vae_disentanglement.ipynb"
NOTEBOOK_01 = ROOT / "notebooks" / "01_ae_sampling_failure.ipynb"


def _verdict(path: Path, seconds: float, images_per_s: float) -> str:
    row = run_notebooks.table_rows({path: [{"seconds": seconds, "peak_mib": 1000.0}] * 3}, images_per_s)
    return [cell.strip() for cell in row[str(path.relative_to(ROOT))].split("|")][10]


def test_budgets_in_units_are_the_seconds_budgets_on_the_reference_machine():
    unit_s = run_notebooks.calibration_unit_s(run_notebooks.REFERENCE_IMAGES_PER_S)
    assert run_notebooks.budget_units(NOTEBOOK_01) * unit_s == pytest.approx(60.0)
    assert run_notebooks.budget_units(NOTEBOOK_08) * unit_s == pytest.approx(120.0)


def test_a_slower_machine_gets_more_seconds():
    """136 s for notebook 08 is within budget where the calibration loop runs 1.5x slower than the reference."""
    slower = run_notebooks.REFERENCE_IMAGES_PER_S / 1.5
    assert _verdict(NOTEBOOK_08, 136.0, slower) == "ok"
    assert _verdict(NOTEBOOK_08, 136.0, run_notebooks.REFERENCE_IMAGES_PER_S) == "OVER BUDGET"


@pytest.mark.parametrize("speedup", [1.0, 0.5, 2.0])
def test_the_verdict_does_not_depend_on_the_machine(speedup):
    """The same notebook on a machine k times slower takes k times the seconds: the same verdict."""
    reference = run_notebooks.REFERENCE_IMAGES_PER_S
    assert _verdict(NOTEBOOK_01, 59.0 / speedup, reference * speedup) == "ok"
    assert _verdict(NOTEBOOK_01, 61.0 / speedup, reference * speedup) == "OVER BUDGET"


def test_memory_over_budget_is_flagged_whatever_the_time():
    row = run_notebooks.table_rows({NOTEBOOK_01: [{"seconds": 1.0, "peak_mib": 4096.0}]}, 20_000.0)
    assert "OVER BUDGET" in row[str(NOTEBOOK_01.relative_to(ROOT))]
