"""Shared pytest set-up for the unit tests, nbval notebook runs and the grading pipeline.

- Torch is pinned to one thread, here and (through the environment) in every kernel that nbval or
  nbgrader starts: on 2 shared cores, more threads were measured 10-100x slower (docs/design.md, section 7).
- nbval compares only the cells marked ``# NBVAL_CHECK_OUTPUT`` (lax mode, set in pyproject.toml);
  on top of nbval's defaults, figures other than PNG, HTML and stderr (progress bars) are never
  compared.
"""

import os

for _name in ("VAECOURSE_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_name] = "1"  # before any kernel starts, so kernels inherit it
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # silences a debugger warning in kernels

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Every test starts with one torch thread, whatever an earlier test set."""
    torch.set_num_threads(1)
    yield


def pytest_collectstart(collector):
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb":
        collector.skip_compare += ("image/svg+xml", "application/pdf", "text/html", "stderr")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (``item.report_call``), for fixtures that act on failures."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
