"""Fast unit tests of vaecourse/autograde.py's pieces that need no nbgrader run (the pipeline as a whole is
tested by tests/test_grading.py)."""

from __future__ import annotations

import json

import nbformat

from vaecourse.autograde import HideHiddenTests, cell_timeout, strip_hidden_tests
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
