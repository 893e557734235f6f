"""Fast unit tests of vaecourse/autograde.py's preprocessors, without an nbgrader run (the pipeline as a whole is
tested by tests/test_grading.py): the per-notebook time limit, the out-of-kernel record check and the answer scan,
the output cut, the feedback without hidden tests; and grade_in_one_kernel on a tiny notebook (one kernel, about
2 s). (FlagForReview writes to a gradebook: tested through nbgrader.)"""

from __future__ import annotations

import json

import nbformat
import pytest

from vaecourse.autograde import (FLAGS_KEY, HideHiddenTests, LimitOutputSize, VerifyRecords, cell_timeout,
                                 strip_hidden_tests)
from vaecourse.grading import RECORD_MIME


def test_cell_timeout_is_the_per_cell_limit_while_the_notebook_has_time():
    assert cell_timeout(deadline=1000.0, per_cell=120, now=0.0) == 120


def test_cell_timeout_shrinks_to_what_is_left_of_the_notebook():
    # 300 s per notebook, 250 s gone: the next cell gets 50 s, not 120 (a student's many slow cells cannot add up)
    assert cell_timeout(deadline=300.0, per_cell=120, now=250.0) == 50


def test_cell_timeout_after_the_deadline_is_one_second():
    assert cell_timeout(deadline=300.0, per_cell=120, now=301.0) == 1
    assert cell_timeout(deadline=300.0, per_cell=120, now=10_000.0) == 1


def test_cell_timeout_without_a_per_cell_limit_is_what_is_left():
    assert cell_timeout(deadline=300.0, per_cell=None, now=100.0) == 200
    assert cell_timeout(deadline=300.0, per_cell=-1, now=100.0) == 200


def _test_cell(source, outputs=()):
    cell = nbformat.v4.new_code_cell(source, outputs=list(outputs))
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1}
    return cell


HIDDEN_SOURCE = '''assert f(1) == 2, "visible"
### BEGIN HIDDEN TESTS
secret_input_q9 = 12345
assert f(secret_input_q9) == 24690, "hidden"
### END HIDDEN TESTS
print("done")
'''


def test_strip_hidden_tests_keeps_the_visible_part_only():
    stripped = strip_hidden_tests(HIDDEN_SOURCE)
    assert 'assert f(1) == 2, "visible"' in stripped and 'print("done")' in stripped
    assert "secret_input_q9" not in stripped and "BEGIN HIDDEN" not in stripped
    assert "hidden tests ran here" in stripped
    assert strip_hidden_tests("x = 1\n") == "x = 1\n"  # a cell without hidden tests is unchanged


def test_hide_hidden_tests_cleans_test_cells_and_leaves_answers_alone():
    quoting = nbformat.v4.new_output("error", ename="AssertionError", evalue="expected 24690, got 3. Hint: double it",
                                     traceback=["----> 4 assert f(secret_input_q9) == 24690", "AssertionError: ..."])
    record = nbformat.v4.new_output("display_data", data={RECORD_MIME: {"check": "x"}, "text/plain": "[recorded]"})
    stream = nbformat.v4.new_output("stream", name="stdout", text="visible tests passed\n")
    test = _test_cell(HIDDEN_SOURCE, [stream, record, quoting])
    answer = nbformat.v4.new_code_cell("def f(x):\n    return x + 2  # secret_input_q9 is not here")
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "a"}
    nb = nbformat.v4.new_notebook(cells=[answer, test])
    nb, _ = HideHiddenTests().preprocess(nb, {})
    text = json.dumps(nb.cells[1])
    assert "secret_input_q9" not in text  # not in the source, not in the traceback
    assert "expected 24690, got 3. Hint: double it" in text  # the teaching message stays
    assert [o.output_type for o in nb.cells[1].outputs] == ["stream", "error"]  # the record is gone
    assert nb.cells[0].source.endswith("# secret_input_q9 is not here")  # the student's own code is untouched


def _record(check, value, rtol=0.0, atol=0.0, hint="look again"):
    payload = {"check": check, "value": value, "rtol": rtol, "atol": atol, "hint": hint}
    return nbformat.v4.new_output("display_data", data={RECORD_MIME: payload, "text/plain": f"[recorded: {check}]"})


def _errors(cell):
    return [o for o in cell.outputs if o.output_type == "error"]


def test_verify_records_passes_matching_values_and_fails_others_with_a_hint():
    expected = [{"check": "kl", "value": 1.0, "rtol": 1e-6, "atol": 0.0, "hint": "the -1"}]
    good = _test_cell("x = 1", [_record("kl", 1.0 + 1e-9)])
    resources: dict = {}
    VerifyRecords()._verify(good, expected, resources)
    assert _errors(good) == [] and resources == {}
    wrong = _test_cell("x = 1", [_record("kl", 1.5)])
    VerifyRecords()._verify(wrong, expected, resources)
    (error,) = _errors(wrong)
    assert error.ename == "GradingCheckFailed"
    assert "kl: expected 1" in error.evalue and "Hint: the -1" in error.evalue
    assert resources[FLAGS_KEY]["t"], "a failed out-of-kernel check is flagged for review"


@pytest.mark.parametrize("outputs, says", [([], "got nothing (no record was made)"),
                                           ([_record("kl", 1.0), _record("kl", 1.0)], "got 2 records of it"),
                                           ([_record("kl", 1.0), _record("forged", 0.0)], "records that no test makes")])
def test_verify_records_refuses_missing_repeated_and_unknown_records(outputs, says):
    expected = [{"check": "kl", "value": 1.0, "rtol": 0.0, "atol": 0.0, "hint": "h"}]
    cell = _test_cell("x = 1", outputs)
    VerifyRecords()._verify(cell, expected, {})
    (error,) = _errors(cell)
    assert says in error.evalue


def test_verify_records_explains_a_test_that_stopped_before_checking():
    expected = [{"check": "kl", "value": 1.0, "rtol": 0.0, "atol": 0.0, "hint": "write the closed form"}]
    stub = nbformat.v4.new_output("error", ename="NotImplementedError", evalue="", traceback=[])
    cell = _test_cell("x = 1", [stub])
    VerifyRecords()._verify(cell, expected, {})
    assert [e.ename for e in _errors(cell)] == ["NotImplementedError", "TestNotPassed"]
    assert "expected kl = 1" in cell.outputs[-1].evalue and "Hint: write the closed form" in cell.outputs[-1].evalue


def test_answer_scan_flags_tampering_on_the_test_cells_below_only():
    answer = nbformat.v4.new_code_cell("import torch\ntorch.testing.assert_close = lambda *a, **k: None\n")
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "a"}
    clean = nbformat.v4.new_code_cell("def f(x):\n    return 2 * x\n")
    clean.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "b"}
    above = _test_cell("pass")
    above.metadata["nbgrader"]["grade_id"] = "above"
    below = _test_cell("pass")
    below.metadata["nbgrader"]["grade_id"] = "below"
    resources: dict = {}
    VerifyRecords()._scan_answers(nbformat.v4.new_notebook(cells=[clean, above, answer, below]), resources)
    assert set(resources[FLAGS_KEY]) == {"below"}
    assert "uses a testing module" in resources[FLAGS_KEY]["below"][0]


def test_limit_output_size_cuts_every_kind_of_text_output():
    cutter = LimitOutputSize(max_chars=10)
    stream = nbformat.v4.new_output("stream", name="stdout", text="x" * 100)
    shown = nbformat.v4.new_output("display_data", data={"text/plain": "y" * 100, "image/png": "AAAA" * 100})
    error = nbformat.v4.new_output("error", ename="E", evalue="z" * 100, traceback=[])
    cell = nbformat.v4.new_code_cell("print()", outputs=[stream, shown, error])
    cutter.preprocess_cell(cell, {}, 0)
    assert cell.outputs[0].text.startswith("x" * 10 + "\n... output cut: 100 characters")
    assert cell.outputs[1].data["text/plain"].startswith("y" * 10 + "\n... output cut")
    assert cell.outputs[1].data["image/png"] == "AAAA" * 100  # images are not text: nbgrader's LimitOutput's job
    assert cell.outputs[2].evalue.startswith("z" * 10 + "\n... output cut")
    short = nbformat.v4.new_code_cell("print()", outputs=[nbformat.v4.new_output("stream", name="stdout", text="ok")])
    LimitOutputSize(max_chars=10).preprocess_cell(short, {}, 0)
    assert short.outputs[0].text == "ok"


def _tiny_source(tmp_path):
    """A stored source notebook: one answer (double), one test cell with a hidden record, executed."""
    from nbclient import NotebookClient

    answer = nbformat.v4.new_code_cell("def double(x):\n    return 2 * x")
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "double-impl"}
    test = nbformat.v4.new_code_cell(
        'assert double(1) == 2, "expected 2, got something else. Hint: twice"\n'
        "### BEGIN HIDDEN TESTS\n"
        'import vaecourse as vc\nvc.grading.record("double(21)", double(21))\n'
        "### END HIDDEN TESTS")
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "double-tests", "points": 2}
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import math"), answer, test])
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
    path = tmp_path / "tiny.ipynb"
    nbformat.write(notebook, path)
    return path


def test_grade_in_one_kernel_scores_variants_as_nbgrader_and_forgets_each_wrong_answer(tmp_path):
    from vaecourse.autograde import grade_in_one_kernel

    variants = {"model": {},
                "visibly wrong": {"double-impl": "def double(x):\n    return 3 * x"},
                # right on the visible input, wrong on the hidden one: only the record check catches it
                "hidden wrong": {"double-impl": "def double(x):\n    return 2 if x == 1 else 0"},
                "model again": {}}  # the control: no wrong answer outlives its variant
    grades = grade_in_one_kernel(_tiny_source(tmp_path), variants)
    assert [grades[name].scores for name in variants] == [
        {"double-tests": 2.0}, {"double-tests": 0.0}, {"double-tests": 0.0}, {"double-tests": 2.0}]
    assert grades["visibly wrong"].errors["double-tests"].startswith("AssertionError: expected 2")
    assert not grades["visibly wrong"].flags  # an honest mistake is not flagged...
    assert "double(21)" in grades["hidden wrong"].flags["double-tests"][0]  # ...a value only the grader saw is
    assert grades["model"].first_cell == 0 and grades["visibly wrong"].first_cell == 1


def test_grade_in_one_kernel_refuses_unknown_answer_cells(tmp_path):
    from vaecourse.autograde import grade_in_one_kernel

    with pytest.raises(ValueError, match="not answer cells"):
        grade_in_one_kernel(_tiny_source(tmp_path), {"typo": {"duble-impl": "pass"}})


def _probe_outputs(setup: str) -> tuple[list, str]:
    """Run ``setup`` and then the integrity probe in one fresh kernel; the probe cell's outputs and its nonce."""
    from nbclient import NotebookClient

    from vaecourse.autograde import PROBE_CELL

    nonce = "vaecourse-probe-test:"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup),
                                               nbformat.v4.new_code_cell(PROBE_CELL.replace("__NONCE__", nonce))])
    NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=True).execute()
    return notebook.cells[1].outputs, nonce


# A setup cell per way of changing the record path, with what the probe must say; the first is the control.
PROBE_CASES = {
    "nothing changed (a record made as the tests make them)": (
        "import vaecourse as vc\nvc.grading.record('x', 1.0)", []),
    "the recorder replaced": (
        "import vaecourse as vc\n_real = vc.grading.record\n"
        "vc.grading.record = lambda check, value, **kw: _real(check, 0.0)", ["vaecourse.grading.record does not run"]),
    "the recorder's code swapped in place": (
        "import vaecourse as vc\nvc.grading.record.__code__ = (lambda check, value, **kw: None).__code__",
        ["vaecourse.grading.record does not run"]),
    "IPython's display replaced": (
        "import IPython.display\nIPython.display.display = lambda *a, **k: None", ["IPython.display.display was replaced"]),
    "the publisher's method replaced on the instance": (
        "_pub = get_ipython().display_pub\n_real = _pub.publish\n_pub.publish = lambda *a, **k: _real(*a, **k)",
        ["ZMQDisplayPublisher.publish was replaced on the instance"]),
    "a pre_run_cell hook": (
        "def _watch(info):\n    pass\nget_ipython().events.register('pre_run_cell', _watch)",
        ["IPython event pre_run_cell: ['_watch'] defined in the notebook"]),
    "an input transformer": (
        "def _rewrite(lines):\n    return lines\nget_ipython().input_transformers_post.append(_rewrite)",
        ["input transformers: ['_rewrite'] defined in the notebook"]),
    "a trace function": (
        "import sys\ndef _trace(frame, event, arg):\n    return None\nsys.settrace(_trace)",
        ["sys.settrace: ['_trace'] defined in the notebook"]),
}


@pytest.mark.parametrize("case", list(PROBE_CASES))
def test_integrity_probe_finds_each_change_of_the_record_path(case):
    from vaecourse.autograde import probe_problems

    setup, says = PROBE_CASES[case]
    problems = probe_problems(*_probe_outputs(setup))
    if not says:
        assert problems == [], f"{case}: the probe reports {problems}"
    for text in says:
        assert any(text in problem for problem in problems), f"{case}: expected '{text}' in {problems}"


def test_integrity_probe_without_its_report_is_a_problem():
    from vaecourse.autograde import probe_problems

    silent = [nbformat.v4.new_output("stream", name="stdout", text="all fine\n")]
    assert probe_problems(silent, "nonce:") == ["the grader's integrity check printed 0 reports"]
    twice = [nbformat.v4.new_output("stream", name="stdout", text="nonce:{}\nnonce:{}\n")]
    assert probe_problems(twice, "nonce:") == ["the grader's integrity check printed 2 reports"]


def test_answer_scan_zeroes_the_tests_below_grading_tampering_and_only_flags_the_rest():
    answer = nbformat.v4.new_code_cell("vc.grading.record = print\nimport os\nos.kill(1, 9)")
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "a"}
    above = _test_cell("pass")
    above.metadata["nbgrader"]["grade_id"] = "above"
    below = _test_cell("pass")
    notebook = nbformat.v4.new_notebook(cells=[above, answer, below])
    resources: dict = {}
    VerifyRecords()._scan_answers(notebook, resources)
    assert [o.ename for o in below.outputs] == ["GradingTampered"]  # once, though two patterns match
    assert above.outputs == []
    assert len(resources[FLAGS_KEY]["t"]) == 2 and "above" not in resources[FLAGS_KEY]
    honest = nbformat.v4.new_notebook(cells=[answer.copy(), _test_cell("pass")])
    honest.cells[0].source = "import os\nos.kill(os.getpid(), 0)"  # flagged (can kill the kernel), not zeroed
    resources = {}
    VerifyRecords()._scan_answers(honest, resources)
    assert honest.cells[1].outputs == [] and resources[FLAGS_KEY]["t"]


def test_names_counts_the_notebook_scope_only():
    from vaecourse.autograde import _names

    stored, loaded = _names("x = 1\nfor i in range(3):\n    pass\ndef f(a):\n    b = a\n    global g\n"
                            "squares = [k * k for k in range(3)]\nimport os.path as op\nimport numpy.linalg\n"
                            "[last := 5 for _ in range(1)]\n%matplotlib inline\n")
    assert stored == {"x", "i", "f", "g", "squares", "op", "numpy", "last"}  # not a, b, k, _
    assert {"range", "a", "k"} <= loaded


def test_try_cells_run_again_only_when_a_test_reads_what_they_define():
    from vaecourse.autograde import try_cells_read_by_tests

    quiet = nbformat.v4.new_code_cell("z_try = 3\nprint(z_try)")  # the notebook's convention: _try names
    read = nbformat.v4.new_code_cell("shared = 4")
    test = _test_cell("assert shared == 4")
    notebook = nbformat.v4.new_notebook(cells=[quiet, read, test])
    assert try_cells_read_by_tests(notebook) == {1}
