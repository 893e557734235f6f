"""nbgrader configuration of the course (docs/conventions.md, section 1).

nbgrader reads this file only from the working directory (or Jupyter's config paths), so every
nbgrader command runs from the repository root, for example:

    uv run nbgrader generate_assignment q0_warmup --force   # solutions/q0_warmup -> exercises/q0_warmup
    uv run nbgrader validate solutions/q0_warmup/q0_warmup.ipynb
    uv run nbgrader validate --invert exercises/q0_warmup/q0_warmup.ipynb

`generate_assignment` also writes the assignment into `gradebook.db` (add `--no-db` to skip that);
the database, `submitted/`, `autograded/` and `feedback/` hold student data and are never committed.
"""

import os

from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                    NbGraderPreprocessor, SaveAutoGrades)
from nbconvert.preprocessors import ClearMetadataPreprocessor

c = get_config()  # noqa: F821 (injected by traitlets when nbgrader loads this file)

# An absolute root: "." works too, but nbgrader then warns, and the root would depend on the cwd.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"
# The course's id names it in the gradebook and in nbgrader's exchange (deploy/). With nbgrader's default, an
# empty id, the gradebook has no course row: SQLite lets that pass, PostgreSQL refuses every assignment
# (a foreign key violation), so a class graded into PostgreSQL needs it set.
c.CourseDirectory.course_id = "vaecourse"
c.CourseDirectory.release_directory = "exercises"
# "*.py" keeps the jupytext twins (solutions/<aid>/<aid>.py) out of the release. Assignment data
# files therefore must not be .py files; shared code lives in the vaecourse package.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py"]

# Per-cell limit while validating and autograding; nbgrader's default of 30 s is too tight for torch.
# A cell past the limit is interrupted and gets this error; the cells below still run. For a quick
# batch, override it on the command line: `nbgrader autograde q0_warmup --Execute.timeout=20`.
c.Execute.timeout = 120
c.Execute.error_on_timeout = {
    "ename": "CellTimeoutError",
    "evalue": "this cell ran past the grader's time limit (per cell, or for the whole notebook) and was "
              "interrupted (an endless loop, or far more work than the exercise needs); its tests score 0",
    "traceback": ["\x1b[0;31mCellTimeoutError\x1b[0m: this cell ran past the grader's time limit (per cell, or "
                  "for the whole notebook) and was interrupted"],
}

# Every kernel that runs a student's notebook (autograde, validate) is sandboxed (vaecourse/sandbox.py,
# docs/design.md section 6): it sees a copy of its folder and the Python environment only, has no network,
# takes its processes with it and is capped. Without bubblewrap grading refuses to start; the instructor can
# override that, knowingly, with --SandboxedKernelManager.unsafe=True. The caps, all overridable the same way:
c.Execute.kernel_manager_class = "vaecourse.sandbox.SandboxedKernelManager"
c.SandboxedKernelManager.memory_mib = 4096  # the kernel's data segment (tensors)
c.SandboxedKernelManager.max_processes = 64  # processes and threads of the kernel's user
c.SandboxedKernelManager.file_size_mib = 256  # any one file the kernel writes
# A whole notebook, kernel start included (a submission cannot hold the batch with many slow cells).
c.ExecuteSurvivingKernelDeath.notebook_timeout = 300

# Put back grade and locked cells that a student deleted before grading them (nbgrader #1682).
c.OverwriteCells.add_missing_cells = True

# What replaces the code between ### BEGIN SOLUTION and ### END SOLUTION (nbgrader's default,
# spelled out so the release does not depend on it).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"


class DropLocalMetadata(NbGraderPreprocessor):  # enabled by default, unlike nbconvert's base class
    """Remove the notebook metadata that only describes the instructor's machine from released notebooks.

    - ``jupytext``: the pairing itself lives in solutions/jupytext.toml, but every `jupytext --sync`
      that reads the .py twin writes the format options of that file (``notebook_metadata_filter``,
      ``main_language``) back into the .ipynb metadata. Students need none of it, and with a
      ``formats`` entry their own jupytext would create .py twins inside exercises/.
    - ``language_info.version``: the Python version of the kernel that last stored the solution
      (3.11.7 here, 3.11.2 on a Debian CI runner), so the release would depend on who stored it.
    """

    def preprocess(self, nb, resources):
        nb.metadata.pop("jupytext", None)
        nb.metadata.get("language_info", {}).pop("version", None)
        return nb, resources


c.GenerateAssignment.preprocessors = [
    *GenerateAssignment.class_traits()["preprocessors"].default(),  # nbgrader 0.9 defaults, in order
    DropLocalMetadata,
]


# Autograding: nbgrader 0.9's pipeline (Execute, IgnorePattern, ClearMetadata, LimitOutput,
# SaveAutoGrades, AssignLatePenalties, CheckCellMetadata) with the course's steps from
# vaecourse/autograde.py, which run here in the grader's process, out of the student's reach:
# a dead kernel fails the remaining cells instead of dropping the submission; every test cell's
# recorded values are checked against the model solution's; outputs are capped in characters;
# flagged cells are marked for manual review in the gradebook.
from vaecourse.autograde import ExecuteSurvivingKernelDeath, FlagForReview, LimitOutputSize, VerifyRecords  # noqa: E402

c.Autograde.autograde_preprocessors = [
    ExecuteSurvivingKernelDeath,
    VerifyRecords,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    LimitOutputSize,
    SaveAutoGrades,
    FlagForReview,
    AssignLatePenalties,
    CheckCellMetadata,
]

# Feedback: nbgrader's pipeline, then the hidden tests, their tracebacks and the grading records taken out of every
# test cell (nbgrader shows them by design; the hidden tests must stay hidden).
from nbgrader.converters import GenerateFeedback  # noqa: E402

from vaecourse.autograde import HideHiddenTests  # noqa: E402

c.GenerateFeedback.preprocessors = [*GenerateFeedback.class_traits()["preprocessors"].default(), HideHiddenTests]
