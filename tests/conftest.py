"""Shared pytest set-up for the unit tests, nbval notebook runs and the grading pipeline.

- Torch is pinned to one thread, here and (through the environment, set by
  ``vaecourse.config.thread_environment``) in every kernel that nbval or nbgrader starts and in every
  pytest-xdist worker: on 2 shared cores, more threads were measured 10-100x slower
  (docs/design.md, section 7).
- The suite runs on pytest-xdist workers (``--numprocesses=auto --maxprocesses=4`` in
  pyproject.toml): every work unit (:func:`work_unit`: a test file or a notebook; the browser tests
  in two parts) runs whole on one worker, so a notebook's cells share one kernel and a module's
  fixtures are built once per worker. Units are handed out longest first
  (:func:`pytest_collection_modifyitems`), so that no worker is left with a long one at the end.
- nbval compares only the cells marked ``# NBVAL_CHECK_OUTPUT`` (lax mode, set in pyproject.toml);
  on top of nbval's defaults, figures other than PNG, HTML and stderr (progress bars) are never
  compared.
- A notebook with a widget runs once: when the browser tests run, they run it in JupyterLab and
  make nbval's check on it (tests/nbval_compare.py), and nbval leaves it out; otherwise (no
  browser, ``-m "not browser"``) nbval runs it.
"""

import os
import re
import shutil
from pathlib import Path

from vaecourse.config import thread_environment

os.environ.update(thread_environment(1))  # before any kernel or worker starts, so they inherit it
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # silences a debugger warning in kernels

import pytest  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Seconds each long test file took in the last measured run (benchmarks/suite.md); notebooks take
# their benchmark medians from benchmarks/results.md. Only the order of the work units depends on these.
# A browser unit's figure is its own part: it also runs its widget notebooks (see _run_once).
LONG_TEST_FILES_S = {"tests/test_grading.py": 290, "tests/test_hub.py": 60, "tests/test_site.py": 35,
                     "tests/test_browser.py": 30, "tests/test_jupyterlab.py": 20}
UNIT_TEST_FILE_S = 5  # any other test file: seconds at most
# The browser tests are two work units, on two workers (each starts its own JupyterLab and Chromium):
# one notebook run in the browser after another would otherwise be the longest unit of the suite.
SECOND_BROWSER_UNIT = ("08_beta_vae_disentanglement", "09_vq_vae_losses")


def work_unit(nodeid: str) -> str:
    """What one worker runs whole: a test file or a notebook, the browser tests in two parts."""
    file = nodeid.split("::", 1)[0]
    if file == "tests/test_browser.py" and any(f"[{name}]" in nodeid for name in SECOND_BROWSER_UNIT):
        return f"{file}::{'+'.join(SECOND_BROWSER_UNIT)}"
    return file


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scope scheduling, with :func:`work_unit` as the scope, in collection order."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _reschedule(self, node) -> None:
            # xdist hands a worker its next unit while more than 2 of its tests are pending; a unit of
            # two long tests (the second browser part: notebooks 08 and 09) then took the next longest
            # unit with it at the start, and that worker finished 90 s after the other. A worker gets
            # its next unit when only its last test is pending (it needs one to run that test).
            if not node.shutting_down and self.workqueue and self._pending_of(self.assigned_work[node]) > 1:
                return
            super()._reschedule(node)

    return WorkUnitScheduling(config, log)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist starts its workers
def pytest_sessionstart(session):
    """The controller (or a run without workers) empties the browser tests' output folder once."""
    if not hasattr(session.config, "workerinput"):
        shutil.rmtree(ROOT / "browser-screenshots", ignore_errors=True)


def _notebook_medians() -> dict[str, float]:
    """Median seconds of each notebook in benchmarks/results.md (``{}`` if the table is missing)."""
    results = ROOT / "benchmarks/results.md"
    medians = {}
    if results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            match = re.match(r"\| `([^`]+)` \| ([\d.]+) \|", line)
            if match:
                medians[match.group(1)] = float(match.group(2))
    return medians


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Every test starts with one torch thread, whatever an earlier test set."""
    torch.set_num_threads(1)
    yield


def pytest_collectstart(collector):
    from nbval_compare import COURSE_SKIP_COMPARE, NBVAL_SKIP_COMPARE

    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb":
        # the browser tests judge a notebook with the same fields left out (tests/nbval_compare.py)
        assert collector.skip_compare == NBVAL_SKIP_COMPARE, f"nbval's defaults changed: {collector.skip_compare}"
        collector.skip_compare += COURSE_SKIP_COMPARE


def _browser_found() -> bool:
    from system_tools import find_chromium

    try:
        return find_chromium()[0] is not None
    except pytest.fail.Exception:  # a wrong $VAECOURSE_CHROMIUM: the browser tests will fail and say so
        return False


def _run_once(items: list, config) -> None:
    """A widget notebook runs once: in the browser test when that runs (it checks nbval's cells), else under nbval."""
    in_browser = {item.callspec.params["notebook"] for item in items
                  if item.nodeid.startswith("tests/test_browser.py::test_widget_notebook[")}
    if not in_browser or not _browser_found():
        return
    in_browser_files = {f"notebooks/{notebook}.ipynb" for notebook in in_browser}
    twice = [item for item in items if item.nodeid.split("::", 1)[0] in in_browser_files]
    if twice:
        config.hook.pytest_deselected(items=twice)
        items[:] = [item for item in items if item.nodeid.split("::", 1)[0] not in in_browser_files]


EXTENDED_OPTION = "--extended"
EXTENDED_REASON = ("an extended test: it runs in CI (.ci/run) and with `uv run pytest --extended -m extended`, "
                   "outside the README command's 10-minute budget")


def pytest_addoption(parser):
    parser.addoption(EXTENDED_OPTION, action="store_true",
                     help="also run the tests marked `extended` (the website's pages in Chromium), which the "
                          "README's command skips for time; .ci/run runs them")


def _skip_extended(items: list, config) -> None:
    """Tests marked ``extended`` skip, with the reason, unless ``--extended`` is given."""
    if config.getoption(EXTENDED_OPTION):
        return
    for item in items:
        if item.get_closest_marker("extended"):
            item.add_marker(pytest.mark.skip(reason=EXTENDED_REASON))


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected what they deselect
def pytest_collection_modifyitems(config, items):
    """Skip the extended tests (:func:`_skip_extended`); run each widget notebook once (:func:`_run_once`);
    order the work units longest first.

    Items of one unit keep their order; xdist hands the units out in this order.
    """
    _skip_extended(items, config)
    _run_once(items, config)
    medians = _notebook_medians()
    files = {item.nodeid.split("::", 1)[0] for item in items}
    unit_of = {item.nodeid: work_unit(item.nodeid) for item in items}
    expected: dict[str, float] = {}
    for item in items:
        unit = unit_of[item.nodeid]
        if unit not in expected:
            expected[unit] = LONG_TEST_FILES_S.get(unit.split("::", 1)[0], medians.get(unit, UNIT_TEST_FILE_S))
        notebook = getattr(item, "callspec", None) and item.callspec.params.get("notebook")
        if unit.startswith("tests/test_browser.py") and notebook and f"notebooks/{notebook}.ipynb" not in files:
            expected[unit] += medians.get(f"notebooks/{notebook}.ipynb", 0.0)  # it runs here, not under nbval

    first_position = {}
    for position, item in enumerate(items):
        first_position.setdefault(unit_of[item.nodeid], position)
    items.sort(key=lambda item: (-expected[unit_of[item.nodeid]], first_position[unit_of[item.nodeid]]))


def pytest_terminal_summary(terminalreporter):
    """Print the figures tests report as a "summary" property (test_grading.py's simulated class)."""
    for report in terminalreporter.getreports("passed"):
        for name, text in report.user_properties:
            if name == "summary":
                terminalreporter.write_line(str(text))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (``item.report_call``), for fixtures that act on failures."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
