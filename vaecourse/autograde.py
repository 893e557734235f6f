"""nbgrader preprocessors of the course: grading that survives broken and hostile submissions.

``nbgrader_config.py`` puts them into ``nbgrader autograde`` (docs/design.md, section 6); nothing here runs
in the student's kernel, so nothing here can be replaced by the student's code.

- :class:`ExecuteSurvivingKernelDeath` runs the notebook like nbgrader's ``Execute``, with a time limit per
  notebook besides nbgrader's per cell, in the sandboxed kernel of :mod:`vaecourse.sandbox`; when the kernel
  dies (``os._exit``, a killed process, a crash), the cell that killed it and every cell below get an
  error output saying so, and the notebook is graded instead of dropped from the batch.
- :class:`VerifyRecords` compares the values each test cell recorded (:func:`vaecourse.grading.record`)
  with the model solution's, outside the kernel. A test cell whose own assertions passed but whose
  values disagree, are missing or are recorded twice gets an error output (so it scores 0) and is
  flagged. Answer cells that touch testing machinery are flagged; those that reach into the grading
  machinery (TAMPER_ZEROES) also zero the test cells below. After the last cell an integrity probe, run by
  the grader in the kernel with a nonce, reports whether the record path (the recorder, IPython's display,
  the kernel's session) runs the installed code and no hook defined in the notebook sits on it; if not,
  every test cell scores 0 and is flagged.
- :class:`LimitOutputSize` caps the text of each output, where nbgrader's ``LimitOutput`` counts
  lines only (one print of 50 million characters made a 50 MB notebook).
- :class:`FlagForReview` marks flagged cells "needs manual grade" in the gradebook, with the reason as
  a comment on the answer cell above, so they show up in formgrader.
- :class:`HideHiddenTests` (``nbgrader generate_feedback``) keeps the hidden tests, their tracebacks and
  the grading records out of the feedback.
- :func:`grade_in_one_kernel` grades many variants of one assignment's answers one after another in a single
  kernel, with the same hidden tests, the same out-of-kernel record check and nbgrader's own scoring rule as
  ``nbgrader autograde``, without its kernel start per submission: for the course's catalogues of typical
  wrong answers (tests/test_grading.py), not for students' submissions (no sandbox, no batch bookkeeping).
"""

from __future__ import annotations

import copy
import functools
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests, Execute, NbGraderPreprocessor
from traitlets import Bool, Integer, List

from vaecourse.grading import RECORD_MIME, compare, is_test_cell, records_of, summarize

FLAGS_KEY = "vaecourse_flags"  # resources[FLAGS_KEY]: grade_id -> list of reasons

#: Patterns in an answer cell that suggest it tampers with the tests (flagged, never penalised alone).
TAMPER_PATTERNS = [
    (r"\b(torch|np|numpy)\s*\.\s*testing\b", "uses a testing module"),
    (r"\b(vc|vaecourse)\s*\.\s*(checks|grading)\b", "uses the course's check or grading helpers"),
    (r"\bbuiltins\b", "touches builtins"),
    (r"__code__|__globals__|__builtins__", "rewrites function internals"),
    (r"\bsys\s*\.\s*(_getframe|modules|settrace|setprofile)\b|\binspect\s*\.", "inspects or rewires the interpreter"),
    (r"\bgc\s*\.\s*get_(objects|referrers)\b", "walks the garbage collector"),
    (r"\bprofiler\b", "touches the profiler (q5's memory test measures with it)"),
    (r"\bsetattr\s*\(|\bmock\b|monkeypatch", "patches attributes at run time"),
    (r"vnd\.vaecourse|publish_display_data", "writes raw display outputs"),
    (r"\bget_ipython\s*\(|\bshowtraceback\b|set_custom_exc", "reconfigures the kernel"),
    (r"\bos\s*\.\s*(_exit|kill)\b|\bsignal\s*\.", "can kill the kernel"),
]


#: Flags that zero the test cells below, besides flagging them: an answer that reaches into the grading machinery.
TAMPER_ZEROES = {"uses a testing module", "uses the course's check or grading helpers", "rewrites function internals",
                 "inspects or rewires the interpreter", "walks the garbage collector", "writes raw display outputs",
                 "reconfigures the kernel"}

PROBE_KEY = "vaecourse_probe"  # resources[PROBE_KEY]: the integrity report of the kernel, or why there is none
PROBE_SECONDS = 15  # the probe's own time limit, also after the notebook's time is up

# The integrity probe: run by the grader in the student's kernel after the last cell (a cell the notebook does not
# keep), it reports whether the way records leave the kernel is the course's: the recorder and IPython's display
# path have their installed code (a fingerprint of their bytecode, compared with the grader's own copy of the same
# files), no object on that path was replaced on the instance, and no hook defined in the notebook sits where it
# could rewrite cells or outputs (trace and profile functions, IPython's event callbacks and input transformers,
# custom exception handlers). Its line starts with a nonce the notebook cannot know in advance.
PROBE_FUNCTIONS = r"""
def _vaecourse_fingerprint(function):
    import hashlib
    function = getattr(function, "__func__", function)
    code = getattr(function, "__code__", None)
    if code is None:
        return "not Python code: " + type(function).__name__
    def walk(code):
        parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
        for const in code.co_consts:
            parts.append(walk(const) if hasattr(const, "co_code") else repr(const).encode())
        return b"|".join(parts)
    return hashlib.sha256(walk(code)).hexdigest()[:20]


def _vaecourse_from_notebook(function):
    import os
    function = getattr(function, "__func__", function)
    code = getattr(function, "__code__", None) or getattr(getattr(function, "__call__", None), "__code__", None)
    if code is None:
        return False
    return "ipykernel_" in code.co_filename or not os.path.isfile(code.co_filename)


def _vaecourse_record_path():
    import sys
    import IPython.core.display_functions
    import ipykernel.zmqshell
    import jupyter_client.session
    import vaecourse.grading
    return {"vaecourse.grading.record": sys.modules["vaecourse.grading"].record,
            "vaecourse.grading._plain": sys.modules["vaecourse.grading"]._plain,
            "IPython display": sys.modules["IPython.core.display_functions"].display,
            "IPython publish_display_data": sys.modules["IPython.core.display_functions"].publish_display_data,
            "ZMQDisplayPublisher.publish": sys.modules["ipykernel.zmqshell"].ZMQDisplayPublisher.publish,
            "Session.send": sys.modules["jupyter_client.session"].Session.send,
            "Session.serialize": sys.modules["jupyter_client.session"].Session.serialize}
"""

PROBE_CELL = PROBE_FUNCTIONS + r"""

def _vaecourse_probe():
    import json
    import sys
    import IPython.display
    problems = []
    fingerprints = {name: _vaecourse_fingerprint(f) for name, f in _vaecourse_record_path().items()}
    if IPython.display.display is not sys.modules["IPython.core.display_functions"].display:
        problems.append("IPython.display.display was replaced")
    shell = get_ipython()
    for owner, names in ((shell.display_pub, ("publish",)), (shell.kernel.session, ("send", "serialize"))):
        for name in names:
            if name in vars(owner):
                problems.append(f"{type(owner).__name__}.{name} was replaced on the instance")
    if type(shell.display_pub).__name__ != "ZMQDisplayPublisher":
        problems.append(f"the display publisher is a {type(shell.display_pub).__name__}")
    hooks = {"sys.settrace": [sys.gettrace()], "sys.setprofile": [sys.getprofile()],
             "input transformers": list(shell.input_transformers_cleanup) + list(shell.input_transformers_post),
             "AST transformers": list(shell.ast_transformers),
             "custom exception handler": [shell.CustomTB] if shell.custom_exceptions else []}
    for event, callbacks in shell.events.callbacks.items():
        hooks[f"IPython event {event}"] = list(callbacks)
    for where, found in hooks.items():
        planted = [getattr(h, "__qualname__", type(h).__name__) for h in found
                   if h is not None and _vaecourse_from_notebook(h)]
        if planted:
            problems.append(f"{where}: {planted} defined in the notebook")
    return {"fingerprints": fingerprints, "problems": problems}


print("__NONCE__" + __import__("json").dumps(_vaecourse_probe()))
del _vaecourse_probe, _vaecourse_fingerprint, _vaecourse_from_notebook, _vaecourse_record_path
"""


@functools.lru_cache(maxsize=1)
def expected_fingerprints() -> dict[str, str]:
    """The fingerprints of the record path as installed, computed in the grader's process (PROBE_FUNCTIONS)."""
    namespace: dict = {}
    exec(compile(PROBE_FUNCTIONS, "<vaecourse probe>", "exec"), namespace)
    return {name: namespace["_vaecourse_fingerprint"](f) for name, f in namespace["_vaecourse_record_path"]().items()}


def probe_problems(outputs: list, nonce: str) -> list[str]:
    """What the probe cell's ``outputs`` say is wrong with the kernel's record path ([] when nothing is)."""
    import json

    lines = [line for out in outputs if out.get("output_type") == "stream"
             for line in "".join(out.get("text", "")).splitlines() if line.startswith(nonce)]
    if len(lines) != 1:
        errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.get("output_type") == "error"]
        return [f"the grader's integrity check printed {len(lines)} reports" + (f" ({errors[0][:200]})" if errors else "")]
    try:
        report = json.loads(lines[0][len(nonce):])
    except ValueError:
        return ["the grader's integrity check printed an unreadable report"]
    problems = list(report.get("problems", []))
    expected = expected_fingerprints()
    got = report.get("fingerprints", {})
    problems += [f"{name} does not run the installed code" for name in expected if got.get(name) != expected[name]]
    return problems


def _grade_id(cell: NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _error(ename: str, evalue: str) -> NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                  traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])


def _flag(resources: dict, grade_id: str, reason: str) -> None:
    resources.setdefault(FLAGS_KEY, {}).setdefault(grade_id, []).append(reason)


def cell_timeout(deadline: float, per_cell: int | None, now: float) -> int:
    """Seconds the next cell may run: the per-cell limit, or what is left of the notebook's if that is less (>= 1)."""
    left = int(deadline - now)
    return max(1, min(per_cell, left) if per_cell and per_cell > 0 else left)


class ExecuteSurvivingKernelDeath(Execute):
    """nbgrader's Execute; a dead kernel fails the remaining cells instead of the whole submission.

    Each cell gets at most ``timeout`` seconds, and the notebook as a whole at most ``notebook_timeout``
    (from the kernel's start): a submission that sleeps just under the per-cell limit in every cell
    cannot hold the batch for longer. A cell that starts after the notebook's time is up gets one second.
    """

    notebook_timeout = Integer(300, help="wall-time limit of one notebook, kernel start included, in seconds "
                                         "(0: none)").tag(config=True)

    probe = Bool(True, help="run the integrity probe (PROBE_CELL) after the last cell").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict, km=None):
        self._cell_index = -1
        probe_cell = None
        if self.probe:
            nonce = f"vaecourse-probe-{secrets.token_hex(16)}:"
            probe_cell = nbformat.v4.new_code_cell(PROBE_CELL.replace("__NONCE__", nonce))
            probe_cell.metadata[PROBE_KEY] = nonce
            nb.cells.append(probe_cell)
        deadline = time.monotonic() + self.notebook_timeout if self.notebook_timeout else None

        def timeout_for(cell):
            if PROBE_KEY in cell.get("metadata", {}):
                return PROBE_SECONDS  # its own limit: a notebook that used up its time is still checked
            return cell_timeout(deadline, self.timeout, time.monotonic()) if deadline else self.timeout

        self.timeout_func = timeout_for
        try:
            return self._run(nb, resources, km)
        finally:
            if probe_cell is not None:
                nb.cells.remove(probe_cell)
                if any(out.get("ename") in ("KernelDied", "NotRun") for out in probe_cell.outputs):
                    resources[PROBE_KEY] = None  # the kernel died first: that is reported on its own
                else:
                    resources[PROBE_KEY] = probe_problems(probe_cell.outputs, probe_cell.metadata[PROBE_KEY])

    def _run(self, nb: NotebookNode, resources: dict, km=None):
        try:
            return super().preprocess(nb, resources, km=km)
        except DeadKernelError:
            dead_at = self._cell_index
            self.log.warning("The kernel died in cell %d; the cells below are marked as not run", dead_at)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or index < dead_at:
                    continue
                if index == dead_at:
                    cell.outputs.append(_error(
                        "KernelDied", "the Python kernel stopped while running this cell (os._exit, a killed "
                        "process, a crash or running out of memory); nothing below it ran, and its tests score 0"))
                else:
                    cell.outputs = [_error("NotRun", f"not run: the kernel died in cell {dead_at + 1} above")]
                    cell.execution_count = None
            return nb, resources

    def preprocess_cell(self, cell, resources, index):
        self._cell_index = index
        return super().preprocess_cell(cell, resources, index)


@functools.lru_cache(maxsize=8)
def _records_at(path: Path, mtime_ns: int) -> dict[str, list[dict]]:
    solution = nbformat.read(path, as_version=4)
    expected = {_grade_id(c): records_of(c) for c in solution.cells if is_test_cell(c)}
    missing = [gid for gid, recs in expected.items() if not recs]
    if missing:  # an instructor's mistake: refuse to grade rather than grade without the check
        raise RuntimeError(f"{path} has test cells without grading records (is it stored executed?): {missing}")
    return expected


def _solution_records(path: Path) -> dict[str, list[dict]]:
    # keyed by modification time too, so a solution stored again during a session is read again
    return _records_at(path, path.stat().st_mtime_ns)


class VerifyRecords(NbGraderPreprocessor):
    """Compare every test cell's recorded values with the model solution's, in the grader's process."""

    def _expected_records(self, resources: dict) -> dict[str, list[dict]]:
        """grade_id -> records of each test cell of the stored model solution, read once per batch."""
        coursedir = CourseDirectory(config=self.config)
        info = resources["nbgrader"]
        folder = Path(coursedir.format_path(coursedir.source_directory, ".", info["assignment"]))
        return _solution_records(folder / f"{info['notebook']}.ipynb")

    def preprocess(self, nb: NotebookNode, resources: dict):
        self.check(nb, resources, self._expected_records(resources))
        return nb, resources

    def check(self, nb: NotebookNode, resources: dict, expected: dict[str, list[dict]]) -> None:
        """The whole check of an executed notebook: records, then the answer scan, then the integrity probe's report
        (``resources[PROBE_KEY]``, when the notebook ran with one); ``expected``: grade_id -> the solution's records."""
        for cell in nb.cells:
            if is_test_cell(cell) and _grade_id(cell) in expected:
                self._verify(cell, expected[_grade_id(cell)], resources)
        self._scan_answers(nb, resources)
        self._apply_probe(nb, resources)

    @staticmethod
    def _zero(cell: NotebookNode, why: str) -> None:
        if any(out.get("ename") == "GradingTampered" for out in cell.outputs):
            return  # one reason is enough; the flags list them all
        cell.outputs.append(_error(
            "GradingTampered", f"expected your answers to leave the grading machinery alone, got: {why}. This test "
                               "scores 0 and goes to your instructor, who can give the points back after reading your "
                               "code. Hint: answer with your own functions only; do not replace, inspect or hook "
                               "the tests' helpers, the recorder or the kernel"))

    def _apply_probe(self, nb: NotebookNode, resources: dict) -> None:
        """Zero and flag every test cell when the integrity probe (ExecuteSurvivingKernelDeath) found the record path
        changed. Without a probe report (grade_in_one_kernel, or a kernel that died first) there is nothing to do."""
        problems = resources.get(PROBE_KEY)
        if not problems:
            return
        why = ("the grader's integrity check after your notebook found the way test results leave the kernel "
               "changed: " + "; ".join(problems))
        for cell in nb.cells:
            if is_test_cell(cell):
                self._zero(cell, why)
                _flag(resources, _grade_id(cell), f"integrity check: {'; '.join(problems)}")

    def _scan_answers(self, nb: NotebookNode, resources: dict) -> None:
        """Flag the test cells below an answer cell that matches TAMPER_PATTERNS; zero them too for TAMPER_ZEROES."""
        later_tests: list[NotebookNode] = []
        for cell in reversed(nb.cells):  # each answer cell is blamed on the test cells below it
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if is_test_cell(cell):
                later_tests.append(cell)
            elif cell.cell_type == "code" and meta.get("solution"):
                for lineno, line in enumerate(cell.source.splitlines(), 1):
                    for pattern, what in TAMPER_PATTERNS:
                        if re.search(pattern, line):
                            reason = f"answer cell {meta.get('grade_id')} line {lineno} {what}: {line.strip()[:120]}"
                            for test in later_tests:
                                _flag(resources, _grade_id(test), reason)
                                if what in TAMPER_ZEROES:
                                    self._zero(test, f"{reason} (it reaches into the grading machinery)")

    def _verify(self, cell: NotebookNode, expected: list[dict], resources: dict) -> None:
        errors = [out for out in cell.outputs if out.output_type == "error"]
        if errors:  # 0 points already; make sure the student learns what was expected
            self._explain_failure(cell, errors[0], expected)
            return
        got: dict[str, list[dict]] = {}
        for rec in records_of(cell):
            got.setdefault(rec["check"], []).append(rec)
        problems = []
        for want in expected:
            name, hint = want["check"], want.get("hint") or "compare with the task text above"
            came = got.get(name, [])
            if len(came) != 1:
                what = "nothing (no record was made)" if not came else f"{len(came)} records of it"
                problems.append(f"{name}: expected {summarize(want['value'])}, got {what}. "
                                f"Hint: {hint}")
                continue
            reason = compare(want["value"], came[0]["value"], want.get("rtol", 0.0), want.get("atol", 0.0))
            if reason:
                problems.append(f"{name}: expected {summarize(want['value'])}, got {summarize(came[0]['value'])} "
                                f"({reason}). Hint: {hint}")
        unknown = sorted(set(got) - {want["check"] for want in expected})
        if unknown:
            problems.append(f"records that no test makes: {unknown}")
        if problems:
            cell.outputs.append(_error(
                "GradingCheckFailed",
                "the values this test recorded differ from the model solution's, as checked by the grader "
                "outside your kernel; the cell's own assertions did not catch it, so it goes to your instructor "
                "for review (as it would if a cell replaced a testing function):\n- " + "\n- ".join(problems)))
            for problem in problems:
                _flag(resources, _grade_id(cell), f"out-of-kernel check failed: {problem}")

    @staticmethod
    def _explain_failure(cell: NotebookNode, error: NotebookNode, expected: list[dict]) -> None:
        """Add what the test expected and a hint when the error itself does not say so.

        The tests' own assertions already read "expected ..., got .... Hint: ..."; an error raised
        before them (a stub's NotImplementedError, a NameError, a timeout, a dead kernel) does not.
        """
        text = f"{error.get('ename', '')}: {error.get('evalue', '')}"
        if all(word in text for word in ("expected", "got", "Hint:")):
            return
        shown = expected[:3]
        wanted = "; ".join(f"{rec['check']} = {summarize(rec['value'])}" for rec in shown)
        more = f" (and {len(expected) - len(shown)} more)" if len(expected) > len(shown) else ""
        hints = " ".join(dict.fromkeys(rec["hint"] for rec in expected if rec.get("hint"))) or (
            "read the task above and run the visible tests before submitting")
        cell.outputs.append(_error(
            "TestNotPassed",
            f"this test stopped before it could check your answer. It expected {wanted}{more}; "
            f"it got {text.strip()[:300]} instead. Hint: {hints}"))


class LimitOutputSize(NbGraderPreprocessor):
    """Cut each text output to ``max_chars`` characters (nbgrader's LimitOutput counts lines only)."""

    max_chars = Integer(20_000, help="most characters kept per output text; -1 means no limit").tag(config=True)
    text_mimes = List(["text/plain", "text/html", "text/markdown", "text/latex", "image/svg+xml"]).tag(config=True)

    def _cut(self, text) -> str:
        text = "".join(text) if isinstance(text, list) else text
        if self.max_chars < 0 or len(text) <= self.max_chars:
            return text
        return text[: self.max_chars] + f"\n... output cut: {len(text):,} characters, the grader keeps {self.max_chars:,}"

    def preprocess_cell(self, cell, resources, index):
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                out.text = self._cut(out.text)
            elif out.output_type in ("display_data", "execute_result"):
                for mime in self.text_mimes:
                    if mime in out.get("data", {}):
                        out.data[mime] = self._cut(out.data[mime])
            elif out.output_type == "error":
                out.evalue = self._cut(out.evalue)
        return cell, resources


class FlagForReview(NbGraderPreprocessor):
    """After SaveAutoGrades: flagged test cells need a manual grade; the reasons become comments."""

    def preprocess(self, nb: NotebookNode, resources: dict):
        flags = resources.get(FLAGS_KEY) or {}
        if not flags:
            return nb, resources
        info = resources["nbgrader"]
        # the answer cell that precedes each test cell carries the comment (nbgrader comments live on
        # answer cells only)
        answer_above, last_answer = {}, None
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("solution"):
                last_answer = meta.get("grade_id")
            if is_test_cell(cell):
                answer_above[meta.get("grade_id")] = last_answer
        comments: dict[str, list[str]] = {}
        with Gradebook(info["db_url"]) as gradebook:
            for grade_id, reasons in flags.items():
                grade = gradebook.find_grade(grade_id, info["notebook"], info["assignment"], info["student"])
                grade.needs_manual_grade = True
                if answer_above.get(grade_id):
                    comments.setdefault(answer_above[grade_id], []).extend(f"[{grade_id}] {r}" for r in reasons)
            for answer_id, lines in comments.items():
                comment = gradebook.find_comment(answer_id, info["notebook"], info["assignment"], info["student"])
                unique = list(dict.fromkeys(lines))
                comment.auto_comment = "Flagged for review by the autograder:\n" + "\n".join(unique)
            gradebook.db.commit()
        self.log.warning("FLAGGED %s/%s for review: %s", info["student"], info["assignment"],
                         "; ".join(f"{gid}: {len(r)} reason(s)" for gid, r in flags.items()))
        return nb, resources


HIDDEN_PLACEHOLDER = "# (hidden tests ran here when your notebook was graded; they are not shown)"


def strip_hidden_tests(source: str, begin: str = "BEGIN HIDDEN TESTS", end: str = "END HIDDEN TESTS") -> str:
    """A test cell's source without its hidden-test blocks (each replaced by one comment line).

    The same rule as nbgrader's ``ClearHiddenTests``, which makes the release: a block runs from a line that
    contains ``begin`` to the next line that contains ``end``, both removed.
    """
    kept, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
            kept.append(line[: len(line) - len(line.lstrip())] + HIDDEN_PLACEHOLDER)
        elif end in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


class HideHiddenTests(ClearHiddenTests):
    """Feedback without the hidden tests (``nbgrader generate_feedback``).

    nbgrader's feedback shows the autograded notebook, hidden tests included (by design: its issues #917,
    #1363). In every test cell this removes the hidden blocks from the source (with the delimiters that
    ``ClearHiddenTests`` uses for the release, whose settings it inherits), shortens each error's traceback to
    its last line (a traceback quotes the failing line, which may be a hidden one; the last line keeps the
    teaching message: what was expected, what came, a hint) and drops the grading records (values on hidden
    inputs, for the grader only). Answer cells are left as the student wrote them.
    """

    enabled = True

    def preprocess_cell(self, cell, resources, index):
        if not is_test_cell(cell):
            return cell, resources
        cell.source = strip_hidden_tests(cell.source, self.begin_test_delimeter, self.end_test_delimeter)
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") in ("display_data", "execute_result") and RECORD_MIME in output.get("data", {}):
                continue
            if output.get("output_type") == "error":
                output.traceback = [f"\x1b[0;31m{output.get('ename', 'Error')}\x1b[0m: {output.get('evalue', '')}"]
            kept.append(output)
        cell.outputs = kept
        return cell, resources


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names a cell binds in the notebook's namespace, names it reads anywhere); magics and shell lines left out.

    Bindings inside functions, lambdas and comprehensions are their own scope and do not count, but a
    ``global`` statement or an assignment expression (``:=``) in a comprehension does.
    """
    import ast

    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set(), set()
    loaded = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    stored: set[str] = set()
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp,
              ast.DictComp, ast.GeneratorExp)

    def visit(node, top: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and top:
            stored.add(node.name)
        if isinstance(node, ast.Global):
            stored.update(node.names)
        elif isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            stored.add(node.target.id)
        elif top and isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stored.add(node.id)
        elif top and isinstance(node, (ast.Import, ast.ImportFrom)):
            stored.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child, top and not isinstance(node, scopes))

    visit(tree, True)
    return stored, loaded


def try_cells_read_by_tests(notebook: NotebookNode) -> set[int]:
    """Indices of the code cells without nbgrader metadata ("try it" cells) that assign a name some test cell reads."""
    tests_read = set().union(*(_names(c.source)[1] for c in notebook.cells if is_test_cell(c)))
    return {i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "nbgrader" not in c.get("metadata", {})
            and _names(c.source)[0] & tests_read}


@dataclass
class VariantGrade:
    """What :func:`grade_in_one_kernel` gives one variant: per test cell it ran, as ``nbgrader autograde`` would."""

    scores: dict[str, float]  # test grade_id -> points earned
    max_scores: dict[str, float]  # test grade_id -> points it is worth
    flags: dict[str, list[str]] = field(default_factory=dict)  # test grade_id -> why it goes to manual review
    errors: dict[str, str] = field(default_factory=dict)  # test grade_id -> its first error, "ename: evalue"
    first_cell: int = 0  # index of the first cell that ran for this variant (test cells above it are not scored)
    # graded answer cells (written answers) from first_cell down -> nbgrader's automatic score: 0 for an answer left
    # as released (its checksum matches), None for one that waits for a manual grade
    written: dict[str, float | None] = field(default_factory=dict)


def grade_in_one_kernel(solution: Path, variants: dict[str, dict[str, str]], *, timeout: int = 120,
                        cwd: Path | None = None) -> dict[str, VariantGrade]:
    """Grade variants of the answers of ``solution`` (a stored, executed source notebook) one after another in one kernel.

    ``variants``: name -> {answer cell grade_id: the code that replaces its model answer, or a whole cell (the
    release's, say: its source and metadata, checksum included, replace the model's; written answers too)}; an
    answer cell a variant does not name keeps the model answer. Test cells run with their hidden tests, as ``nbgrader
    autograde`` puts them back, with errors allowed and ``NBGRADER_EXECUTION=autograde`` set as nbgrader sets
    it; then :meth:`VerifyRecords.check` judges the notebook as the pipeline does (records, answer scan) and
    nbgrader's ``determine_grade`` scores each test cell that ran.

    The variants share the kernel (its start and imports: most of a small notebook's cost). The first variant
    runs every code cell. A later one runs from the first answer cell that it or the variant before it
    replaced (the model answers' variant, ``{}``: from the first answer cell) to the end: every cell above
    that is the same code as in the last run, and every answer the last variant replaced is defined again, so
    no wrong answer outlives its variant. Listing the variants from the last answer cell upwards makes
    each run short. The notebook's "try it" cells (code cells without nbgrader metadata: they print and draw
    for the student, ungraded) run in the first variant only, unless a test cell reads a name one of them
    assigns (:func:`try_cells_read_by_tests`, from the cells' syntax): they cannot change a score otherwise.
    A cell past ``timeout`` seconds or a dead kernel raises: the variants are the course's own code, not a
    student's (no sandbox, no per-notebook limit, no batch bookkeeping).
    """
    from nbclient import NotebookClient
    from nbgrader.utils import determine_grade

    solution = Path(solution)
    source = nbformat.read(solution, as_version=4)
    answer_at = {_grade_id(c): i for i, c in enumerate(source.cells)
                 if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    if not answer_at:
        raise ValueError(f"{solution} has no answer cells")
    for name, answers in variants.items():
        unknown = sorted(set(answers) - set(answer_at))
        if unknown:
            raise ValueError(f"variant {name!r} replaces {unknown}, which are not answer cells of {solution} "
                             f"(those are {sorted(answer_at)})")
    expected = _solution_records(solution)
    verifier = VerifyRecords()
    always = try_cells_read_by_tests(source)
    skipped = {i for i, c in enumerate(source.cells)
               if c.cell_type == "code" and "nbgrader" not in c.get("metadata", {}) and i not in always}
    client = NotebookClient(copy.deepcopy(source), timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(cwd or solution.parent)}})
    results: dict[str, VariantGrade] = {}
    left_behind: dict[str, str] = {}  # the answers the last variant replaced
    with client.setup_kernel(env={**os.environ, "NBGRADER_EXECUTION": "autograde"}):
        for number, (name, answers) in enumerate(variants.items()):
            replaced = [answer_at[gid] for gid in {**answers, **left_behind}]
            first_cell = 0 if number == 0 else min(replaced, default=min(answer_at.values()))
            notebook = copy.deepcopy(source)
            for cell in notebook.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
                new = answers.get(_grade_id(cell))
                if isinstance(new, str):
                    cell.source = new
                elif new is not None:
                    cell.source, cell.metadata = new["source"], copy.deepcopy(new["metadata"])
            client.nb = notebook
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type == "code" and index >= first_cell and (number == 0 or index not in skipped):
                    client.execute_cell(cell, index)
            left_behind = answers
            ran = copy.copy(notebook)
            ran.cells = [cell for index, cell in enumerate(notebook.cells) if index >= first_cell]
            resources: dict = {}
            verifier.check(ran, resources, expected)  # as in nbgrader autograde (no probe: the course's own code)
            grade = VariantGrade(scores={}, max_scores={}, first_cell=first_cell)
            for cell in ran.cells:
                meta = cell.get("metadata", {}).get("nbgrader", {})
                if meta.get("grade") and meta.get("solution"):
                    grade.written[_grade_id(cell)] = determine_grade(cell)[0]
                if not is_test_cell(cell):
                    continue
                gid = _grade_id(cell)
                grade.scores[gid], grade.max_scores[gid] = (float(x) for x in determine_grade(cell))
                errors = [out for out in cell.outputs if out.output_type == "error"]
                if errors:
                    grade.errors[gid] = f"{errors[0].ename}: {errors[0].evalue}"
            grade.flags = dict(resources.get(FLAGS_KEY, {}))
            results[name] = grade
    return results
