"""Tests of the nbgrader pipeline: solutions/ -> exercises/ -> autograded scores (docs/design.md, section 6).

Every assignment in ``ASSIGNMENTS`` is checked for four things:

1. the committed release ``exercises/<aid>/`` is exactly what ``nbgrader generate_assignment`` makes
   from ``solutions/<aid>/`` (no .py twin, no ``jupytext`` metadata);
2. the model answers, pasted into the release and autograded with the hidden tests, earn every
   autograded point, raise nowhere, and give the stored solution's checked outputs (nbval's check:
   the solutions run here, not under nbval); ``nbgrader validate`` passes on the solution of the
   guide's edit step;
3. ``nbgrader validate --invert`` holds on the released notebook (no test passes on the stubs);
4. a student who solved only the first task earns exactly its tests, and nothing for the written
   answers left as released; the untouched release earns nothing (``q0_warmup``'s battery);
5. typical wrong answers (the catalogues of q0 to q5, ``WRONG_ANSWER_CATALOGUE``) earn 0 on the test
   cells they break: one submission of them per assignment through ``nbgrader autograde``, and each wrong
   answer alone in one shared kernel per assignment, where every other test cell keeps its points; and they
   already fail a visible test (but those their catalogue entry names as not taught there).

A new assignment plugs in by being appended to ``ASSIGNMENTS``. (That the solution notebooks are
stored executed in order, and in sync with their .py twins, is tested in tests/test_notebook_files.py.) nbgrader runs as a subprocess in a
temporary copy of the course (``nbgrader_config.py`` is only found in the working directory), one
notebook execution at a time, with torch pinned to one thread. The module-scoped ``course`` fixture
builds and autogrades that copy once for all tests.
"""

from __future__ import annotations

import copy
import csv
import difflib
import html
import json
import math
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from system_tools import missing, running_in_ci
from vaecourse.config import thread_environment
from vaecourse.sandbox import find_bubblewrap
from vaecourse.grading import is_test_cell

# ---------------------------------------------------------------------------------------------------
# Add each new assignment here (its folder solutions/<aid>/ holds <aid>.ipynb, docs/design.md, section 6).
ASSIGNMENTS = ["q0_warmup", "q1_autoencoders", "q2_likelihood", "q3_priors", "q4_beta_vae", "q5_vq_vae"]
# ---------------------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
INSTRUCTORS_GUIDE = REPO / "INSTRUCTORS.md"
STUDENT_SOLVED = "model_answers"  # the release with the solution cells pasted in
STUDENT_UNTOUCHED = "untouched"  # the release as handed out
STUDENT_PARTIAL = "first_task_only"  # the answer cells before the first test cell solved, the rest as released
NBGRADER_TIMEOUT_S = 600  # per nbgrader command: the hostile batch runs about 20 notebooks in one
HOSTILE_AID = "q0_warmup"  # the assignment that gets the full battery of broken and hostile submissions
# The simulated class's per-cell limit; instructors keep the 120 s of nbgrader_config.py, which this
# command-line option overrides for one command only. q0's slowest cell, the first (it imports torch),
# took about 10 s on a quiet 2-core machine, and past 15 s with the test workers' other kernels
# running beside it, before kernel start got 5 s faster; an endless loop burns the whole limit.
SIMULATED_CELL_TIMEOUT_S = 10
# The battery's limit per notebook (kernel start included): above what the slowest honest submission needs (about
# 15 s: the infinite loop's 10 s), below two cells that each sleep just under the per-cell limit (2 x 9 s).
SIMULATED_NOTEBOOK_TIMEOUT_S = 18
DETACHED_MARKER = "vaecourse-hostile-detached"  # in the command line of the process that the escape submission starts

# What nbgrader's validate prints (nbgrader 0.9.x, nbgrader/validator.py). Its exit status is 0
# whether the tests pass or fail, so the tests read these lines instead.
VALIDATE_PASSED = "Success! Your notebook passes all the tests."
VALIDATE_INVERT_PASSED = "Success! The notebook does not pass any tests."

def _nbgrader_env(config_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(thread_environment(1))
    env.update(
        # The gradebook runs the `alembic` script as a subprocess, found on PATH: put the
        # environment's own scripts first, or a bare `python -m nbgrader` fails to open the database.
        PATH=os.pathsep.join([str(VENV_BIN), env.get("PATH", "")]),
        # Ignore the user's ~/.jupyter/nbgrader_config.py: only the course's config applies.
        JUPYTER_CONFIG_DIR=str(config_dir),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    return env


#: Every command the tests ran, as the words after `uv run` (the instructors' guide may show only these).
COMMANDS_RUN: list[list[str]] = []
#: (command, wall seconds) of every nbgrader command, for the summary (where the grading tests' time goes).
COMMAND_SECONDS: list[tuple[str, float]] = []


def run_nbgrader(course_dir: Path, *args: str, may_reject: bool = False) -> subprocess.CompletedProcess:
    """Run ``python -m nbgrader *args`` in ``course_dir``; fail with nbgrader's output on error.

    ``may_reject``: nbgrader exits with 1 when it could not process some submission (it logs which
    and goes on with the others); the hostile batch expects that, and checks the log instead.
    """
    if args and args[0] in ("autograde", "validate") and not find_bubblewrap():
        # The course's config refuses to run students' code unconfined. Without bubblewrap the grading tests still
        # run, unconfined (the sandbox's own tests, tests/test_sandbox.py, skip, and fail under CI=true).
        if running_in_ci():
            missing("bubblewrap (bwrap) is not installed, so grading runs unconfined",
                    "install it: `sudo apt-get install bubblewrap` (Debian, Ubuntu)")
        warnings.warn("bubblewrap is missing: the grading tests run students' kernels unconfined", stacklevel=2)
        args = (*args, "--SandboxedKernelManager.unsafe=True")
    cmd = [sys.executable, "-m", "nbgrader", *args]
    COMMANDS_RUN.append(["nbgrader", *args])
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=course_dir, env=_nbgrader_env(course_dir / ".jupyter_config"),
                              capture_output=True, text=True, timeout=NBGRADER_TIMEOUT_S)
        COMMAND_SECONDS.append((f"nbgrader {args[0]} {args[1] if len(args) > 1 else ''}".strip(),
                                time.perf_counter() - started))
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"`nbgrader {' '.join(args)}` ran longer than {NBGRADER_TIMEOUT_S} s\n"
                    f"--- stdout ---\n{err.stdout}\n--- stderr ---\n{err.stderr}")
    # nbgrader logs a broken nbgrader_config.py and carries on with its defaults; never accept that.
    failed = proc.returncode not in ((0, 1) if may_reject else (0,))
    if failed or "Exception while loading config file" in proc.stderr:
        pytest.fail(f"`nbgrader {' '.join(args)}` failed in {course_dir} (exit status {proc.returncode})\n"
                    f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")
    return proc


def run_tool(course_dir: Path, *words: str) -> subprocess.CompletedProcess:
    """Run ``uv run <words>`` (jupytext, the store script) with this environment's Python, in ``course_dir``."""
    COMMANDS_RUN.append(list(words))
    if words[0] == "python":  # a script of the repository, e.g. benchmarks/run_notebooks.py
        cmd = [sys.executable, str(REPO / words[1]), *words[2:]]
    else:
        cmd = [sys.executable, "-m", *words]
    proc = subprocess.run(cmd, cwd=course_dir, env=_nbgrader_env(course_dir / ".jupyter_config"),
                          capture_output=True, text=True, timeout=NBGRADER_TIMEOUT_S)
    if proc.returncode != 0:
        pytest.fail(f"`uv run {' '.join(words)}` failed in {course_dir}\n{_output(proc)}")
    return proc


def _output(proc: subprocess.CompletedProcess) -> str:
    return f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


def grade_cells(notebook: nbformat.NotebookNode) -> dict[str, tuple[str, float]]:
    """Map grade_id -> (cell type, points) for every graded cell of a notebook."""
    cells = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            cells[meta["grade_id"]] = (cell.cell_type, float(meta["points"]))
    return cells


def paste_solutions(release: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The release with every answer cell replaced by the solution's cell of the same grade_id.

    This is what a student who writes the model answers hands in: the release's structure,
    checksums and test cells, with the solution code and prose in the answer cells.
    """
    answers = {cell.metadata.nbgrader["grade_id"]: cell.source for cell in source.cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    solved = copy.deepcopy(release)
    pasted = set()
    for cell in solved.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
            pasted.add(grade_id)
    assert pasted == set(answers), f"answer cells missing from the release: {sorted(set(answers) - pasted)}"
    return solved


def paste_first_task(release: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The release with only the answer cells above the first test cell solved (a partly correct student)."""
    solved = paste_solutions(release, source)
    partial = copy.deepcopy(release)
    first_test = next(i for i, c in enumerate(release.cells) if is_test_cell(c))
    for i in range(first_test):
        partial.cells[i] = copy.deepcopy(solved.cells[i])
    return partial


# ------------------------------------------------------------------ the hostile battery (on q0)

# Wrong answers that run: the variance instead of the standard deviation, and a KL without its "- 1".
WRONG_REPARAM = """def reparameterize(mu, logvar, eps):
    return mu + torch.exp(logvar) * eps
"""
WRONG_KL = """def gaussian_kl(mu, logvar):
    return 0.5 * (torch.exp(logvar) + mu**2 - logvar).sum(dim=-1)
"""
# Replace every check helper the test cells could call, so that their own assertions all pass.
PATCH_EVERY_CHECK = """import numpy
import vaecourse as vc

def _always_pass(*args, **kwargs):
    return None

torch.testing.assert_close = _always_pass
numpy.testing.assert_allclose = _always_pass
vc.grading.assert_close = vc.grading.assert_equal = _always_pass
for _name in ("check_close", "check_true", "check_shape", "check_within_mc_error"):
    setattr(vc.checks, _name, _always_pass)
torch.allclose = lambda *args, **kwargs: False  # for the bare `assert not torch.allclose(...)`
"""
DROP_RECORDS = "vc.grading.record = _always_pass\n"
FORGE_RECORDS = """_real_record = vc.grading.record
vc.grading.record = lambda check, value, **kwargs: _real_record(check, torch.zeros(3), **kwargs)
"""
# A forger that knows the banned shortcut: its KL is wrong, but the recorder it puts in place computes each KL record
# again with torch.distributions.kl_divergence (allowed once the hidden test's ban is over) from the test's own
# variables, found in the caller's frame; with every check helper a no-op, the in-kernel assertions pass too. The
# records it makes are the model's values, so the out-of-kernel comparison alone would pass them.
FORGED_KL_RECORD = """
def _kl_from_frame(check, caller):
    import torch.distributions as _d
    mu, logvar = ((caller["mu_q0k"], caller["logvar_q0k"]) if "visible" in check else
                  (caller["mu_q0kh"][:1], caller["logvar_q0kh"][:1]) if "one example" in check else
                  (caller["mu_q0kh"], caller["logvar_q0kh"]))
    q = _d.Independent(_d.Normal(mu, torch.exp(0.5 * logvar)), 1)
    p = _d.Independent(_d.Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    return _d.kl_divergence(q, p)
"""
FORGE_CORRECT_RECORDS = PATCH_EVERY_CHECK + FORGED_KL_RECORD + """import sys
_genuine_record = vc.grading.record


def _forged_record(check, value, **kwargs):
    if check.startswith("KL"):
        value = _kl_from_frame(check, sys._getframe(1).f_globals)
    _genuine_record(check, value, **kwargs)


vc.grading.record = _forged_record
"""
# The same forger, every name it touches spelled so that no pattern of the answer scan matches it.
FORGE_CORRECT_RECORDS_UNSEEN = FORGED_KL_RECORD + """_grading = vars(__import__("vaecourse.gra" + "ding", fromlist=["x"]))
_genuine = _grading["rec" + "ord"]
_grading["assert" + "_close"] = _grading["assert" + "_equal"] = lambda *args, **kwargs: None


def _unseen_record(check, value, **kwargs):
    if check.startswith("KL"):
        value = _kl_from_frame(check, vars(__import__("s" + "ys"))["_get" + "frame"](1).f_globals)
    _genuine(check, value, **kwargs)


_grading["rec" + "ord"] = _unseen_record
"""
SWALLOW_ERRORS = """def _swallow(shell, etype, evalue, tb, tb_offset=None):
    return None

get_ipython().set_custom_exc((BaseException,), _swallow)
"""


DETACHED_PROCESS = f"""import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)", "{DETACHED_MARKER}"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("detached process started")
"""
# Searched upwards from the working folder and from the installed package (the course installs it editable from
# its root, so without the sandbox vaecourse.__file__ leads to the course).
SEARCH_UPWARDS = """import pathlib as _pathlib
import vaecourse as _vaecourse
_folders = {f for start in (_pathlib.Path.cwd(), _pathlib.Path(_vaecourse.__file__).resolve().parent)
            for f in (start, *start.parents)}
"""
GRADEBOOK_WRITE = SEARCH_UPWARDS + """import sqlite3 as _sqlite3
_books = [f / "gradebook.db" for f in _folders if (f / "gradebook.db").exists()]
for _book in _books:
    with _sqlite3.connect(_book) as _connection:
        _connection.execute("UPDATE grade SET manual_score = 1000")
    print("gradebook: modified", _book)
if not _books:
    print("gradebook: not found")
"""
READ_SOLUTIONS = SEARCH_UPWARDS + """import json as _json
_found = [path for f in _folders for pattern in ("solutions/q0_warmup/*.ipynb", "source/q0_warmup/*.ipynb",
                                                 "submitted/*/q0_warmup/*.ipynb") for path in f.glob(pattern)]
for _path in _found:
    for _cell in _json.loads(_path.read_text())["cells"]:
        if _cell["cell_type"] == "code" and _cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            exec("".join(_cell["source"]))  # the model's (or another student's) answers, in place of these
print("solutions or submissions found:", len(_found))
"""
NETWORK_PROBE = """import socket as _socket
try:
    _socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    print("network: connected")
except OSError as _error:
    print("network: blocked", type(_error).__name__)
"""
ALIAS_KL = """from torch.distributions import Independent, Normal, kl_divergence as kld


def gaussian_kl(mu, logvar):
    q_z = Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)
    return kld(q_z, Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1))
"""
MEMORY_HOG = "_block = bytearray(6 * 2**30)\n"
PROCESS_SWARM = 'import subprocess\n_children = [subprocess.Popen(["sleep", "60"]) for _ in range(200)]\n'
SLOW_CELL = f"import time\ntime.sleep({SIMULATED_CELL_TIMEOUT_S - 1})\n"


@dataclass(frozen=True)
class Case:
    """One submission of the hostile battery and what grading it must give (the README's table)."""

    does: str
    outcome: str  # "graded", "graded, flagged", "rejected" or "missing"
    points: float  # autograded points it earns (rejected and missing: 0 in the exported grades)
    evidence: str  # text in its autograded notebook (graded) or in the autograde log (rejected, missing)
    sandbox: bool = False  # an attack that only the grading sandbox stops (vaecourse/sandbox.py)


HOSTILE_CASES = {
    "model_answers": Case("the model solution", "graded", 6, "[recorded for grading:"),
    "untouched": Case("the release as handed out", "graded", 0, "TestNotPassed"),
    "first_task_only": Case("task 1 solved, task 2 left as released", "graded", 3, "NotImplementedError"),
    "wrong_answers": Case("wrong answers that run (variance for std, KL without -1)", "graded", 0, "Hint:"),
    "infinite_loop": Case("`while True: pass` in the task-2 answer cell", "graded", 3, "CellTimeoutError"),
    "exception_at_top": Case("`raise RuntimeError` at the top of the task-1 answer cell", "graded", 3,
                             "RuntimeError"),
    "syntax_error": Case("a syntax error in the task-2 answer cell", "graded", 3, "SyntaxError"),
    "sys_exit": Case("`sys.exit()` in the task-2 answer cell", "graded", 3, "SystemExit"),
    "killed_kernel": Case("the kernel kills itself (SIGKILL) in the task-2 answer cell", "graded, flagged", 3,
                          "KernelDied"),
    "huge_output": Case("model answers that print 5 million characters", "graded", 6, "output cut"),
    "edited_tests": Case("wrong answers, every test cell replaced by a print", "graded", 0, "Hint:"),
    "deleted_tests": Case("wrong answers, every test cell deleted", "graded", 0, "Hint:"),
    "patched_checks": Case("wrong answers, every check helper replaced by a no-op (torch.testing, numpy.testing, "
                           "vc.checks, vc.grading.assert_*, torch.allclose)", "graded, flagged", 0,
                           "GradingCheckFailed"),
    "patched_recorder": Case("as patched_checks, and the grading recorder replaced by a no-op", "graded, flagged", 0,
                             "got nothing (no record was made)"),
    "forged_records": Case("as patched_checks, and the recorder records made-up values", "graded, flagged", 0,
                           "GradingCheckFailed"),
    "forged_correct_records": Case("model reparameterisation, a wrong KL, every check helper a no-op, and a recorder "
                                   "that records the right KL, computed with the banned kl_divergence from the test's "
                                   "own variables: the answer scan zeroes the KL test, the integrity probe every test",
                                   "graded, flagged", 0, "reaches into the grading machinery"),
    "forged_unseen": Case("as forged_correct_records, every name spelled so that the answer scan sees nothing: the "
                          "grader's integrity probe finds the recorder replaced", "graded, flagged", 0,
                          "does not run the installed code"),
    "swallowed_errors": Case("wrong answers, errors swallowed with `get_ipython().set_custom_exc`",
                             "graded, flagged", 0, "Hint:"),
    # The sandbox's attacks, grouped three submissions (a kernel each): what escapes, what snoops, what hogs.
    "escape": Case("model answers that start a detached process (its own session) to outlive the batch and connect "
                   "to a port the grader's machine listens on (loopback)", "graded", 6, "network: blocked",
                   sandbox=True),
    "snooping": Case("wrong answers, a search upwards for gradebook.db to set every score to the maximum, and for the "
                     "model solution and other students' submissions, whose answers it would run", "graded", 0,
                     "solutions or submissions found: 0", sandbox=True),
    "resource_hog": Case("6 GiB allocated at the top of the task-1 answer cell, 200 processes started at the top of "
                         "the task-2 answer cell", "graded", 0, "BlockingIOError", sandbox=True),
    "slow_cells": Case(f"each answer cell sleeps {SIMULATED_CELL_TIMEOUT_S - 1} s, under the per-cell limit: the "
                       f"notebook's limit ({SIMULATED_NOTEBOOK_TIMEOUT_S} s) stops the second", "graded", 3,
                       "CellTimeoutError"),
    "alias_import": Case("model answers but the KL through `from torch.distributions import kl_divergence as kld`, an "
                         "alias that a module-attribute ban misses", "graded", 3,
                         "gaussian_kl called torch.distributions.kl_divergence"),
    "not_json": Case("a file that is not valid JSON", "rejected", 0, "JSON"),
    "tampered_metadata": Case("model answers, a test cell's nbgrader metadata set to `grade: false`", "rejected", 0,
                              "q0-kl-tests"),
    "missing_notebook": Case("an empty submission folder", "missing", 0, "No notebooks were matched"),
}


# What else the grouped attacks must show in their autograded notebooks, besides their Case's evidence.
MORE_EVIDENCE = {"escape": ("detached process started",), "snooping": ("gradebook: not found",),
                 "resource_hog": ("MemoryError",)}


def hostile_submissions(release: nbformat.NotebookNode, source: nbformat.NotebookNode,
                        listener_port: int) -> dict[str, object]:
    """student id -> notebook (or raw text, or None for an empty folder) for every HOSTILE_CASES entry.

    ``listener_port``: a loopback port the test listens on, which the escape submission tries to reach.
    """
    solved = paste_solutions(release, source)

    def edit(base, **answers_by_id):
        notebook = copy.deepcopy(base)
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in answers_by_id:
                cell.source = answers_by_id[grade_id](cell.source)
        return notebook

    def prepend(code):
        return lambda source_text: code + "\n" + source_text

    wrong = edit(solved, **{"q0-reparam-impl": lambda _: WRONG_REPARAM, "q0-kl-impl": lambda _: WRONG_KL})
    tests_edited = copy.deepcopy(wrong)
    for cell in tests_edited.cells:
        if is_test_cell(cell):
            cell.source = 'print("all tests passed")'
    tests_deleted = copy.deepcopy(wrong)
    tests_deleted.cells = [cell for cell in tests_deleted.cells if not is_test_cell(cell)]
    metadata_tampered = copy.deepcopy(solved)
    for cell in metadata_tampered.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q0-kl-tests":
            cell.metadata.nbgrader["grade"] = False
            cell.source = "pass"
    submissions = {
        "model_answers": solved,
        "untouched": release,
        "first_task_only": paste_first_task(release, source),
        "wrong_answers": wrong,
        "infinite_loop": edit(solved, **{"q0-kl-impl": prepend("while True:\n    pass\n")}),
        "exception_at_top": edit(solved, **{"q0-reparam-impl": prepend('raise RuntimeError("not finished")\n')}),
        "syntax_error": edit(solved, **{"q0-kl-impl": lambda _: "def gaussian_kl(mu, logvar)\n    return mu\n"}),
        "sys_exit": edit(solved, **{"q0-kl-impl": prepend("import sys\nsys.exit()\n")}),
        "killed_kernel": edit(solved, **{"q0-kl-impl": prepend(
            "import os\nimport signal\nos.kill(os.getpid(), signal.SIGKILL)\n")}),
        "huge_output": edit(solved, **{"q0-reparam-impl": prepend('print("x" * 5_000_000)\n')}),
        "edited_tests": tests_edited,
        "deleted_tests": tests_deleted,
        "patched_checks": edit(wrong, **{"q0-reparam-impl": prepend(PATCH_EVERY_CHECK)}),
        "patched_recorder": edit(wrong, **{"q0-reparam-impl": prepend(PATCH_EVERY_CHECK + DROP_RECORDS)}),
        "forged_records": edit(wrong, **{"q0-reparam-impl": prepend(PATCH_EVERY_CHECK + FORGE_RECORDS)}),
        "forged_correct_records": edit(solved, **{"q0-kl-impl": lambda _: WRONG_KL + FORGE_CORRECT_RECORDS}),
        "forged_unseen": edit(solved, **{"q0-kl-impl": lambda _: WRONG_KL + FORGE_CORRECT_RECORDS_UNSEEN}),
        "swallowed_errors": edit(wrong, **{"q0-reparam-impl": prepend(SWALLOW_ERRORS)}),
        "escape": edit(solved, **{"q0-reparam-impl": prepend(DETACHED_PROCESS + NETWORK_PROBE.format(port=listener_port))}),
        "snooping": edit(wrong, **{"q0-kl-impl": lambda source_text: source_text + "\n" + GRADEBOOK_WRITE + READ_SOLUTIONS}),
        "resource_hog": edit(solved, **{"q0-reparam-impl": prepend(MEMORY_HOG), "q0-kl-impl": prepend(PROCESS_SWARM)}),
        "slow_cells": edit(solved, **{"q0-reparam-impl": prepend(SLOW_CELL), "q0-kl-impl": prepend(SLOW_CELL)}),
        "alias_import": edit(solved, **{"q0-kl-impl": lambda _: ALIAS_KL}),
        "not_json": '{"cells": [',
        "tampered_metadata": metadata_tampered,
        "missing_notebook": None,
    }
    assert set(submissions) == set(HOSTILE_CASES)
    return submissions


# ------------------------------------------------------------- the catalogues of wrong answers (q1 to q5)


@dataclass(frozen=True)
class WrongAnswer:
    """A typical wrong answer to one task: the code a student hands in and the test cells it must fail.

    Graded alone (the model answers everywhere else), it earns 0 on ``fails`` and ``then_fails`` and full
    points on every other test cell from its answer cell down.
    """

    mistake: str
    code: str
    # its own task's test cells it earns 0 on, each failing already in its visible part with a teaching message
    # (expected, got, Hint)...
    fails: tuple[str, ...]
    # ...but these, where only the hidden tests catch it, or an error of torch's comes before the teaching message
    not_taught: tuple[str, ...] = ()
    # later tasks' test cells that lose their points with it, because the model answers of those tasks call
    # this function (nbgrader grades what the notebook computes: a mistake carries forward)
    then_fails: tuple[str, ...] = ()


# A correct discrete mutual information that q4's wrong answers to Tasks 4 and 5 bring with them.
Q4_OWN_MI = """
def _own_mi(a, b):
    _, a_index = np.unique(np.asarray(a), return_inverse=True)
    _, b_index = np.unique(np.asarray(b), return_inverse=True)
    joint = np.zeros((a_index.max() + 1, b_index.max() + 1))
    np.add.at(joint, (a_index.ravel(), b_index.ravel()), 1.0)
    joint /= joint.sum()
    product = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    return float(max(0.0, (joint[nonzero] * np.log(joint[nonzero] / product[nonzero])).sum()))
"""

# q4's Task 5 and 6 (mig, mig_gaps) call the student's mutual_information: a wrong one costs them too, unless its
# mistake cancels in MIG's ratio (bits for nats)
Q4_AFTER_MI = ("q4-mig-tests", "q4-mig-sanity-tests", "q4-gaps-tests", "q4-reading-tests")

# assignment -> student id -> answer cell -> the wrong answer in it. Each submission is one notebook with one
# wrong answer in every answer cell. The first submission of each assignment goes through `nbgrader autograde`
# (q0's is the battery's `wrong_answers`); then every wrong answer is graded alone, the model answers in every
# other answer cell, in one shared kernel per assignment (vaecourse.autograde.grade_in_one_kernel: the same
# hidden tests, record check and scoring, one kernel start per assignment). A wrong answer of q1's noise
# layer that gets the values right earns the values cell's points and 0 on the gradient cell, and conversely.
# q2's wrong answers to Task 2 compute the reconstruction term themselves: a submission's Task 1 is wrong too.
WRONG_ANSWER_CATALOGUE: dict[str, dict[str, dict[str, WrongAnswer]]] = {"q0_warmup": {
    "wrong_answers": {  # the battery's submission of that name
        "q0-reparam-impl": WrongAnswer("the variance for the standard deviation: mu + exp(logvar) * eps", WRONG_REPARAM,
                                       ("q0-reparam-tests", "q0-reparam-grad-tests"),
                                       not_taught=("q0-reparam-grad-tests",)),
        "q0-kl-impl": WrongAnswer("the KL without its - 1", WRONG_KL, ("q0-kl-tests",)),
    },
    "q0_wrong_b": {
        "q0-reparam-impl": WrongAnswer("the log-variance used as the standard deviation: mu + logvar * eps", """
def reparameterize(mu, logvar, eps):
    return mu + logvar * eps
""", ("q0-reparam-tests", "q0-reparam-grad-tests"), not_taught=("q0-reparam-grad-tests",)),
        "q0-kl-impl": WrongAnswer("the mean over the latent dimensions instead of the sum", """
def gaussian_kl(mu, logvar):
    return 0.5 * (torch.exp(logvar) + mu**2 - 1.0 - logvar).mean(dim=-1)
""", ("q0-kl-tests",), not_taught=("q0-kl-tests",)),
    },
    "q0_wrong_c": {
        "q0-reparam-impl": WrongAnswer("the standard deviation detached: no gradient reaches logvar", """
def reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar).detach() * eps
""", ("q0-reparam-grad-tests",)),
        "q0-kl-impl": WrongAnswer("the standard deviation exp(0.5 * logvar) for the variance", """
def gaussian_kl(mu, logvar):
    return 0.5 * (torch.exp(0.5 * logvar) + mu**2 - 1.0 - logvar).sum(dim=-1)
""", ("q0-kl-tests",), not_taught=("q0-kl-tests",)),
    },
    "q0_wrong_d": {
        "q0-reparam-impl": WrongAnswer("the identity: the mean returned, no noise", """
def reparameterize(mu, logvar, eps):
    return mu
""", ("q0-reparam-tests", "q0-reparam-grad-tests")),
        "q0-kl-impl": WrongAnswer("the log-variance's sign flipped: + logvar", """
def gaussian_kl(mu, logvar):
    return 0.5 * (torch.exp(logvar) + mu**2 - 1.0 + logvar).sum(dim=-1)
""", ("q0-kl-tests",)),
    },
    "q0_wrong_e": {
        "q0-reparam-impl": WrongAnswer("noise drawn inside instead of the eps passed in", """
def reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
""", ("q0-reparam-tests", "q0-reparam-grad-tests"), not_taught=("q0-reparam-grad-tests",)),
        "q0-kl-impl": WrongAnswer("copying the reference: torch.distributions' kl_divergence under another name",
                                  ALIAS_KL, ("q0-kl-tests",), not_taught=("q0-kl-tests",)),
    },
    "q0_wrong_f": {
        "q0-reparam-impl": WrongAnswer("mu changed in place: mu.add_(sigma * eps)", """
def reparameterize(mu, logvar, eps):
    return mu.add_(torch.exp(0.5 * logvar) * eps)
""", ("q0-reparam-tests", "q0-reparam-grad-tests"), not_taught=("q0-reparam-grad-tests",)),  # torch: leaf in place
        "q0-kl-impl": WrongAnswer("summed over the batch too: one number instead of one per example", """
def gaussian_kl(mu, logvar):
    return 0.5 * (torch.exp(logvar) + mu**2 - 1.0 - logvar).sum()
""", ("q0-kl-tests",)),
    },
}, "q1_autoencoders": {
    "q1_wrong_a": {
        "q1-occupancy-impl": WrongAnswer("the spacing keeps each code's zero distance to itself (off by one)", """
def box_occupancy(codes, points):
    spacing = torch.cdist(codes, codes).min(dim=1).values.median()
    return (torch.cdist(points, codes).min(dim=1).values <= spacing).double().mean().item()
""", ("q1-occupancy-tests",)),
        "q1-density-impl": WrongAnswer("the k-th neighbour counted with the point itself (off by one)", """
def density_coverage(real, samples, k=5):
    radii = torch.cdist(real, real).sort(dim=1).values[:, k - 1]
    inside = torch.cdist(samples, real) <= radii[None, :]
    return inside.sum().item() / (k * len(samples)), inside.any(dim=0).double().mean().item()
""", ("q1-density-tests",)),
        "q1-gaussian-impl": WrongAnswer("eps scaled by the covariance instead of its Cholesky factor", """
def sample_fitted_gaussian(codes, eps):
    mean = codes.mean(dim=0)
    covariance = (codes - mean).T @ (codes - mean) / len(codes)
    return mean + eps @ covariance.T
""", ("q1-gaussian-tests",)),
        "q1-noise-impl": WrongAnswer("R not detached (the values are right)", """
def add_code_noise(z, noise_factor, eps):
    radius = (z - z.mean(dim=0)).pow(2).sum(dim=1).mean().sqrt()
    return z + noise_factor ** 0.5 * radius * eps
""", ("q1-noise-grad-tests",)),
    },
    "q1_wrong_b": {
        "q1-occupancy-impl": WrongAnswer("the mean instead of the median nearest-neighbour distance as the spacing", """
def box_occupancy(codes, points):
    between = torch.cdist(codes, codes)
    between.fill_diagonal_(float("inf"))
    spacing = between.min(dim=1).values.mean()
    return (torch.cdist(points, codes).min(dim=1).values <= spacing).double().mean().item()
""", ("q1-occupancy-tests",)),
        "q1-density-impl": WrongAnswer("a density not divided by k", """
def density_coverage(real, samples, k=5):
    radii = torch.cdist(real, real).sort(dim=1).values[:, k]
    inside = torch.cdist(samples, real) <= radii[None, :]
    return inside.sum().item() / len(samples), inside.any(dim=0).double().mean().item()
""", ("q1-density-tests",)),
        "q1-gaussian-impl": WrongAnswer("per-axis standard deviations, the correlation ignored", """
def sample_fitted_gaussian(codes, eps):
    mean = codes.mean(dim=0)
    return mean + eps * (codes - mean).pow(2).mean(dim=0).sqrt()
""", ("q1-gaussian-tests",)),
        "q1-noise-impl": WrongAnswer("noise without the R scaling (the gradient is right)", """
def add_code_noise(z, noise_factor, eps):
    return z + noise_factor ** 0.5 * eps
""", ("q1-noise-tests",)),
    },
    "q1_wrong_c": {
        "q1-occupancy-impl": WrongAnswer("the spacing taken from the points' distances, not the codes' own", """
def box_occupancy(codes, points):
    nearest = torch.cdist(points, codes).min(dim=1).values
    return (nearest <= nearest.median()).double().mean().item()
""", ("q1-occupancy-tests",)),
        "q1-density-impl": WrongAnswer("a coverage counted over the samples (share inside some ball)", """
def density_coverage(real, samples, k=5):
    radii = torch.cdist(real, real).sort(dim=1).values[:, k]
    inside = torch.cdist(samples, real) <= radii[None, :]
    return inside.sum().item() / (k * len(samples)), inside.any(dim=1).double().mean().item()
""", ("q1-density-tests",)),
        "q1-gaussian-impl": WrongAnswer("eps @ L instead of eps @ L.T (covariance L.T @ L)", """
def sample_fitted_gaussian(codes, eps):
    mean = codes.mean(dim=0)
    covariance = (codes - mean).T @ (codes - mean) / len(codes)
    return mean + eps @ torch.linalg.cholesky(covariance)
""", ("q1-gaussian-tests",)),
        "q1-noise-impl": WrongAnswer("R = z.std(), the spread of all entries, and not detached", """
def add_code_noise(z, noise_factor, eps):
    return z + noise_factor ** 0.5 * z.std() * eps
""", ("q1-noise-tests", "q1-noise-grad-tests")),
    },
    "q1_copies": {  # the package's reference under another name: only the hidden tests' forbid catches it
        "q1-density-impl": WrongAnswer("copying the reference: vaecourse.yardstick's density and coverage, aliased", """
from vaecourse.yardstick import density_coverage_from_features as counted


def density_coverage(real, samples, k=5):
    return counted(real, samples, k=k)
""", ("q1-density-tests",), not_taught=("q1-density-tests",)),
        "q1-noise-impl": WrongAnswer("copying the reference: vaecourse.models.code_rms_radius, aliased", """
from vaecourse.models import code_rms_radius as radius


def add_code_noise(z, noise_factor, eps):
    return z + noise_factor**0.5 * radius(z) * eps
""", ("q1-noise-tests", "q1-noise-grad-tests"), not_taught=("q1-noise-tests",)),  # the reference does not detach R
    },
}, "q2_likelihood": {
    "q2_wrong_a": {
        "q2-bce-impl": WrongAnswer("the literal formula, log(sigmoid(l)) (log 0 at saturated logits)", """
def bernoulli_nll(logits, x):
    p = torch.sigmoid(logits)
    return -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(dim=-1)
""", ("q2-bce-tests",)),
        "q2-elbo-impl": WrongAnswer("NLL - KL: the KL's sign flipped", """
def negative_elbo(x, mu, logvar, eps, decoder):
    z = mu + torch.exp(0.5 * logvar) * eps
    nll = torch.nn.functional.binary_cross_entropy_with_logits(decoder(z), x, reduction="none").sum(dim=-1)
    return nll - 0.5 * (torch.exp(logvar) + mu**2 - 1 - logvar).sum(dim=-1)
""", ("q2-elbo-tests",)),
        "q2-iw-impl": WrongAnswer("log(mean(exp(log_w))) without the max shift (underflows to log 0)", """
def importance_weighted_bound(log_w):
    return torch.log(torch.exp(log_w).mean(dim=-1))
""", ("q2-iw-tests",)),
        "q2-lg-impl": WrongAnswer("the identity used as its own answer: log p(x) - KL(q || p(z|x)) from the model", """
def linear_gaussian_elbo(x, w, b, s, q_mean, q_var):
    from vaecourse.linear_gaussian import LinearGaussian
    model = LinearGaussian(torch.tensor([[w]], dtype=x.dtype), torch.tensor([b], dtype=x.dtype), s)
    return model.log_marginal(x[:, None]) - model.kl_to_posterior(x[:, None], q_mean[:, None], q_var[:, None, None])
""", ("q2-lg-tests",)),
    },
    "q2_wrong_b": {
        "q2-bce-impl": WrongAnswer("the mean over pixels instead of the sum", """
def bernoulli_nll(logits, x):
    return (torch.clamp(logits, min=0) - logits * x + torch.log1p(torch.exp(-logits.abs()))).mean(dim=-1)
""", ("q2-bce-tests",), then_fails=("q2-elbo-tests",)),
        "q2-elbo-impl": WrongAnswer("the variance for the standard deviation: z = mu + exp(logvar) * eps", """
def negative_elbo(x, mu, logvar, eps, decoder):
    z = mu + torch.exp(logvar) * eps
    nll = torch.nn.functional.binary_cross_entropy_with_logits(decoder(z), x, reduction="none").sum(dim=-1)
    return nll + 0.5 * (torch.exp(logvar) + mu**2 - 1 - logvar).sum(dim=-1)
""", ("q2-elbo-tests",)),
        "q2-iw-impl": WrongAnswer("+ log K instead of - log K", """
def importance_weighted_bound(log_w):
    m = log_w.max(dim=-1, keepdim=True).values
    return (m + torch.log(torch.exp(log_w - m).sum(dim=-1, keepdim=True))).squeeze(-1) + math.log(log_w.shape[-1])
""", ("q2-iw-tests", "q2-iw-toy-tests")),
        "q2-lg-impl": WrongAnswer("the noise's standard deviation s used as its variance", """
def linear_gaussian_elbo(x, w, b, s, q_mean, q_var):
    expected = -0.5 * math.log(2 * math.pi * s) - ((x - w * q_mean - b) ** 2 + w**2 * q_var) / (2 * s)
    return expected - 0.5 * (q_var + q_mean**2 - 1 - torch.log(q_var))
""", ("q2-lg-tests",)),
    },
    "q2_wrong_c": {
        "q2-bce-impl": WrongAnswer("softplus written as log(1 + exp(l)) (overflows at large logits)", """
def bernoulli_nll(logits, x):
    return (torch.log(1 + torch.exp(logits)) - logits * x).sum(dim=-1)
""", ("q2-bce-tests",)),
        "q2-elbo-impl": WrongAnswer("the KL averaged over the latent dimensions instead of summed", """
def negative_elbo(x, mu, logvar, eps, decoder):
    z = mu + torch.exp(0.5 * logvar) * eps
    nll = torch.nn.functional.binary_cross_entropy_with_logits(decoder(z), x, reduction="none").sum(dim=-1)
    return nll + 0.5 * (torch.exp(logvar) + mu**2 - 1 - logvar).mean(dim=-1)
""", ("q2-elbo-tests",)),
        "q2-iw-impl": WrongAnswer("the log of the summed weights (log K missing)", """
def importance_weighted_bound(log_w):
    m = log_w.max(dim=-1, keepdim=True).values
    return (m + torch.log(torch.exp(log_w - m).sum(dim=-1, keepdim=True))).squeeze(-1)
""", ("q2-iw-tests", "q2-iw-toy-tests")),
        "q2-lg-impl": WrongAnswer("the w^2 v term of E_q[(x - w z - b)^2] left out", """
def linear_gaussian_elbo(x, w, b, s, q_mean, q_var):
    expected = -0.5 * math.log(2 * math.pi * s**2) - (x - w * q_mean - b) ** 2 / (2 * s**2)
    return expected - 0.5 * (q_var + q_mean**2 - 1 - torch.log(q_var))
""", ("q2-lg-tests",)),
    },
    "q2_copies": {  # PyTorch's own functions under another name: only the hidden tests' forbid catches them
        "q2-bce-impl": WrongAnswer("copying the reference: PyTorch's BCE with logits, aliased", """
from torch.nn.functional import binary_cross_entropy_with_logits as bce


def bernoulli_nll(logits, x):
    return bce(logits, x, reduction="none").sum(dim=-1)
""", ("q2-bce-tests",), not_taught=("q2-bce-tests",)),
        "q2-iw-impl": WrongAnswer("copying the reference: the tensor method logsumexp", """
def importance_weighted_bound(log_w):
    return log_w.logsumexp(dim=-1) - math.log(log_w.shape[-1])
""", ("q2-iw-tests",), not_taught=("q2-iw-tests",)),
    },
}, "q5_vq_vae": {
    "q5_wrong_a": {
        "q5-nearest-impl": WrongAnswer("argmax instead of argmin, on an N x K x D tensor of differences", """
def nearest_codes(z, codebook):
    return ((z[:, None, :] - codebook[None, :, :]) ** 2).sum(-1).argmax(dim=1)
""", ("q5-nearest-tests", "q5-nearest-memory-tests")),
        "q5-ste-impl": WrongAnswer("z_q returned as it is (no gradient reaches z_e)", """
def straight_through(z_e, z_q):
    return z_q
""", ("q5-ste-tests",)),
        "q5-losses-impl": WrongAnswer("the mean over positions and dimensions instead of the sum", """
def vq_losses(z_e, codebook, indices):
    chosen = codebook[indices]
    return (z_e.detach() - chosen).pow(2).mean(dim=(1, 2)), (z_e - chosen.detach()).pow(2).mean(dim=(1, 2))
""", ("q5-losses-tests", "q5-losses-gradient-tests")),
        "q5-perplexity-impl": WrongAnswer("0 log 0 left in the sum (nan when a code is unused)", """
def perplexity(indices, num_codes):
    probs = torch.bincount(indices.flatten(), minlength=num_codes).double() / indices.numel()
    return torch.exp(-(probs * probs.log()).sum())
""", ("q5-perplexity-tests",)),
        "q5-vqloss-impl": WrongAnswer("the homework's +log p", """
def vq_vae_loss(log_px, codebook_loss, commitment_loss, beta):
    return (log_px + codebook_loss + beta * commitment_loss).mean()
""", ("q5-vqloss-tests",)),
        "q5-ema-init-impl": WrongAnswer("counts started at 0 with the sums at the codebook (unused codes thrown out)", """
def ema_init(codebook):
    return torch.zeros(len(codebook), dtype=codebook.dtype), codebook.clone()
""", ("q5-ema-init-tests",)),
        "q5-ema-update-impl": WrongAnswer("no Laplace smoothing: the sums divided by the raw counts", """
def ema_update(counts, sums, z, indices, decay=0.99, epsilon=1e-5):
    one_hot = torch.nn.functional.one_hot(indices, len(counts)).to(z.dtype)
    counts = decay * counts + (1 - decay) * one_hot.sum(0)
    sums = decay * sums + (1 - decay) * one_hot.T @ z
    return counts, sums, sums / counts[:, None]
""", ("q5-ema-update-tests",)),
    },
    "q5_wrong_b": {
        "q5-nearest-impl": WrongAnswer("the right codes through an N x K x D tensor of differences", """
def nearest_codes(z, codebook):
    return ((z[:, None, :] - codebook[None, :, :]) ** 2).sum(-1).argmin(dim=1)
""", ("q5-nearest-memory-tests",)),
        "q5-ste-impl": WrongAnswer("z_e + (z_q - z_e) without detach (the gradient to z_e cancels)", """
def straight_through(z_e, z_q):
    return z_e + (z_q - z_e)
""", ("q5-ste-tests",)),
        "q5-losses-impl": WrongAnswer("the stop-gradients swapped between the two losses", """
def vq_losses(z_e, codebook, indices):
    chosen = codebook[indices]
    return (z_e - chosen.detach()).pow(2).sum(dim=(1, 2)), (z_e.detach() - chosen).pow(2).sum(dim=(1, 2))
""", ("q5-losses-gradient-tests",)),
        "q5-perplexity-impl": WrongAnswer("the number of codes used instead of exp(entropy)", """
def perplexity(indices, num_codes):
    return torch.tensor(float(len(torch.unique(indices))))
""", ("q5-perplexity-tests",)),
        "q5-vqloss-impl": WrongAnswer("beta on the codebook loss instead of the commitment loss", """
def vq_vae_loss(log_px, codebook_loss, commitment_loss, beta):
    return (-log_px + beta * codebook_loss + commitment_loss).mean()
""", ("q5-vqloss-tests",)),
        "q5-ema-init-impl": WrongAnswer("sums started at 0 (every unused code collapses onto the origin)", """
def ema_init(codebook):
    return torch.ones(len(codebook), dtype=codebook.dtype), torch.zeros_like(codebook)
""", ("q5-ema-init-tests",)),
        "q5-ema-update-impl": WrongAnswer("decay and 1 - decay swapped", """
def ema_update(counts, sums, z, indices, decay=0.99, epsilon=1e-5):
    one_hot = torch.nn.functional.one_hot(indices, len(counts)).to(z.dtype)
    counts = (1 - decay) * counts + decay * one_hot.sum(0)
    sums = (1 - decay) * sums + decay * one_hot.T @ z
    total = counts.sum()
    return counts, sums, sums / ((counts + epsilon) / (total + len(counts) * epsilon) * total)[:, None]
""", ("q5-ema-update-tests",)),
    },
    "q5_wrong_c": {
        # (a wrong choice of codes with the memory-saving expansion also loses the memory cell, whose hidden
        # part checks the codes of a large case: so every catalogued wrong choice here builds N x K x D too)
        "q5-nearest-impl": WrongAnswer("absolute (L1) distances, on an N x K x D tensor of differences", """
def nearest_codes(z, codebook):
    return (z[:, None, :] - codebook[None, :, :]).abs().sum(-1).argmin(dim=1)
""", ("q5-nearest-tests", "q5-nearest-memory-tests")),
        "q5-ste-impl": WrongAnswer("the detach on the wrong side: z_q + (z_e - z_q).detach() (its value is z_e)", """
def straight_through(z_e, z_q):
    return z_q + (z_e - z_q).detach()
""", ("q5-ste-tests",)),
        "q5-losses-impl": WrongAnswer("distances instead of squared distances", """
def vq_losses(z_e, codebook, indices):
    chosen = codebook[indices]
    return (z_e.detach() - chosen).norm(dim=2).sum(dim=1), (z_e - chosen.detach()).norm(dim=2).sum(dim=1)
""", ("q5-losses-tests", "q5-losses-gradient-tests")),
        "q5-perplexity-impl": WrongAnswer("the entropy itself, without the exp", """
def perplexity(indices, num_codes):
    probs = torch.bincount(indices.flatten(), minlength=num_codes).double() / indices.numel()
    probs = probs[probs > 0]
    return -(probs * probs.log()).sum()
""", ("q5-perplexity-tests",)),
        "q5-vqloss-impl": WrongAnswer("summed over the batch instead of averaged", """
def vq_vae_loss(log_px, codebook_loss, commitment_loss, beta):
    return (-log_px + codebook_loss + beta * commitment_loss).sum()
""", ("q5-vqloss-tests",)),
        "q5-ema-init-impl": WrongAnswer("counts and sums both started at 0", """
def ema_init(codebook):
    return torch.zeros(len(codebook), dtype=codebook.dtype), torch.zeros_like(codebook)
""", ("q5-ema-init-tests",)),
        "q5-ema-update-impl": WrongAnswer("every code divided by the total count", """
def ema_update(counts, sums, z, indices, decay=0.99, epsilon=1e-5):
    one_hot = torch.nn.functional.one_hot(indices, len(counts)).to(z.dtype)
    counts = decay * counts + (1 - decay) * one_hot.sum(0)
    sums = decay * sums + (1 - decay) * one_hot.T @ z
    return counts, sums, sums / counts.sum()
""", ("q5-ema-update-tests",)),
    },
    "q5_copies": {  # torch.cdist under another name: only the hidden tests' forbid catches it
        "q5-nearest-impl": WrongAnswer("copying the reference: torch.cdist, aliased", """
from torch import cdist as distances


def nearest_codes(z, codebook):
    return distances(z, codebook).argmin(dim=1)
""", ("q5-nearest-tests", "q5-nearest-memory-tests"),
            not_taught=("q5-nearest-tests", "q5-nearest-memory-tests")),
    },
}, "q3_priors": {
    # Each wrong answer fails a visible check of the cells it lists and keeps every record of the others: q.sample
    # gives the pooled noise of q.rsample (the estimate is right, its gradient is not), the score-function estimator
    # is unbiased (Task 3's first cell passes, its spread fails the second).
    "q3_wrong_a": {
        "q3-mckl-impl": WrongAnswer("samples drawn from p instead of q", """
def monte_carlo_kl(q, p, num_samples):
    z = p.sample((num_samples,) + q.batch_shape)
    log_ratio = q.log_prob(z) - p.log_prob(z)
    return log_ratio.mean(dim=0), log_ratio.std(dim=0) / math.sqrt(num_samples)
""", ("q3-mckl-tests", "q3-mckl-mixture-tests")),
        "q3-gumbel-impl": WrongAnswer("the temperature left out: softmax(logits + g)", """
def gumbel_softmax_sample(logits, temperature, uniform_noise):
    return torch.softmax(logits - torch.log(-torch.log(uniform_noise)), dim=-1)
""", ("q3-gumbel-tests", "q3-gumbel-temperature-tests")),
        "q3-beta-impl": WrongAnswer("the score-function estimator f(z) d log p(z) / d(a, b) instead of the pathwise one", """
def pathwise_gradient(a, b, f, num_samples):
    a_t, b_t = torch.tensor(float(a), dtype=torch.float64), torch.tensor(float(b), dtype=torch.float64)
    z = Beta(a_t, b_t).sample((num_samples,))
    digamma = torch.special.digamma(torch.stack([a_t, b_t, a_t + b_t]))
    per_sample = f(z)[:, None] * torch.stack([torch.log(z) - digamma[0] + digamma[2],
                                              torch.log1p(-z) - digamma[1] + digamma[2]], dim=-1)
    return per_sample.mean(dim=0), per_sample.std(dim=0) / math.sqrt(num_samples)
""", ("q3-beta-stderr-tests",)),
        "q3-icdf-impl": WrongAnswer("the naive -log(1 - Phi(eps)) (infinite in the upper tail)", """
def normal_to_exponential(eps, rate):
    return -torch.log(1 - torch.special.ndtr(eps)) / rate
""", ("q3-icdf-tests",)),
    },
    "q3_wrong_b": {
        "q3-mckl-impl": WrongAnswer("log p - log q: the log-ratio's order swapped", """
def monte_carlo_kl(q, p, num_samples):
    z = q.rsample((num_samples,))
    log_ratio = p.log_prob(z) - q.log_prob(z)
    return log_ratio.mean(dim=0), log_ratio.std(dim=0) / math.sqrt(num_samples)
""", ("q3-mckl-tests", "q3-mckl-mixture-tests")),
        "q3-gumbel-impl": WrongAnswer("softmax of the logits without Gumbel noise", """
def gumbel_softmax_sample(logits, temperature, uniform_noise):
    shape = torch.broadcast_shapes(logits.shape, uniform_noise.shape)
    return torch.softmax(logits / temperature, dim=-1).expand(shape)
""", ("q3-gumbel-tests", "q3-gumbel-temperature-tests")),
        "q3-beta-impl": WrongAnswer("the gradient of -f: the sign flipped", """
def pathwise_gradient(a, b, f, num_samples):
    a_n = torch.full((num_samples,), float(a), dtype=torch.float64, requires_grad=True)
    b_n = torch.full((num_samples,), float(b), dtype=torch.float64, requires_grad=True)
    z = Beta(a_n, b_n).rsample()
    grad_a, grad_b = torch.autograd.grad(-f(z).sum(), (a_n, b_n))
    per_sample = torch.stack([grad_a, grad_b], dim=-1)
    return per_sample.mean(dim=0), per_sample.std(dim=0) / math.sqrt(num_samples)
""", ("q3-beta-tests",)),
        "q3-icdf-impl": WrongAnswer("the wrong CDF: -log(Phi(eps)) (decreasing in eps)", """
def normal_to_exponential(eps, rate):
    return -torch.special.log_ndtr(eps) / rate
""", ("q3-icdf-tests",)),
    },
    "q3_wrong_c": {
        "q3-mckl-impl": WrongAnswer("the standard error divided by N instead of sqrt(N)", """
def monte_carlo_kl(q, p, num_samples):
    z = q.rsample((num_samples,))
    log_ratio = q.log_prob(z) - p.log_prob(z)
    return log_ratio.mean(dim=0), log_ratio.std(dim=0) / num_samples
""", ("q3-mckl-tests", "q3-mckl-mixture-tests")),
        "q3-gumbel-impl": WrongAnswer("-log(u) instead of -log(-log u) as the noise", """
def gumbel_softmax_sample(logits, temperature, uniform_noise):
    return torch.softmax((logits - torch.log(uniform_noise)) / temperature, dim=-1)
""", ("q3-gumbel-tests", "q3-gumbel-temperature-tests")),
        "q3-beta-impl": WrongAnswer("the standard error divided by N instead of sqrt(N)", """
def pathwise_gradient(a, b, f, num_samples):
    a_n = torch.full((num_samples,), float(a), dtype=torch.float64, requires_grad=True)
    b_n = torch.full((num_samples,), float(b), dtype=torch.float64, requires_grad=True)
    z = Beta(a_n, b_n).rsample()
    grad_a, grad_b = torch.autograd.grad(f(z).sum(), (a_n, b_n))
    per_sample = torch.stack([grad_a, grad_b], dim=-1)
    return per_sample.mean(dim=0), per_sample.std(dim=0) / num_samples
""", ("q3-beta-tests", "q3-beta-stderr-tests")),
        "q3-icdf-impl": WrongAnswer("the rate multiplied instead of divided", """
def normal_to_exponential(eps, rate):
    return -torch.special.log_ndtr(-eps) * rate
""", ("q3-icdf-tests",)),
    },
    "q3_wrong_d": {
        "q3-mckl-impl": WrongAnswer("q.sample instead of q.rsample (no pathwise gradient)", """
def monte_carlo_kl(q, p, num_samples):
    z = q.sample((num_samples,))
    log_ratio = q.log_prob(z) - p.log_prob(z)
    return log_ratio.mean(dim=0), log_ratio.std(dim=0) / math.sqrt(num_samples)
""", ("q3-mckl-tests",)),
        "q3-gumbel-impl": WrongAnswer("the temperature multiplied instead of divided", """
def gumbel_softmax_sample(logits, temperature, uniform_noise):
    return torch.softmax((logits - torch.log(-torch.log(uniform_noise))) * temperature, dim=-1)
""", ("q3-gumbel-tests", "q3-gumbel-temperature-tests")),
        "q3-beta-impl": WrongAnswer("[d/db, d/da]: the gradients in the wrong order", """
def pathwise_gradient(a, b, f, num_samples):
    a_n = torch.full((num_samples,), float(a), dtype=torch.float64, requires_grad=True)
    b_n = torch.full((num_samples,), float(b), dtype=torch.float64, requires_grad=True)
    z = Beta(a_n, b_n).rsample()
    grad_b, grad_a = torch.autograd.grad(f(z).sum(), (b_n, a_n))
    per_sample = torch.stack([grad_b, grad_a], dim=-1)
    return per_sample.mean(dim=0), per_sample.std(dim=0) / math.sqrt(num_samples)
""", ("q3-beta-tests", "q3-beta-stderr-tests")),
        "q3-icdf-impl": WrongAnswer("log1p(-Phi(eps)): the same cancellation as 1 - Phi(eps)", """
def normal_to_exponential(eps, rate):
    return -torch.log1p(-torch.special.ndtr(eps)) / rate
""", ("q3-icdf-tests",)),
    },
    "q3_copies": {  # the package's reference under another name: only the hidden tests' forbid catches it
        "q3-mckl-impl": WrongAnswer("copying the reference: vaecourse.priors.monte_carlo_kl, aliased", """
from vaecourse.priors import monte_carlo_kl as estimate


def monte_carlo_kl(q, p, num_samples):
    return estimate(q, p, num_samples, reparameterised=True)
""", ("q3-mckl-tests", "q3-mckl-mixture-tests"), not_taught=("q3-mckl-tests", "q3-mckl-mixture-tests")),
    },
}, "q4_beta_vae": {
    # Task 4 and 5 answers bring their own (correct) mutual information, and the reading its answers as values, so
    # that each fails only its own cells (the model mig and mig_gaps call the student's mutual_information).
    "q4_wrong_a": {
        "q4-loss-impl": WrongAnswer("beta on the NLL instead of the KL", """
def beta_vae_loss(x, q_z, p_x, beta):
    nll = -p_x.log_prob(x)
    mu, var = q_z.mean, q_z.variance
    kl = 0.5 * (var + mu**2 - 1.0 - torch.log(var)).sum(dim=-1)
    return {"nll": nll, "kl": kl, "neg_elbo": nll + kl, "beta_loss": beta * nll + kl}
""", ("q4-loss-tests", "q4-loss-grad-tests")),
        "q4-mi-impl": WrongAnswer("the mutual information in bits (log2) instead of nats", """
def mutual_information(a, b):
    _, a_index = np.unique(np.asarray(a), return_inverse=True)
    _, b_index = np.unique(np.asarray(b), return_inverse=True)
    joint = np.zeros((a_index.max() + 1, b_index.max() + 1))
    np.add.at(joint, (a_index.ravel(), b_index.ravel()), 1.0)
    joint /= joint.sum()
    product = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    return float((joint[nonzero] * np.log2(joint[nonzero] / product[nonzero])).sum())
""", ("q4-mi-tests",), then_fails=("q4-gaps-tests",)),
        "q4-mig-impl": WrongAnswer("MIG without the H(v) normalisation (gaps in nats)", Q4_OWN_MI + """
def mig(codes, factors, num_bins=20):
    binned = discretize(codes, num_bins)
    factors = np.asarray(factors)
    gaps = []
    for k in range(factors.shape[1]):
        information = np.sort([_own_mi(binned[:, j], factors[:, k]) for j in range(binned.shape[1])])[::-1]
        gaps.append(information[0] - information[1])
    return float(np.mean(gaps))
""", ("q4-mig-tests", "q4-mig-sanity-tests")),
        "q4-gaps-impl": WrongAnswer("normalise ignored: always divided by H(v)", Q4_OWN_MI + """
def mig_gaps(codes, factors, num_bins=20, normalise=True):
    binned = discretize(codes, num_bins)
    factors = np.asarray(factors)
    gaps = np.empty(factors.shape[1])
    for k in range(factors.shape[1]):
        information = np.sort([_own_mi(binned[:, j], factors[:, k]) for j in range(binned.shape[1])])[::-1]
        gaps[k] = (information[0] - information[1]) / _own_mi(factors[:, k], factors[:, k])
    return gaps
""", ("q4-gaps-tests",), then_fails=("q4-reading-tests",)),
        "q4-reading-impl": WrongAnswer("the redundant code (two dimensions for factor 0) read as the best by MIG", """
reading = {"best_by_mig": "redundant", "betavae_blind_spot": "missing", "factor_left_out": 2,
           "factor_without_gap_in_redundant": 0, "largest_gap_in_nats": 2}
""", ("q4-reading-tests",)),
        "q4-traversal-impl": WrongAnswer("a posterior sample as the base code instead of the mean", """
def latent_traversal(model, x, dimension, values):
    with torch.no_grad():
        base_code = model.encode(x).rsample()[0]
        return model.decode(traversal_codes(base_code, dimension, values)).mean
""", ("q4-traversal-tests",)),
    },
    "q4_wrong_b": {
        "q4-loss-impl": WrongAnswer("the KL averaged over the latent dimensions instead of summed", """
def beta_vae_loss(x, q_z, p_x, beta):
    nll = -p_x.log_prob(x)
    mu, var = q_z.mean, q_z.variance
    kl = 0.5 * (var + mu**2 - 1.0 - torch.log(var)).mean(dim=-1)
    return {"nll": nll, "kl": kl, "neg_elbo": nll + kl, "beta_loss": nll + beta * kl}
""", ("q4-loss-tests", "q4-loss-grad-tests")),
        "q4-mi-impl": WrongAnswer("counts instead of frequencies inside the log ratio", """
def mutual_information(a, b):
    _, a_index = np.unique(np.asarray(a), return_inverse=True)
    _, b_index = np.unique(np.asarray(b), return_inverse=True)
    joint = np.zeros((a_index.max() + 1, b_index.max() + 1))
    np.add.at(joint, (a_index.ravel(), b_index.ravel()), 1.0)
    product = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    return float((joint[nonzero] * np.log(joint[nonzero] / product[nonzero])).sum() / joint.sum())
""", ("q4-mi-tests",), then_fails=Q4_AFTER_MI),
        "q4-mig-impl": WrongAnswer("the top mutual information alone (no second one subtracted)", Q4_OWN_MI + """
def mig(codes, factors, num_bins=20):
    binned = discretize(codes, num_bins)
    factors = np.asarray(factors)
    gaps = []
    for k in range(factors.shape[1]):
        information = max(_own_mi(binned[:, j], factors[:, k]) for j in range(binned.shape[1]))
        gaps.append(information / _own_mi(factors[:, k], factors[:, k]))
    return float(np.mean(gaps))
""", ("q4-mig-tests", "q4-mig-sanity-tests")),
        "q4-gaps-impl": WrongAnswer("the top mutual information alone (no second one subtracted)", Q4_OWN_MI + """
def mig_gaps(codes, factors, num_bins=20, normalise=True):
    binned = discretize(codes, num_bins)
    factors = np.asarray(factors)
    gaps = np.empty(factors.shape[1])
    for k in range(factors.shape[1]):
        gaps[k] = max(_own_mi(binned[:, j], factors[:, k]) for j in range(binned.shape[1]))
        if normalise:
            gaps[k] /= _own_mi(factors[:, k], factors[:, k])
    return gaps
""", ("q4-gaps-tests",), then_fails=("q4-reading-tests",)),
        "q4-reading-impl": WrongAnswer("a gap of 0 read as a factor left out: the redundant code as the blind spot", """
reading = {"best_by_mig": "aligned", "betavae_blind_spot": "redundant", "factor_left_out": 0,
           "factor_without_gap_in_redundant": 0, "largest_gap_in_nats": 2}
""", ("q4-reading-tests",)),
        "q4-traversal-impl": WrongAnswer("the sweep around the zero code instead of the posterior mean", """
def latent_traversal(model, x, dimension, values):
    with torch.no_grad():
        base_code = torch.zeros_like(model.encode(x).mean[0])
        return model.decode(traversal_codes(base_code, dimension, values)).mean
""", ("q4-traversal-tests",)),
    },
    "q4_wrong_c": {
        "q4-loss-impl": WrongAnswer("the standard deviation used as the variance in the KL", """
def beta_vae_loss(x, q_z, p_x, beta):
    nll = -p_x.log_prob(x)
    mu, var = q_z.mean, q_z.stddev
    kl = 0.5 * (var + mu**2 - 1.0 - torch.log(var)).sum(dim=-1)
    return {"nll": nll, "kl": kl, "neg_elbo": nll + kl, "beta_loss": nll + beta * kl}
""", ("q4-loss-tests", "q4-loss-grad-tests")),
        "q4-mi-impl": WrongAnswer("the entropy H(a) returned for I(a; b)", """
def mutual_information(a, b):
    _, counts = np.unique(np.asarray(a), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())
""", ("q4-mi-tests",), then_fails=Q4_AFTER_MI),
        "q4-mig-impl": WrongAnswer("the gap of the wrong pair: largest minus smallest", Q4_OWN_MI + """
def mig(codes, factors, num_bins=20):
    binned = discretize(codes, num_bins)
    factors = np.asarray(factors)
    gaps = []
    for k in range(factors.shape[1]):
        information = [_own_mi(binned[:, j], factors[:, k]) for j in range(binned.shape[1])]
        gaps.append((max(information) - min(information)) / _own_mi(factors[:, k], factors[:, k]))
    return float(np.mean(gaps))
""", ("q4-mig-tests", "q4-mig-sanity-tests")),
        "q4-gaps-impl": WrongAnswer("the gap of the wrong pair: largest minus smallest", Q4_OWN_MI + """
def mig_gaps(codes, factors, num_bins=20, normalise=True):
    binned = discretize(codes, num_bins)
    factors = np.asarray(factors)
    gaps = np.empty(factors.shape[1])
    for k in range(factors.shape[1]):
        information = [_own_mi(binned[:, j], factors[:, k]) for j in range(binned.shape[1])]
        gaps[k] = max(information) - min(information)
        if normalise:
            gaps[k] /= _own_mi(factors[:, k], factors[:, k])
    return gaps
""", ("q4-gaps-tests",), then_fails=("q4-reading-tests",)),
        "q4-reading-impl": WrongAnswer("the largest gap in nats read off the normalised gaps (the binary factor)", """
reading = {"best_by_mig": "aligned", "betavae_blind_spot": "missing", "factor_left_out": 2,
           "factor_without_gap_in_redundant": 0, "largest_gap_in_nats": 0}
""", ("q4-reading-tests",)),
        "q4-traversal-impl": WrongAnswer("the decoder's logits returned instead of its mean", """
def latent_traversal(model, x, dimension, values):
    with torch.no_grad():
        base_code = model.encode(x).mean[0]
        return model.decode(traversal_codes(base_code, dimension, values)).base_dist.logits
""", ("q4-traversal-tests",)),
    },
    "q4_copies": {  # scikit-learn's and the course's own MIG under other names: only forbid catches them
        "q4-mi-impl": WrongAnswer("copying the reference: scikit-learn's mutual_info_score, aliased", """
from sklearn.metrics import mutual_info_score as information


def mutual_information(a, b):
    return float(information(a, b))
""", ("q4-mi-tests",), not_taught=("q4-mi-tests",),
            then_fails=("q4-mig-tests", "q4-gaps-tests")),  # the bans of Tasks 5 and 6 refuse it too
        "q4-mig-impl": WrongAnswer("copying the reference: the course's own MIG from vaecourse.testkit, aliased", """
from vaecourse.testkit import reference_mig as course_mig


def mig(codes, factors, num_bins=20):
    return course_mig(codes, factors, num_bins)
""", ("q4-mig-tests",), not_taught=("q4-mig-tests",)),
    },
}}
# The submission of each catalogue that goes through `nbgrader autograde` (q0's is in the battery).
AUTOGRADED_CATALOGUE = {aid: next(iter(catalogue)) for aid, catalogue in WRONG_ANSWER_CATALOGUE.items()}
# Every wrong answer, graded alone in its assignment's shared kernel: (aid, student, answer cell).
CATALOGUE_ENTRIES = [(aid, student, answer_id) for aid, catalogue in WRONG_ANSWER_CATALOGUE.items()
                     for student, answers in catalogue.items() for answer_id in answers]
MODEL_VARIANT, STUB_VARIANT, LAST_VARIANT = "model answers", "release stubs", "model answers, after the catalogue"
PARTIAL_VARIANT = "first task only"  # the partly correct student, outside the battery


def with_answers(notebook: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with the answer cells named in ``answers`` (grade_id -> source) replaced."""
    edited = copy.deepcopy(notebook)
    replaced = set()
    for cell in edited.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
            replaced.add(grade_id)
    assert replaced == set(answers), f"no answer cells {sorted(set(answers) - replaced)}"
    return edited


def catalogue_submission(aid: str, release: nbformat.NotebookNode,
                         source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The model answers with every answer cell replaced by the wrong answer of AUTOGRADED_CATALOGUE's submission."""
    answers = WRONG_ANSWER_CATALOGUE[aid][AUTOGRADED_CATALOGUE[aid]]
    return with_answers(paste_solutions(release, source), {gid: answer.code.lstrip() for gid, answer in answers.items()})


def answer_code(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> source of every code answer cell (of a release: the stubs)."""
    return {cell.metadata.nbgrader["grade_id"]: cell.source for cell in notebook.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")}


def catalogue_variants(aid: str, release: nbformat.NotebookNode) -> dict[str, dict[str, str]]:
    """The variants of grade_in_one_kernel for ``aid``: controls, the autograded submission, each wrong answer alone.

    The model answers first (the whole notebook) and last (after every wrong answer: nothing they left
    behind may change a score); the release's stubs in every answer cell (no test cell may pass on them, hidden
    tests included); the partly correct student (the release's cells below the first test cell, written answers
    with their checksums); the autograded submission (its scores must equal nbgrader's); then each wrong answer alone,
    from the last answer cell upwards, so that each runs from its own answer cell down.
    """
    stubs = answer_code(release)
    position = {gid: number for number, gid in enumerate(stubs)}
    catalogue = WRONG_ANSWER_CATALOGUE[aid]
    # the partly correct student: every answer cell below the first test cell, written answers included, as released
    first_test = next(i for i, c in enumerate(release.cells) if is_test_cell(c))
    unsolved = {c.metadata.nbgrader["grade_id"]: c for c in release.cells[first_test:]
                if c.metadata.get("nbgrader", {}).get("solution")}
    variants = {MODEL_VARIANT: {}, STUB_VARIANT: stubs, PARTIAL_VARIANT: unsolved,
                AUTOGRADED_CATALOGUE[aid]: {gid: a.code.lstrip() for gid, a in catalogue[AUTOGRADED_CATALOGUE[aid]].items()}}
    alone = sorted(((student, gid, answer) for student, answers in catalogue.items() for gid, answer in answers.items()),
                   key=lambda entry: -position[entry[1]])
    variants.update({f"{student}/{gid}": {gid: answer.code.lstrip()} for student, gid, answer in alone})
    variants[LAST_VARIANT] = {}
    return variants


@dataclass
class CellScore:
    cell_type: str
    auto_score: float | None
    max_score: float
    needs_manual_grade: bool


@dataclass
class Course:
    roots: dict[str, Path]  # aid -> the temporary course it was graded in (COURSE_GROUPS)
    generated: dict[str, Path]  # aid -> freshly generated release folder
    students: dict[str, list[str]]  # aid -> every student with a submission folder
    scores: dict[tuple[str, str], dict[str, CellScore]]  # (aid, student) -> grade_id -> score ({} if never graded)
    comments: dict[tuple[str, str], dict[str, str]]  # (aid, student) -> answer grade_id -> autograder comment
    logs: dict[str, str]  # aid -> the autograde command's output
    seconds: dict[str, float]  # aid -> wall time of its autograde command
    exported: list[dict[str, str]]  # rows of `nbgrader export`
    validated: dict  # aid -> `nbgrader validate` of the solution; (aid, "--invert") -> of the committed release
    regrade: dict[str, dict]  # the one-student regrade: scores before and after, and its log
    changed: dict[str, list[str]]  # aid -> files of its course, other than the grader's outputs, changed by autograde
    connections: dict[str, int]  # aid -> connections that reached its course's loopback listener during autograde
    catalogue: dict[str, dict]  # aid -> variant name -> VariantGrade (catalogue_variants, graded in one kernel)
    catalogue_seconds: dict[str, float]  # aid -> wall time of its shared-kernel catalogue run
    gradebooks: dict[str, str]  # aid -> "sqlite" or "postgresql", what its course graded into (GRADEBOOKS)

    @property
    def autograde_log(self) -> str:
        return "\n".join(self.logs.values())


def _read_scores(db_url: str, aid: str, student: str) -> tuple[dict[str, CellScore], dict[str, str]]:
    from nbgrader.api import Gradebook, MissingEntry

    scores, comments = {}, {}
    with Gradebook(db_url, course_id="vaecourse") as gradebook:
        try:
            notebook = gradebook.find_submission_notebook(aid, aid, student)
        except MissingEntry:
            return {}, {}
        for grade in notebook.grades:
            scores[grade.name] = CellScore(grade.cell_type, grade.auto_score, grade.max_score,
                                           grade.needs_manual_grade)
        for comment in notebook.comments:
            if comment.auto_comment:
                comments[comment.name] = comment.auto_comment
    return scores, comments


def _write_submission(root: Path, student: str, aid: str, notebook) -> None:
    folder = root / "submitted" / student / aid
    folder.mkdir(parents=True)
    if isinstance(notebook, str):
        (folder / f"{aid}.ipynb").write_text(notebook, encoding="utf-8")
    elif notebook is not None:
        nbformat.write(notebook, folder / f"{aid}.ipynb")


# Two independent nbgrader courses, graded at the same time (one kernel each: the two cores of the
# reference machine): the battery on HOSTILE_AID, with the guide's edit, regrade and feedback steps, q1 and
# q3, and the other assignments (the split by which the two took about as long: measured 172 and 146 s of
# autograding and catalogue, standalone). Each has its own gradebook and
# imports the same roster (every student of both), so each export must list every student for each of
# its assignments.
FIRST_GROUP = (HOSTILE_AID, "q1_autoencoders", "q3_priors")
COURSE_GROUPS = (list(FIRST_GROUP), [aid for aid in ASSIGNMENTS if aid not in FIRST_GROUP])
# The gradebook of each course group, in COURSE_GROUPS' order: SQLite (nbgrader's default file) or PostgreSQL (a
# temporary server, vaecourse.postgres). The same tests pass on both: `.ci/run` runs this module a second time with
# VAECOURSE_TEST_GRADEBOOKS=postgresql,sqlite, so every assignment is graded into each. Without a PostgreSQL server a
# group falls back to SQLite with a warning (under CI=true it fails).
GRADEBOOKS = tuple(os.environ.get("VAECOURSE_TEST_GRADEBOOKS", "sqlite,postgresql").split(","))
EVERYONE = sorted(set(HOSTILE_CASES) | {STUDENT_SOLVED, STUDENT_UNTOUCHED, STUDENT_PARTIAL}
                  | {student for aid, student in AUTOGRADED_CATALOGUE.items() if aid != HOSTILE_AID})


# What `nbgrader autograde` itself writes; every other file of the course must be the same after the batch.
GRADER_OUTPUTS = ("autograded", "feedback", "gradebook.db", ".jupyter_config")


def _tree_hashes(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file of the course but the grader's own outputs."""
    import hashlib

    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*"))
            if path.is_file() and path.relative_to(root).parts[0] not in GRADER_OUTPUTS}


def _grade_group(root: Path, aids: list[str], db_url: str | None = None) -> dict:
    """Release, hand in, autograde and export ``aids`` in a new course at ``root``; what the tests look at.

    ``db_url``: the gradebook, written into the course's nbgrader_config.py as INSTRUCTORS.md says (a PostgreSQL
    database); None for nbgrader's default, ``gradebook.db`` (SQLite) in the course.
    """
    root.mkdir(parents=True)
    # the course cache that sandboxed kernels read (vaecourse/sandbox.py): filled once here, as an instructor's
    # machine has it after running any notebook (else every kernel of q1 and q2 builds the digits again)
    import vaecourse as vc

    vc.data.load_mnist("embedded", "train")
    listener = socket.socket()  # the escape submission's target: a port on the grader's machine, on loopback
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    if db_url:
        with (root / "nbgrader_config.py").open("a", encoding="utf-8") as config:
            config.write(f'\nc.CourseDirectory.db_url = "{db_url}"\n')
    (root / ".jupyter_config").mkdir()
    (root / "solutions").mkdir()
    shutil.copy2(REPO / "solutions" / "jupytext.toml", root / "solutions" / "jupytext.toml")  # the pairing
    students, validated = {}, {}
    for aid in aids:
        shutil.copytree(REPO / "solutions" / aid, root / "solutions" / aid)
        if aid == HOSTILE_AID:  # the guide's edit-and-release steps, on the copy: sync the pair, store it
            run_tool(root, "jupytext", "--sync", f"solutions/{aid}/{aid}.py")
            run_tool(root, "python", "benchmarks/run_notebooks.py", "store", f"solutions/{aid}/{aid}.ipynb")
            validated[aid] = run_nbgrader(root, "validate", f"solutions/{aid}/{aid}.ipynb")
        shutil.copytree(REPO / "exercises" / aid, root / "committed_release" / aid)
    # Generate with the database on (autograde needs the assignment and its cells in it), every assignment of the
    # group in one command: nbgrader takes the assignment id as a glob ("q*": not solutions/jupytext.toml).
    run_nbgrader(root, "generate_assignment", "q*", "--force")
    for aid in aids:
        release_nb = nbformat.read(root / "exercises" / aid / f"{aid}.ipynb", as_version=4)
        source_nb = nbformat.read(REPO / "solutions" / aid / f"{aid}.ipynb", as_version=4)
        if aid == HOSTILE_AID:
            submissions = hostile_submissions(release_nb, source_nb, listener.getsockname()[1])
        else:
            # No untouched release here: what grading it shows follows from its stubs graded in the catalogue's
            # shared kernel (test_release_stubs_earn_nothing) and from the partly correct student there, whose
            # written answers are all left as released (test_unanswered_written_answers_earn_nothing).
            # (the partly correct student is graded in the catalogue's shared kernel: PARTIAL_VARIANT)
            submissions = {STUDENT_SOLVED: paste_solutions(release_nb, source_nb)}
            if aid in WRONG_ANSWER_CATALOGUE:  # one submission of typical wrong answers, one per task
                submissions[AUTOGRADED_CATALOGUE[aid]] = catalogue_submission(aid, release_nb, source_nb)
        for student, notebook in submissions.items():
            _write_submission(root, student, aid, notebook)
        students[aid] = sorted(submissions)
    # The committed release of HOSTILE_AID, the guide's last release step; the other releases' stubs are graded
    # in the shared kernel with the catalogue (test_release_stubs_earn_nothing).
    if HOSTILE_AID in aids:
        release_path = root / "committed_release" / HOSTILE_AID / f"{HOSTILE_AID}.ipynb"
        validated[(HOSTILE_AID, "--invert")] = run_nbgrader(root, "validate", "--invert", str(release_path))

    roster = root / "students.csv"
    roster.write_text("id,first_name,last_name,email\n" + "".join(f"{s},,,\n" for s in EVERYONE), encoding="utf-8")
    run_nbgrader(root, "db", "student", "import", str(roster))

    logs, seconds = {}, {}
    before = _tree_hashes(root)
    for aid in aids:
        extra = ([f"--Execute.timeout={SIMULATED_CELL_TIMEOUT_S}",
                  f"--ExecuteSurvivingKernelDeath.notebook_timeout={SIMULATED_NOTEBOOK_TIMEOUT_S}"]
                 if aid == HOSTILE_AID else [])
        started = time.perf_counter()
        proc = run_nbgrader(root, "autograde", aid, "--create", "--force", *extra, may_reject=aid == HOSTILE_AID)
        seconds[aid] = time.perf_counter() - started
        logs[aid] = _output(proc)
    after = _tree_hashes(root)
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    try:
        listener.accept()
        connections = 1  # someone reached the port: the escape submission got out
    except BlockingIOError:
        connections = 0
    listener.close()

    # Every wrong answer of the catalogues alone, with the controls, in one kernel per assignment (one at a time:
    # the other group grades on the other core).
    from vaecourse.autograde import grade_in_one_kernel

    catalogue, catalogue_seconds = {}, {}
    for aid in aids:
        if aid in WRONG_ANSWER_CATALOGUE:
            release_nb = nbformat.read(root / "exercises" / aid / f"{aid}.ipynb", as_version=4)
            started = time.perf_counter()
            catalogue[aid] = grade_in_one_kernel(root / "solutions" / aid / f"{aid}.ipynb",
                                                 catalogue_variants(aid, release_nb))
            catalogue_seconds[aid] = time.perf_counter() - started

    gradebook_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
    read = {(aid, student): _read_scores(gradebook_url, aid, student) for aid in aids for student in students[aid]}
    run_nbgrader(root, "export", "--to", str(root / "grades.csv"))
    # feedback for every graded submission of every assignment of the group (test_feedback_shows_no_hidden_test)
    # ("*": nbgrader takes the assignment id as a glob, so one command, one start of nbgrader, makes them all)
    run_nbgrader(root, "generate_feedback", "*")
    regrade = {}
    if HOSTILE_AID in aids:
        # Regrade one student: the partly correct student hands in the full solution.
        before = {s: _read_scores(gradebook_url, HOSTILE_AID, s)[0] for s in students[HOSTILE_AID]}
        fixed = root / "submitted" / STUDENT_PARTIAL / HOSTILE_AID / f"{HOSTILE_AID}.ipynb"
        shutil.copy2(root / "submitted" / STUDENT_SOLVED / HOSTILE_AID / f"{HOSTILE_AID}.ipynb", fixed)
        regrade_proc = run_nbgrader(root, "autograde", HOSTILE_AID, "--student", STUDENT_PARTIAL, "--force")
        after = {s: _read_scores(gradebook_url, HOSTILE_AID, s)[0] for s in students[HOSTILE_AID]}
        regrade = {"before": before, "after": after, "log": _output(regrade_proc)}
    with open(root / "grades.csv", newline="", encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    return {"students": students, "validated": validated, "logs": logs, "seconds": seconds, "read": read,
            "exported": exported, "regrade": regrade, "changed": {aid: changed for aid in aids},
            "connections": {aid: connections for aid in aids}, "catalogue": catalogue,
            "catalogue_seconds": catalogue_seconds}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    """A simulated class in two temporary courses (COURSE_GROUPS), autograded once for all tests.

    Every assignment gets the model answers and the first task only; HOSTILE_AID gets the battery of
    HOSTILE_CASES (these two and the untouched release among them), under a short per-cell timeout.
    The roster is imported first, so the exported grades must list every student.
    """
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import ExitStack

    from vaecourse.postgres import find_postgres, temporary_server

    assert len(GRADEBOOKS) == len(COURSE_GROUPS) and set(GRADEBOOKS) <= {"sqlite", "postgresql"}, \
        f"VAECOURSE_TEST_GRADEBOOKS names one of sqlite, postgresql per course group, got {GRADEBOOKS}"
    base = tmp_path_factory.mktemp("courses")
    roots = {aid: base / f"course{number}" for number, group in enumerate(COURSE_GROUPS) for aid in group}
    with pytest.MonkeyPatch.context() as mp, ExitStack() as servers:  # the gradebook runs `alembic` from PATH
        mp.setenv("PATH", os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]))  # (see _nbgrader_env)
        urls = []
        for number, kind in enumerate(GRADEBOOKS):
            if kind == "postgresql" and find_postgres() is None:
                if running_in_ci():
                    missing("no PostgreSQL server for the grading tests' gradebook",
                            "install it: `sudo apt-get install postgresql` (Debian, Ubuntu)")
                warnings.warn("no PostgreSQL server: every course group grades into SQLite", stacklevel=2)
                kind = "sqlite"
            urls.append(servers.enter_context(temporary_server()).create_database(f"gradebook{number}")
                        if kind == "postgresql" else None)
        with ThreadPoolExecutor(max_workers=len(COURSE_GROUPS)) as pool:
            futures = [pool.submit(_grade_group, roots[group[0]], group, url) for group, url in zip(COURSE_GROUPS, urls)]
            parts = [future.result() for future in futures]  # re-raises a group's failure here
    merged = {key: {k: v for part in parts for k, v in part[key].items()}
              for key in ("students", "validated", "logs", "seconds", "read", "changed", "connections", "catalogue",
                          "catalogue_seconds")}
    return Course(roots=roots, generated={aid: roots[aid] / "exercises" / aid for aid in ASSIGNMENTS},
                  students=merged["students"], scores={key: value[0] for key, value in merged["read"].items()},
                  comments={key: value[1] for key, value in merged["read"].items()}, logs=merged["logs"],
                  seconds=merged["seconds"], exported=[row for part in parts for row in part["exported"]],
                  validated=merged["validated"], regrade=next(part["regrade"] for part in parts if part["regrade"]),
                  changed=merged["changed"], connections=merged["connections"], catalogue=merged["catalogue"],
                  catalogue_seconds=merged["catalogue_seconds"],
                  gradebooks={aid: "postgresql" if url else "sqlite" for group, url in zip(COURSE_GROUPS, urls)
                              for aid in group})


def _autograded_errors(course: Course, aid: str, student: str) -> str:
    """The error outputs of the autograded notebook, to show why points were lost."""
    path = course.roots[aid] / "autograded" / student / aid / f"{aid}.ipynb"
    if not path.exists():
        return f"(no autograded notebook at {path})"
    notebook = nbformat.read(path, as_version=4)
    lines = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
                lines.append(f"[{grade_id}] {out.ename}: {out.evalue}")
    return "\n".join(lines) or "(no error outputs)"


# ------------------------------------------------------------------------------------ release


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_is_generated_from_solutions(course: Course, aid: str) -> None:
    """exercises/<aid>/ is byte for byte what `nbgrader generate_assignment <aid>` makes now.

    Nothing is normalised: nbgrader 0.9 writes no timestamps or random ids into the release (cell ids
    are copied from the source), and generating with and without the database gives the same bytes.
    """
    committed_dir = REPO / "exercises" / aid
    generated_dir = course.generated[aid]
    hint = f"regenerate it from the repository root: uv run nbgrader generate_assignment {aid} --force"
    committed = sorted(p.relative_to(committed_dir).as_posix() for p in committed_dir.rglob("*") if p.is_file())
    generated = sorted(p.relative_to(generated_dir).as_posix() for p in generated_dir.rglob("*") if p.is_file())
    assert committed == generated, f"exercises/{aid} holds {committed}, nbgrader makes {generated}; {hint}"
    for name in generated:
        old = (committed_dir / name).read_bytes()
        new = (generated_dir / name).read_bytes()
        if old != new:
            diff = "".join(difflib.unified_diff(
                old.decode(errors="replace").splitlines(keepends=True),
                new.decode(errors="replace").splitlines(keepends=True),
                f"exercises/{aid}/{name} (committed)", f"{name} (generated now)", n=1))
            pytest.fail(f"exercises/{aid}/{name} is out of date; {hint}\n{diff[:4000]}")


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_has_no_twin_or_jupytext_metadata(aid: str) -> None:
    """The release holds one notebook, no .py twin, and no `jupytext` or widget metadata."""
    release_dir = REPO / "exercises" / aid
    files = sorted(p.name for p in release_dir.rglob("*") if p.is_file())
    assert files == [f"{aid}.ipynb"], f"exercises/{aid} should hold only {aid}.ipynb, found {files}"
    metadata = json.loads((release_dir / f"{aid}.ipynb").read_text(encoding="utf-8"))["metadata"]
    assert "jupytext" not in metadata, "the release carries jupytext metadata; students' jupytext would act on it"
    assert "widgets" not in metadata, "the release stores widget state"
    assert "version" not in metadata.get("language_info", {}), "the release records the instructor's Python version"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_hides_solutions_and_hidden_tests(aid: str) -> None:
    """No solution or hidden-test marker survives into the release (a mistyped marker would leak).

    nbgrader silently ignores a marker it does not recognise, such as `### BEGIN HIDDEN TEST`, and
    then hands the code below it to the students.
    """
    release = nbformat.read(REPO / "exercises" / aid / f"{aid}.ipynb", as_version=4)
    leaks = [(cell.metadata.get("nbgrader", {}).get("grade_id", cell.get("id")), line.strip())
             for cell in release.cells for line in cell.source.splitlines()
             if line.lstrip().startswith("###") and any(word in line.upper() for word in ("SOLUTION", "HIDDEN"))]
    assert not leaks, f"markers left in exercises/{aid}/{aid}.ipynb (mistyped in the source?): {leaks}"
    source = nbformat.read(REPO / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    released = {c.metadata.nbgrader["grade_id"]: c.source for c in release.cells if "nbgrader" in c.metadata}
    for cell in source.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if "### BEGIN HIDDEN TESTS" in cell.source:
            assert "### BEGIN HIDDEN TESTS" not in released[grade_id]
            hidden = cell.source.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS", 1)[0]
            assert hidden.strip() and hidden.strip() not in released[grade_id], f"{grade_id}: hidden tests leaked"


# ----------------------------------------------------------------------------------- validate


def test_solution_passes_validate(course: Course) -> None:
    """`nbgrader validate` runs the edited solution (the guide's edit step) in a fresh kernel; every test cell passes.

    The other solutions are not validated: their model answers are autograded with the hidden tests
    (test_solution_earns_all_autograded_points) and must run without an error in any cell
    (test_model_answers_run_as_the_stored_solution), which is what validate would find and more.
    """
    proc = course.validated[HOSTILE_AID]
    passed = VALIDATE_PASSED in proc.stdout and "VALIDATION FAILED" not in proc.stdout
    assert passed, f"`nbgrader validate` does not pass on solutions/{HOSTILE_AID}/{HOSTILE_AID}.ipynb\n{_output(proc)}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_model_answers_run_as_the_stored_solution(course: Course, aid: str) -> None:
    """The autograded model answers are each solution's run in this test command, checked as nbval would.

    The solution notebooks are not run again under nbval (pyproject.toml's testpaths leave solutions/
    out): the model answers, pasted into the release and autograded with the hidden tests put back,
    run the same code. No cell of that run may raise, and every ``# NBVAL_CHECK_OUTPUT`` cell must give
    the stored solution's output (tests/nbval_compare.py, nbval's comparison).
    """
    from nbval_compare import checked_output_differences

    stored = nbformat.read(REPO / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    path = course.roots[aid] / "autograded" / STUDENT_SOLVED / aid / f"{aid}.ipynb"
    graded = nbformat.read(path, as_version=4)
    errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, cell in enumerate(graded.cells) if cell.cell_type == "code"
              for o in cell.outputs if o.output_type == "error"]
    assert not errors, f"the model answers of {aid} raised:\n" + "\n".join(errors)
    differences = checked_output_differences(stored, [cell.get("outputs", []) for cell in graded.cells])
    assert not differences, f"{aid}: checked outputs differ from the stored solution's:\n" + "\n".join(differences)


def test_release_fails_every_test_under_validate_invert(course: Course) -> None:
    """`nbgrader validate --invert` on the committed release of the guide's steps: no test cell passes on the stubs."""
    proc = course.validated[(HOSTILE_AID, "--invert")]
    # "NOTEBOOK PASSED ON n CELL(S)!" lists the tests that pass without any answer written; a test
    # cell that can pass on the stubs gives points for nothing.
    held = VALIDATE_INVERT_PASSED in proc.stdout and "PASSED ON" not in proc.stdout
    assert held, f"test cells of exercises/{HOSTILE_AID}/{HOSTILE_AID}.ipynb pass without an answer\n{_output(proc)}"


def _release_stubs(aid: str) -> dict[str, str]:
    return answer_code(nbformat.read(REPO / "exercises" / aid / f"{aid}.ipynb", as_version=4))


@pytest.mark.parametrize("aid", list(WRONG_ANSWER_CATALOGUE))
def test_release_stubs_earn_nothing(course: Course, aid: str) -> None:
    """The release's stubs in every answer cell earn 0 on every test cell, hidden tests and records included.

    Graded in the catalogue's shared kernel; its control, the model answers in the same kernel, earn every point
    (test_shared_kernel_grades_the_model_answers_in_full).
    """
    grade = course.catalogue[aid][STUB_VARIANT]
    earning = {gid: score for gid, score in grade.scores.items() if score != 0}
    assert grade.scores and not earning, f"{aid}: test cells earn points on the release's stubs: {earning}"


def test_stored_records_reproduce(course: Course) -> None:
    """Storing the solution again (the guide's edit step) gives the committed records, within their tolerances."""
    from vaecourse.grading import compare, records_of

    def records(path: Path) -> dict[tuple[str, str], dict]:
        notebook = nbformat.read(path, as_version=4)
        return {(cell.metadata.nbgrader["grade_id"], rec["check"]): rec
                for cell in notebook.cells if is_test_cell(cell) for rec in records_of(cell)}

    committed = records(REPO / "solutions" / HOSTILE_AID / f"{HOSTILE_AID}.ipynb")
    fresh = records(course.roots[HOSTILE_AID] / "solutions" / HOSTILE_AID / f"{HOSTILE_AID}.ipynb")
    assert committed.keys() == fresh.keys()
    for key, rec in committed.items():
        reason = compare(rec["value"], fresh[key]["value"], rec["rtol"], rec["atol"])
        assert reason is None, f"{key}: the stored record does not reproduce: {reason}"


# ---------------------------------------------------------------------------------- autograde


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_solution_earns_all_autograded_points(course: Course, aid: str) -> None:
    """Autograding the model answers gives every autograded cell its points from the notebook metadata."""
    source = nbformat.read(REPO / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    expected = grade_cells(source)
    scores = course.scores[(aid, STUDENT_SOLVED)]
    assert set(scores) == set(expected), f"graded cells in the gradebook {sorted(scores)} != notebook {sorted(expected)}"
    assert any(cell_type == "code" for cell_type, _ in expected.values()), f"{aid} has no autograded cell"

    lost = {gid: (s.auto_score, s.max_score) for gid, s in scores.items()
            if expected[gid][0] == "code" and s.auto_score != expected[gid][1]}
    why = _autograded_errors(course, aid, STUDENT_SOLVED)
    assert not lost, f"the solution lost autograded points {lost} (score, max):\n{why}\n{course.autograde_log}"
    for gid, (cell_type, points) in expected.items():
        assert scores[gid].max_score == points, f"{gid}: gradebook max {scores[gid].max_score}, notebook {points}"
        if cell_type == "markdown":  # written answers: nbgrader leaves these to a human
            assert scores[gid].auto_score is None and scores[gid].needs_manual_grade, (
                f"{gid} is a written answer and should wait for manual grading, got {scores[gid]}")
    flagged = [gid for gid, s in scores.items() if expected[gid][0] == "code" and s.needs_manual_grade]
    assert not flagged, f"the model answers were flagged for review: {course.comments[(aid, STUDENT_SOLVED)]}"
    total = sum(s.auto_score for gid, s in scores.items() if expected[gid][0] == "code")
    assert total == sum(points for cell_type, points in expected.values() if cell_type == "code")


def test_untouched_release_earns_no_points(course: Course) -> None:
    """Autograding the release as handed out gives zero on every test cell (the battery's `untouched`)."""
    aid = HOSTILE_AID
    source = nbformat.read(REPO / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    expected = grade_cells(source)
    scores = course.scores[(aid, STUDENT_UNTOUCHED)]
    assert set(scores) == set(expected)
    earned = {gid: s.auto_score for gid, s in scores.items() if s.auto_score}
    assert not earned, f"the untouched release earned points {earned}:\n{course.autograde_log}"
    unanswered = {gid: s for gid, s in scores.items() if expected[gid][0] == "markdown"}
    assert all(s.auto_score == 0 and not s.needs_manual_grade for s in unanswered.values()), unanswered


@pytest.mark.parametrize("aid", [aid for aid in ASSIGNMENTS if aid != HOSTILE_AID])
def test_unanswered_written_answers_earn_nothing(course: Course, aid: str) -> None:
    """Written answers left as released score 0 and wait for no one (the partly correct student's, all after task 1)."""
    source = nbformat.read(REPO / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    written = [gid for gid, (cell_type, _) in grade_cells(source).items() if cell_type == "markdown"]
    release = nbformat.read(course.generated[aid] / f"{aid}.ipynb", as_version=4)
    first_test = next(i for i, c in enumerate(release.cells) if is_test_cell(c))
    untouched = [c.metadata["nbgrader"]["grade_id"] for i, c in enumerate(release.cells)
                 if c.metadata.get("nbgrader", {}).get("grade_id") in written and i > first_test]
    assert written and untouched == written, f"{aid}: written answers {written}, left as released {untouched}"
    # nbgrader scores an unchanged written-answer cell 0 by itself (its checksum still matches); None would mean it
    # waits for a manual grade
    if aid == HOSTILE_AID:  # through nbgrader
        scores = course.scores[(aid, STUDENT_PARTIAL)]
        wrong = {gid: scores[gid] for gid in written if scores[gid].auto_score != 0 or scores[gid].needs_manual_grade}
    else:  # in the shared kernel, with nbgrader's rule (determine_grade)
        scores = course.catalogue[aid][PARTIAL_VARIANT].written
        wrong = {gid: scores.get(gid, "not graded") for gid in written if scores.get(gid, "not graded") != 0}
    assert not wrong, f"{aid}: unanswered written answers scored {wrong}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_every_test_cell_records_a_number(aid: str) -> None:
    """Each test cell of the stored solution publishes at least one numeric grading record.

    The grade of a test cell rests on its records (vaecourse/autograde.py); a cell without one, or with
    only flags and strings that a replaced recorder could guess, would trust the student's kernel.
    """
    from vaecourse.grading import records_of

    def has_number(value) -> bool:
        if isinstance(value, dict) and "data" in value:
            return True
        if isinstance(value, (list, tuple)):
            return any(has_number(v) for v in value)
        if isinstance(value, dict):
            return any(has_number(v) for v in value.values())
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    solution = nbformat.read(REPO / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    for cell in solution.cells:
        if is_test_cell(cell):
            records = records_of(cell)
            grade_id = cell.metadata.nbgrader["grade_id"]
            assert records, f"{grade_id} records nothing for the grader (is the solution stored executed?)"
            assert any(has_number(r["value"]) for r in records), f"{grade_id} records no number: {records}"
            names = [r["check"] for r in records]
            assert len(names) == len(set(names)), f"{grade_id} records a name twice: {names}"
            assert all(r["hint"] for r in records), f"{grade_id}: every record needs a hint for the feedback"


@pytest.mark.parametrize("aid", [aid for aid in ASSIGNMENTS if aid != HOSTILE_AID])
def test_partly_correct_student_earns_the_first_task_only(course: Course, aid: str) -> None:
    """Solving the answer cells above the first test cell earns exactly the tests up to the next answer cell."""
    release = nbformat.read(course.generated[aid] / f"{aid}.ipynb", as_version=4)
    first_task_tests, later_tests = set(), set()
    for cell in release.cells:
        if is_test_cell(cell):
            (later_tests if _after_second_answer(release, cell) else first_task_tests).add(cell.metadata.nbgrader["grade_id"])
    if aid == HOSTILE_AID:  # through nbgrader
        scores = course.scores[(aid, STUDENT_PARTIAL)]
        worth = {gid: s.max_score for gid, s in scores.items()}
        got = {gid: scores[gid].auto_score for gid in first_task_tests | later_tests}
        errors = _autograded_errors(course, aid, STUDENT_PARTIAL)
    else:  # in the shared kernel (the model answers' run scores the cells above its first cell)
        grade, model = course.catalogue[aid][PARTIAL_VARIANT], course.catalogue[aid][MODEL_VARIANT]
        worth = model.max_scores
        got = {gid: grade.scores.get(gid, model.scores[gid]) for gid in first_task_tests | later_tests}
        errors = "\n".join(f"[{gid}] {error}" for gid, error in grade.errors.items())
    expected = {gid: (worth[gid] if gid in first_task_tests else 0.0) for gid in first_task_tests | later_tests}
    assert first_task_tests and later_tests, (first_task_tests, later_tests)
    assert got == expected, f"{aid}: partly correct student scored {got}, expected {expected}:\n" + errors


def _after_second_answer(release: nbformat.NotebookNode, test_cell) -> bool:
    """Whether an answer code cell that was not solved (one below the first test cell) precedes ``test_cell``."""
    first_test = next(i for i, c in enumerate(release.cells) if is_test_cell(c))
    for cell in release.cells[first_test:]:
        if cell is test_cell:
            return False
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            return True
    raise AssertionError("test cell not in the release")


# ------------------------------------------------------------- the catalogues of wrong answers (q1 to q5)


@pytest.mark.parametrize("aid", list(WRONG_ANSWER_CATALOGUE))
def test_catalogue_fails_every_test_cell_twice(aid: str) -> None:
    """Each test cell of an assignment has at least two typical wrong answers that must earn 0 on it.

    The submission that goes through nbgrader (AUTOGRADED_CATALOGUE) holds a wrong answer in every answer cell;
    the others may leave some out (the copies of references, where a task has no reference to copy).
    """
    solution = nbformat.read(REPO / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    tests = [c.metadata.nbgrader["grade_id"] for c in solution.cells if is_test_cell(c)]
    answers = [c.metadata.nbgrader["grade_id"] for c in solution.cells
               if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]
    failing = {gid: [] for gid in tests}
    for student, wrong in WRONG_ANSWER_CATALOGUE[aid].items():
        if student == AUTOGRADED_CATALOGUE[aid]:
            assert sorted(wrong) == sorted(answers), f"{student} must hold a wrong answer in every answer cell {answers}"
        assert set(wrong) <= set(answers), f"{student}: not answer cells: {sorted(set(wrong) - set(answers))}"
        for answer in wrong.values():
            for gid in answer.fails:
                failing[gid].append(answer.mistake)
    thin = {gid: mistakes for gid, mistakes in failing.items() if len(mistakes) < 2}
    assert not thin, f"test cells with fewer than two catalogued wrong answers: {thin}"


def _expected_zeros(answers) -> set[str]:
    return {gid for answer in answers for gid in (*answer.fails, *answer.then_fails)}


@pytest.mark.parametrize("aid", list(WRONG_ANSWER_CATALOGUE))
def test_catalogue_submission_through_nbgrader(course: Course, aid: str) -> None:
    """One submission of each catalogue, through `nbgrader autograde`: 0 on the test cells its wrong answers target,
    unflagged, and the same score on every test cell as the shared kernel gives the same answers."""
    student = AUTOGRADED_CATALOGUE[aid]
    scores = course.scores[(aid, student)]
    failing = _expected_zeros(WRONG_ANSWER_CATALOGUE[aid][student].values())
    tests = {gid: s for gid, s in scores.items() if s.cell_type == "code"}
    assert failing <= set(tests), f"{student}: unknown test cells {sorted(failing - set(tests))}"
    expected = {gid: 0.0 if gid in failing else s.max_score for gid, s in tests.items()}
    got = {gid: s.auto_score for gid, s in tests.items()}
    assert got == expected, (f"{student} scored {got}, expected {expected}:\n" + _autograded_errors(course, aid, student))
    flagged = [gid for gid, s in tests.items() if s.needs_manual_grade]
    assert not flagged, f"{student}: honest wrong answers were flagged: {course.comments[(aid, student)]}"
    shared = course.catalogue[aid][student]
    assert shared.scores == got, f"{aid}: the shared kernel scored {student} {shared.scores}, nbgrader {got}"


@pytest.mark.parametrize("aid", list(WRONG_ANSWER_CATALOGUE))
def test_shared_kernel_grades_the_model_answers_in_full(course: Course, aid: str) -> None:
    """The control of the catalogue: the model answers earn every point, unflagged, before and after the wrong ones."""
    for name in (MODEL_VARIANT, LAST_VARIANT):
        grade = course.catalogue[aid][name]
        assert grade.scores and grade.scores == grade.max_scores, f"{aid}, {name}: {grade.scores} ({grade.errors})"
        assert not grade.flags, f"{aid}, {name}: flagged {grade.flags}"
    assert course.catalogue[aid][MODEL_VARIANT].first_cell == 0


@pytest.mark.parametrize("aid, student, answer_id", CATALOGUE_ENTRIES)
def test_catalogue_wrong_answer_alone_earns_nothing_on_its_task(course: Course, aid: str, student: str,
                                                                answer_id: str) -> None:
    """A wrong answer graded alone earns 0 on its task's test cells (and on the later ones it carries into), unflagged;
    every other test cell from its answer cell down keeps its points."""
    answer = WRONG_ANSWER_CATALOGUE[aid][student][answer_id]
    grade = course.catalogue[aid][f"{student}/{answer_id}"]
    assert set(answer.fails) <= set(grade.scores), f"{answer.mistake}: its test cells did not run: {answer.fails}"
    failing = _expected_zeros([answer])
    expected = {gid: 0.0 if gid in failing else worth for gid, worth in grade.max_scores.items()}
    assert grade.scores == expected, (f"{aid}, {answer.mistake}: scored {grade.scores}, expected {expected}\n"
                                      + "\n".join(f"[{gid}] {error}" for gid, error in grade.errors.items()))
    assert not grade.flags, f"{aid}, {answer.mistake}: an honest wrong answer was flagged: {grade.flags}"


def _visible_tests(aid: str) -> dict[str, str]:
    """grade_id -> source of each test cell of the committed release (the visible tests only)."""
    release = nbformat.read(REPO / "exercises" / aid / f"{aid}.ipynb", as_version=4)
    return {c.metadata.nbgrader["grade_id"]: c.source for c in release.cells if is_test_cell(c)}


def _run_visible_test(aid: str, answers: dict[str, str], test_id: str) -> None:
    """Run a released test cell in this process after the model answers, with ``answers`` replacing some of them.

    No kernel and no set-up cell (``vc.setup_notebook`` would change this process's threads and seeds): the
    visible tests need torch, NumPy, the set-up's torch.distributions imports, vaecourse, the answers'
    functions and the read-only cells that define given helpers and data (q4's ``discretize``, its
    constructed codes), which run with the answers in notebook order, down to the test cell.
    """
    import numpy as np
    import torch
    from torch.distributions import Bernoulli, Beta, Categorical, Independent, MixtureSameFamily, Normal

    import vaecourse as vc

    solution = nbformat.read(REPO / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    cells = {}  # grade_id -> source of the answer cells and read-only code cells above the test cell, set-up aside
    for cell in solution.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == test_id:
            break
        if cell.cell_type == "code" and (meta.get("solution") or (
                meta.get("locked") and not meta.get("grade") and not meta["grade_id"].endswith("-setup"))):
            cells[meta["grade_id"]] = answers.get(meta["grade_id"], cell.source)
    assert set(answers) <= set(cells), f"no answer cells {sorted(set(answers) - set(cells))} in {aid}"
    namespace = {"math": math, "np": np, "torch": torch, "F": torch.nn.functional, "vc": vc, "Bernoulli": Bernoulli,
                 "Beta": Beta, "Categorical": Categorical, "Independent": Independent,
                 "MixtureSameFamily": MixtureSameFamily, "Normal": Normal, "__name__": "__visible_test__"}
    for grade_id, source in cells.items():
        exec(compile(source, f"<{grade_id}>", "exec"), namespace)
    exec(compile(_visible_tests(aid)[test_id], f"<{test_id}>", "exec"), namespace)


VISIBLY_WRONG = {f"{aid}: {answer.mistake} ({test_id})": (aid, answer_id, answer.code, test_id)
                 for aid, catalogue in WRONG_ANSWER_CATALOGUE.items() for wrong in catalogue.values()
                 for answer_id, answer in wrong.items() for test_id in answer.fails if test_id not in answer.not_taught}


@pytest.mark.parametrize("case", list(VISIBLY_WRONG))
def test_wrong_answer_fails_a_visible_test(case: str) -> None:
    """Each catalogued wrong answer already fails the test cells the student sees (but those its hidden tests catch)."""
    aid, answer_id, code, test_id = VISIBLY_WRONG[case]
    with pytest.raises(AssertionError) as failure:
        _run_visible_test(aid, {answer_id: code}, test_id)
    message = str(failure.value)
    assert all(word in message for word in ("expected", "got", "Hint:")), f"{case}: the failure does not teach: {message}"


@pytest.mark.parametrize("aid, test_id", [(aid, test_id) for aid in WRONG_ANSWER_CATALOGUE
                                          for test_id in _visible_tests(aid)])
def test_model_answers_pass_the_visible_tests_in_process(aid: str, test_id: str) -> None:
    """The control of test_wrong_answer_fails_a_visible_test: the same run with the model answers passes."""
    _run_visible_test(aid, {}, test_id)

@pytest.mark.parametrize("aid, test_id", [(aid, test_id) for aid in ASSIGNMENTS for test_id in _visible_tests(aid)])
def test_release_stubs_pass_no_visible_test(aid: str, test_id: str) -> None:
    """What `validate --invert` checks, for every release, in this process: each visible test fails on the stubs.

    Control: test_model_answers_pass_the_visible_tests_in_process runs the same tests on the model answers.
    """
    with pytest.raises(Exception):
        _run_visible_test(aid, _release_stubs(aid), test_id)



# ------------------------------------------------------------------ the simulated class (q0)


def _autograded_text(course: Course, student: str) -> str | None:
    path = course.roots[HOSTILE_AID] / "autograded" / student / HOSTILE_AID / f"{HOSTILE_AID}.ipynb"
    return path.read_text(encoding="utf-8") if path.exists() else None


@pytest.mark.parametrize("student", list(HOSTILE_CASES))
def test_hostile_case_ends_as_the_guide_says(course: Course, student: str) -> None:
    """Each broken or hostile submission is graded, flagged, rejected or missing, with the points of HOSTILE_CASES."""
    case = HOSTILE_CASES[student]
    if case.sandbox and not find_bubblewrap():
        pytest.skip(f"{student}: only the grading sandbox stops this attack, and bubblewrap is missing")
    scores = course.scores[(HOSTILE_AID, student)]
    notebook_text = _autograded_text(course, student)
    log = course.logs[HOSTILE_AID]
    exported = [row for row in course.exported if row["assignment"] == HOSTILE_AID and row["student_id"] == student]
    assert len(exported) == 1, f"{student} appears {len(exported)} times in the exported grades"
    if case.outcome.startswith("graded"):
        assert notebook_text is not None, f"{student} was not graded:\n{log[-5000:]}"
        code = {gid: s for gid, s in scores.items() if s.cell_type == "code"}
        earned = sum(s.auto_score or 0 for s in code.values())
        assert earned == case.points, (f"{student}: {earned} autograded points, the guide says {case.points}\n"
                                       + _autograded_errors(course, HOSTILE_AID, student))
        for evidence in (case.evidence, *MORE_EVIDENCE.get(student, ())):
            assert evidence in notebook_text, f"{student}: '{evidence}' not in its autograded notebook"
        flagged = any(s.needs_manual_grade for s in code.values())
        assert flagged == ("flagged" in case.outcome), (
            f"{student}: flagged={flagged}, comments {course.comments[(HOSTILE_AID, student)]}")
        if flagged:
            assert any("Flagged for review" in c for c in course.comments[(HOSTILE_AID, student)].values())
        assert len(notebook_text) < 1_000_000, f"{student}: autograded notebook of {len(notebook_text):,} characters"
    else:
        assert notebook_text is None, f"{student} should not have been graded"
        assert not any(s.auto_score for s in scores.values())
        assert case.evidence in log and f"'{student}'" in log or f"/{student}/" in log, (
            f"the autograde log does not say why {student} was {case.outcome}:\n{log[-5000:]}")
        if case.outcome == "rejected":
            assert f"There was an error processing assignment '{HOSTILE_AID}' for student '{student}'" in log
    assert float(exported[0]["score"]) == case.points, f"{student}: exported {exported[0]}"


@pytest.mark.parametrize("student", ["forged_correct_records", "forged_unseen"])
def test_forged_records_fool_the_value_check_and_are_stopped_by_the_tamper_checks(course: Course, student: str) -> None:
    """The control of the forgers: their KL records equal the model's (the out-of-kernel value check passes them, so
    without the answer scan's zeroing, or the integrity probe, the KL test would earn its points); what stops them is
    GradingTampered, from the scan (forged_correct_records) or from the probe (forged_unseen, whose code no pattern of
    the scan matches)."""
    path = course.roots[HOSTILE_AID] / "autograded" / student / HOSTILE_AID / f"{HOSTILE_AID}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    kl_cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q0-kl-tests")
    errors = {out.ename: out.evalue for out in kl_cell.outputs if out.output_type == "error"}
    assert set(errors) == {"GradingTampered"}, f"{student}: the KL test's errors {errors}"
    comments = "\n".join(course.comments[(HOSTILE_AID, student)].values())
    if student == "forged_unseen":
        assert "integrity check" in comments and "scan" not in errors["GradingTampered"]
        submitted = course.roots[HOSTILE_AID] / "submitted" / student / HOSTILE_AID / f"{HOSTILE_AID}.ipynb"
        from vaecourse.autograde import TAMPER_PATTERNS

        answers = [c.source for c in nbformat.read(submitted, as_version=4).cells
                   if c.metadata.get("nbgrader", {}).get("solution")]
        assert not [p for p, _ in TAMPER_PATTERNS for a in answers if re.search(p, a)], "the scan would see it"
    else:
        assert "reaches into the grading machinery" in errors["GradingTampered"]


def test_hostile_batch_leaves_nothing_behind(course: Course) -> None:
    """After the batch: no process of a submission still runs, no file outside the grader's outputs changed, and no
    connection reached the grader's machine (the sandbox's attacks in the battery: escape, snooping)."""
    if not find_bubblewrap():
        pytest.skip("bubblewrap is missing: the battery ran unconfined (tests/test_sandbox.py says what that means)")
    survivors = subprocess.run(["pgrep", "-af", DETACHED_MARKER], capture_output=True, text=True).stdout.splitlines()
    survivors = [line for line in survivors if "pgrep" not in line]
    assert not survivors, f"processes started by a submission outlived the batch: {survivors}"
    for aid in ASSIGNMENTS:
        assert course.changed[aid] == [], f"{aid}: autograde changed files outside its outputs: {course.changed[aid]}"
        assert course.connections[aid] == 0, f"{aid}: a submission reached the grader's loopback listener"


def test_exported_grades_hold_every_student(course: Course) -> None:
    """`nbgrader export` lists every student of the roster for every assignment, exactly once."""
    everyone = {student for names in course.students.values() for student in names}
    for aid in ASSIGNMENTS:
        listed = [row["student_id"] for row in course.exported if row["assignment"] == aid]
        assert sorted(listed) == sorted(everyone), f"{aid}: exported {sorted(listed)}"


def test_regrading_one_student_changes_no_other_grade(course: Course) -> None:
    """`nbgrader autograde <aid> --student <id> --force` regrades that student only."""
    before, after = course.regrade["before"], course.regrade["after"]
    for student in course.students[HOSTILE_AID]:
        if student != STUDENT_PARTIAL:
            assert after[student] == before[student], f"regrading {STUDENT_PARTIAL} changed {student}'s grades"
    earned = sum(s.auto_score or 0 for s in after[STUDENT_PARTIAL].values() if s.cell_type == "code")
    assert earned == HOSTILE_CASES[STUDENT_SOLVED].points, course.regrade["log"][-3000:]


def _failed_test_cells(path: Path) -> dict[str, str]:
    """grade_id -> the text of every error output, for each test cell with an error."""
    notebook = nbformat.read(path, as_version=4)
    failed = {}
    for cell in notebook.cells:
        if is_test_cell(cell):
            errors = [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.output_type == "error"]
            if errors:
                failed[cell.metadata.nbgrader["grade_id"]] = "\n".join(errors)
    return failed


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_failed_tests_say_what_was_expected_what_came_and_a_hint(course: Course, aid: str) -> None:
    """Every failing test cell of every graded submission carries an "expected ..., got .... Hint: ..." message."""
    checked = 0
    for student in course.students[aid]:
        path = course.roots[aid] / "autograded" / student / aid / f"{aid}.ipynb"
        if not path.exists():
            continue
        for grade_id, text in _failed_test_cells(path).items():
            checked += 1
            missing = [word for word in ("expected", "got", "Hint:") if word not in text]
            assert not missing, f"{aid}/{student}/{grade_id}: the failure does not say {missing}:\n{text[:2000]}"
    assert checked, f"no failing test cell in {aid}'s simulated class"


def _page_text(html_page: str) -> str:
    """The text a reader sees on an HTML page: tags removed (syntax highlighting splits code into spans), entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_page))


def _hidden_test_lines(aid: str) -> list[str]:
    """Lines of the solution's hidden-test blocks that appear nowhere else in the solution (so: only there)."""
    solution = nbformat.read(REPO / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    hidden, elsewhere = set(), set()
    for cell in solution.cells:
        inside = False
        for line in cell.source.splitlines():
            stripped = line.strip()
            if stripped.startswith("### BEGIN HIDDEN TESTS"):
                inside = True
            elif stripped.startswith("### END HIDDEN TESTS"):
                inside = False
            elif len(stripped) >= 12:
                (hidden if inside else elsewhere).add(stripped)
    return sorted(hidden - elsewhere)


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_feedback_shows_no_hidden_test(course: Course, aid: str) -> None:
    """No line of any hidden-test block appears in any feedback page, for passing and failing cells alike.

    Control: the same search finds the hidden lines in a plain HTML rendering of an autograded notebook (which
    holds the hidden tests), so the search itself can see them through the HTML.
    """
    from nbconvert import HTMLExporter

    hidden = _hidden_test_lines(aid)
    assert len(hidden) >= 5, f"{aid}: expected hidden-test lines to look for, got {hidden}"
    pages = sorted((course.roots[aid] / "feedback").glob(f"*/{aid}/{aid}.html"))
    graded = [s for s in course.students[aid] if (course.roots[aid] / "autograded" / s / aid).exists()]
    assert len(pages) == len(graded), f"{aid}: feedback for {len(pages)} of {len(graded)} graded submissions"
    for page in pages:  # whole lines: a short hidden line may be part of a longer visible one
        shown = {line.strip() for line in _page_text(page.read_text(encoding="utf-8")).splitlines()}
        leaked = [line for line in hidden if line in shown]
        assert not leaked, f"{page.relative_to(course.roots[aid])} shows hidden-test lines: {leaked[:3]}"
    autograded = nbformat.read(course.roots[aid] / "autograded" / STUDENT_SOLVED / aid / f"{aid}.ipynb", as_version=4)
    unfiltered = {line.strip() for line in _page_text(HTMLExporter().from_notebook_node(autograded)[0]).splitlines()}
    found = [line for line in hidden if line in unfiltered]
    assert len(found) >= len(hidden) // 2, f"{aid}: the control finds only {len(found)} of {len(hidden)} hidden lines"


def test_generated_feedback_teaches(course: Course) -> None:
    """The HTML feedback of a wrong submission shows what was expected, what came and a hint."""
    feedback = course.roots[HOSTILE_AID] / "feedback"
    for student in ("wrong_answers", "patched_checks", STUDENT_UNTOUCHED):
        page = feedback / student / HOSTILE_AID / f"{HOSTILE_AID}.html"
        assert page.exists(), f"no feedback for {student}: {sorted(p.name for p in feedback.glob('*'))}"
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))
        for word in ("expected", "got", "Hint:"):
            assert word in text, f"{student}'s feedback does not say '{word}'"
    patched = (feedback / "patched_checks" / HOSTILE_AID / f"{HOSTILE_AID}.html").read_text(encoding="utf-8")
    assert "GradingCheckFailed" in patched and "Flagged for review" in patched
    for student, case in HOSTILE_CASES.items():
        if not case.outcome.startswith("graded"):
            assert not (feedback / student).exists(), f"feedback generated for {student}, which was never graded"


def test_simulation_figures(course: Course, record_property) -> None:
    """Report the figures the README quotes: submissions graded and seconds per submission.

    They reach the end of pytest's summary (tests/conftest.py prints every "summary" property), also
    from an xdist worker, whose own output pytest does not show.
    """
    notebooks = {aid: sum(1 for s in course.students[aid]
                          if (course.roots[aid] / "autograded" / s / aid / f"{aid}.ipynb").exists()) for aid in ASSIGNMENTS}
    lines = [f"[simulated class] {aid}: {len(course.students[aid])} submissions, {notebooks[aid]} graded, "
             f"{course.seconds[aid]:.1f} s, {course.seconds[aid] / len(course.students[aid]):.1f} s per submission "
             f"(gradebook: {course.gradebooks[aid]})" for aid in ASSIGNMENTS]
    total = sum(len(v) for v in course.students.values())
    lines.append(f"[simulated class] in all: {total} submissions, {sum(course.seconds.values()):.0f} s of autograding")
    for aid, catalogue in WRONG_ANSWER_CATALOGUE.items():
        answers = [answer for wrong in catalogue.values() for answer in wrong.values()]
        tests = {gid for answer in answers for gid in answer.fails}
        lines.append(f"[catalogue] {aid}: {len(answers)} wrong answers to {len({g for w in catalogue.values() for g in w})} "
                     f"tasks ({len(tests)} test cells), 1 submission of them through nbgrader autograde, each alone "
                     f"in one shared kernel with 3 controls: {course.catalogue_seconds[aid]:.1f} s")
    by_command: dict[str, list[float]] = {}
    for command, seconds in COMMAND_SECONDS:
        by_command.setdefault(command.split()[1], []).append(seconds)
    lines.append("[simulated class] nbgrader commands: " + ", ".join(
        f"{name} {len(times)}x {sum(times):.0f} s" for name, times in sorted(by_command.items(), key=lambda kv: -sum(kv[1]))))
    record_property("summary", "\n".join(lines))
    assert sum(notebooks.values()) > 0


# ------------------------------------------------------------------ the instructors' guide


def _guide_commands() -> list[list[str]]:
    """The words after `uv run` of every command line in INSTRUCTORS.md's bash blocks."""
    text = INSTRUCTORS_GUIDE.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line:
                assert line.startswith("uv run "), f"INSTRUCTORS.md: not a `uv run` command: {line}"
                commands.append(shlex.split(line)[2:])
    return commands


# Commands of the guide that another test file runs (the words after `uv run`, and where).
# commands of the guide that other test files run: the command -> (that file, a word it must contain)
RUN_ELSEWHERE = {("jupyter", "lab"): ("tests/test_jupyterlab.py", "jupyterlab"),
                 ("pytest", "tests/test_sandbox.py", "-n", "0", "-v"): ("tests/test_sandbox.py", "SandboxedKernelManager"),
                 # tests/test_hub.py starts jupyterhub with tests/hub_test_config.py, which loads this file first
                 ("jupyterhub", "-f", "deploy/hub/jupyterhub_config.py"): ("tests/hub_test_config.py",
                                                                           '"jupyterhub_config.py"')}


VALUE_OPTIONS = {"--student", "--to", "--assignment", "--notebook"}  # options whose value is the next word


def _shape(args: list[str]) -> tuple[tuple[str, ...], frozenset[str]]:
    """An nbgrader command line without its values: subcommand words ("*" for paths and ids), option names."""
    words, options, skip = [], set(), False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("--"):
            options.add(arg.split("=", 1)[0])
            skip = arg in VALUE_OPTIONS
        elif arg in ASSIGNMENTS or any(ch in arg for ch in "/.<*"):  # ids, paths, globs of ids
            words.append("*")
        else:
            words.append(arg)
    return tuple(words), frozenset(options)


def test_guide_shows_only_commands_the_tests_run(course: Course) -> None:
    """Every command line of INSTRUCTORS.md has the words and options of a command these tests run."""
    commands = _guide_commands()
    assert sum(args[0] == "nbgrader" for args in commands) >= 8, "INSTRUCTORS.md shows few nbgrader commands"
    ran = {_shape(args) for args in COMMANDS_RUN}
    untested = []
    for args in commands:
        elsewhere = RUN_ELSEWHERE.get(tuple(args))
        if elsewhere:
            assert elsewhere[1] in (REPO / elsewhere[0]).read_text(encoding="utf-8"), elsewhere
        elif _shape(args) not in ran:
            untested.append(" ".join(args))
    assert not untested, f"INSTRUCTORS.md shows commands no test runs: {untested}\nran: {sorted(ran)}"


def test_readme_table_matches_the_battery() -> None:
    """The hostile-case table of the README's instructor section lists exactly HOSTILE_CASES, outcomes and points."""
    rows = {}
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and cells[0].strip("`") in HOSTILE_CASES:
            rows[cells[0].strip("`")] = (cells[2], cells[3])
    expected = {student: (case.outcome, f"{case.points:g} / 6") for student, case in HOSTILE_CASES.items()}
    assert rows == expected, f"README.md's table {rows} != the tests' {expected}"
