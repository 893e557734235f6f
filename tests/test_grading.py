"""Tests of the nbgrader pipeline: solutions/ -> exercises/ -> autograded scores (COURSE.md section 6).

Every assignment in ``ASSIGNMENTS`` is checked for four things:

1. the committed release ``exercises/<aid>/`` is exactly what ``nbgrader generate_assignment`` makes
   from ``solutions/<aid>/`` (no .py twin, no ``jupytext`` metadata);
2. ``nbgrader validate`` passes on the solution notebook;
3. ``nbgrader validate --invert`` holds on the released notebook (no test passes on the stubs);
4. in a temporary course with a gradebook, ``nbgrader autograde`` gives the solution all the
   autograded points and the untouched release none of them.

A new assignment plugs in by being appended to ``ASSIGNMENTS``. (That the solution notebooks are
stored executed in order, and in sync with their .py twins, is tested in tests/test_notebook_files.py.) nbgrader runs as a subprocess in a
temporary copy of the course (``nbgrader_config.py`` is only found in the working directory), one
notebook execution at a time, with torch pinned to one thread. The module-scoped ``course`` fixture
builds and autogrades that copy once for all tests.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

# ---------------------------------------------------------------------------------------------------
# Add each new assignment here (its folder solutions/<aid>/ holds <aid>.ipynb, COURSE.md section 6).
ASSIGNMENTS = ["q0_warmup", "q1_autoencoders", "q2_likelihood", "q3_priors", "q4_beta_vae", "q5_vq_vae"]
# ---------------------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
STUDENT_SOLVED = "student_a"  # the release with the solution cells pasted in
STUDENT_UNTOUCHED = "student_b"  # the release as handed out
NBGRADER_TIMEOUT_S = 300  # per nbgrader command; one notebook runs in well under a minute

# What nbgrader's validate prints (nbgrader 0.9.x, nbgrader/validator.py). Its exit status is 0
# whether the tests pass or fail, so the tests read these lines instead.
VALIDATE_PASSED = "Success! Your notebook passes all the tests."
VALIDATE_INVERT_PASSED = "Success! The notebook does not pass any tests."


def _nbgrader_env(config_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        VAECOURSE_THREADS="1",
        OMP_NUM_THREADS="1",
        # The gradebook runs the `alembic` script as a subprocess, found on PATH: put the
        # environment's own scripts first, or a bare `python -m nbgrader` fails to open the database.
        PATH=os.pathsep.join([str(VENV_BIN), env.get("PATH", "")]),
        # Ignore the user's ~/.jupyter/nbgrader_config.py: only the course's config applies.
        JUPYTER_CONFIG_DIR=str(config_dir),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    return env


def run_nbgrader(course_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``python -m nbgrader *args`` in ``course_dir``; fail with nbgrader's output on error."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    try:
        proc = subprocess.run(cmd, cwd=course_dir, env=_nbgrader_env(course_dir / ".jupyter_config"),
                              capture_output=True, text=True, timeout=NBGRADER_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"`nbgrader {' '.join(args)}` ran longer than {NBGRADER_TIMEOUT_S} s\n"
                    f"--- stdout ---\n{err.stdout}\n--- stderr ---\n{err.stderr}")
    # nbgrader logs a broken nbgrader_config.py and carries on with its defaults; never accept that.
    if proc.returncode != 0 or "Exception while loading config file" in proc.stderr:
        pytest.fail(f"`nbgrader {' '.join(args)}` failed in {course_dir} (exit status {proc.returncode})\n"
                    f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")
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


@dataclass
class CellScore:
    cell_type: str
    auto_score: float | None
    max_score: float
    needs_manual_grade: bool


@dataclass
class Course:
    root: Path
    generated: dict[str, Path]  # aid -> freshly generated release folder
    scores: dict[tuple[str, str], dict[str, CellScore]]  # (aid, student) -> grade_id -> score
    autograde_log: str


def _read_scores(db_path: Path, aid: str, student: str) -> dict[str, CellScore]:
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{db_path}") as gradebook:
        notebook = gradebook.find_submission_notebook(aid, aid, student)
        for grade in notebook.grades:
            scores[grade.name] = CellScore(grade.cell_type, grade.auto_score, grade.max_score,
                                           grade.needs_manual_grade)
    return scores


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    """A temporary course: generate every release, submit two students, autograde them once."""
    root = tmp_path_factory.mktemp("course")
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    (root / ".jupyter_config").mkdir()
    for aid in ASSIGNMENTS:
        shutil.copytree(REPO / "solutions" / aid, root / "solutions" / aid)
        # generate with the database on: autograde needs the assignment and its cells in it
        run_nbgrader(root, "generate_assignment", aid, "--force")
        release_nb = nbformat.read(root / "exercises" / aid / f"{aid}.ipynb", as_version=4)
        source_nb = nbformat.read(REPO / "solutions" / aid / f"{aid}.ipynb", as_version=4)
        submissions = {STUDENT_SOLVED: paste_solutions(release_nb, source_nb), STUDENT_UNTOUCHED: release_nb}
        for student, notebook in submissions.items():
            folder = root / "submitted" / student / aid
            folder.mkdir(parents=True)
            nbformat.write(notebook, folder / f"{aid}.ipynb")
    # Both students' notebooks run one after the other in this one command.
    logs = [_output(run_nbgrader(root, "autograde", aid, "--create", "--force")) for aid in ASSIGNMENTS]

    db_path = root / "gradebook.db"
    with pytest.MonkeyPatch.context() as mp:  # the gradebook runs `alembic` from PATH (see above)
        mp.setenv("PATH", os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]))
        scores = {(aid, student): _read_scores(db_path, aid, student)
                  for aid in ASSIGNMENTS for student in (STUDENT_SOLVED, STUDENT_UNTOUCHED)}
    return Course(root=root, generated={aid: root / "exercises" / aid for aid in ASSIGNMENTS},
                  scores=scores, autograde_log="\n".join(logs))


def _autograded_errors(course: Course, aid: str, student: str) -> str:
    """The error outputs of the autograded notebook, to show why points were lost."""
    path = course.root / "autograded" / student / aid / f"{aid}.ipynb"
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


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_solution_passes_validate(course: Course, aid: str) -> None:
    """`nbgrader validate` runs the solution in a fresh kernel and every test cell passes."""
    proc = run_nbgrader(course.root, "validate", f"solutions/{aid}/{aid}.ipynb")
    passed = VALIDATE_PASSED in proc.stdout and "VALIDATION FAILED" not in proc.stdout
    assert passed, f"`nbgrader validate` does not pass on solutions/{aid}/{aid}.ipynb\n{_output(proc)}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_fails_every_test_under_validate_invert(course: Course, aid: str) -> None:
    """`nbgrader validate --invert` on the committed release: no test cell passes on the stubs."""
    release = course.root / "committed_release" / aid
    shutil.copytree(REPO / "exercises" / aid, release)
    proc = run_nbgrader(course.root, "validate", "--invert", str(release / f"{aid}.ipynb"))
    # "NOTEBOOK PASSED ON n CELL(S)!" lists the tests that pass without any answer written; a test
    # cell that can pass on the stubs gives points for nothing.
    held = VALIDATE_INVERT_PASSED in proc.stdout and "PASSED ON" not in proc.stdout
    assert held, f"test cells of exercises/{aid}/{aid}.ipynb pass without an answer\n{_output(proc)}"


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
    total = sum(s.auto_score for gid, s in scores.items() if expected[gid][0] == "code")
    assert total == sum(points for cell_type, points in expected.values() if cell_type == "code")


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_untouched_release_earns_no_points(course: Course, aid: str) -> None:
    """Autograding the release as handed out gives zero on every test cell and every written answer."""
    source = nbformat.read(REPO / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    expected = grade_cells(source)
    scores = course.scores[(aid, STUDENT_UNTOUCHED)]
    assert set(scores) == set(expected)
    earned = {gid: s.auto_score for gid, s in scores.items() if s.auto_score}
    assert not earned, f"the untouched release earned points {earned}:\n{course.autograde_log}"
    # nbgrader scores an unchanged written-answer cell 0 by itself (its checksum still matches)
    unanswered = {gid: s for gid, s in scores.items() if expected[gid][0] == "markdown"}
    assert all(s.auto_score == 0 and not s.needs_manual_grade for s in unanswered.values()), unanswered
