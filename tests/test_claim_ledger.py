"""docs/claims.md is current, the ledger is sound, and the ledger's own checks can fail."""

from __future__ import annotations

import nbformat
import pytest

import claim_ledger
from vaecourse import checks

CLAIMS = {f"C{n}": {"question": "Q1(a)", "words": f"claim {n}", "verdict": None, "course": None} for n in range(1, 4)}


def test_docs_claims_md_is_current(capsys):
    assert claim_ledger.main(["--check"]) == 0, capsys.readouterr().err


def test_the_ledger_of_the_repository_is_sound():
    claims, found_checks, controls = claim_ledger.collect()
    assert claim_ledger.problems(claims, found_checks, controls) == []
    assert set(claims) == {f"C{n}" for n in range(1, 69)}


def _printed(capsys, run) -> list[str]:
    run()
    return capsys.readouterr().out.splitlines()


def _notebook(tmp_path, lines_per_cell: list[list[str]], name="nb.ipynb"):
    notebook = nbformat.v4.new_notebook()
    for lines in lines_per_cell:
        cell = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\n...")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="".join(f"{line}\n" for line in lines))]
        notebook.cells.append(cell)
    path = tmp_path / name
    nbformat.write(notebook, path)
    return claim_ledger.read_notebook(path, name)


def test_lines_printed_by_vaecourse_checks_parse_back(capsys, tmp_path):
    def run():
        checks.check_true("box beats noise", True, kind="evidence", settles=("C2", "C3"), control=True)
        with checks.negative_control("pixel noise [0, 1]"):
            checks.check_true("box beats noise", False, kind="evidence", settles=("C2", "C3"), control=True)
        checks.check_close("a [bracketed] claim", 1.0, 1.0, kind="identity")
        checks.check_true("an old check", True)

    found_checks, controls = _notebook(tmp_path, [_printed(capsys, run)])
    assert [(c.claim, c.kind, c.settles, c.control_promised, c.regression_checked) for c in found_checks] == [
        ("box beats noise", "evidence", ("C2", "C3"), True, True),
        ("a [bracketed] claim", "identity", (), False, True),
        ("an old check", "unclassified", (), False, True)]
    assert [(c.outcome, c.claim, c.wrong_input) for c in controls] == [
        ("EXPECTED FAIL", "box beats noise", "pixel noise [0, 1]")]
    assert claim_ledger.problems(CLAIMS, found_checks, controls, required=("C2", "C3")) == [
        "C2 is settled but docs/homework_claims.yaml gives it no verdict",
        "C3 is settled but docs/homework_claims.yaml gives it no verdict"]


@pytest.mark.parametrize("lines, expected", [
    (["PASS  x  [condition]  (evidence; settles C1; negative control)"],
     "promises a negative control, and no EXPECTED FAIL line"),
    (["PASS  x  [condition]  (evidence; settles C1)",
      "UNEXPECTED PASS  x  [condition]  (negative control: a right answer)"], "passed the check"),
    (["FAIL  x  [condition]  (evidence; settles C1)"], "a stored check failed"),
    (["PASS  x  [condition]  (evidence; settles C99)"], "C99, which is not a homework claim"),
    (["PASS  x  [condition]  (consistency; settles C1)"], "C1 is settled by no passing evidence check"),
    (["PASS  x  [condition]"], "C1 is settled by no passing evidence check"),
    (["PASS  x  [condition]  (evidence; settles C1)",
      "EXPECTED FAIL  y  [condition]  (negative control: z)"], "never passes on the right input"),
])
def test_each_dishonest_ledger_is_reported(tmp_path, lines, expected):
    found_checks, controls = _notebook(tmp_path, [lines])
    claims = {**CLAIMS, "C1": {**CLAIMS["C1"], "verdict": "wrong"}}
    found = claim_ledger.problems(claims, found_checks, controls, required=("C1",))
    assert any(expected in problem for problem in found), found


def test_a_verdict_without_evidence_is_reported(tmp_path):
    found_checks, controls = _notebook(tmp_path, [["PASS  x  [condition]  (consistency)"]])
    claims = {**CLAIMS, "C3": {**CLAIMS["C3"], "verdict": "correct"}}
    assert claim_ledger.problems(claims, found_checks, controls, required=()) == [
        "C3 has a verdict in docs/homework_claims.yaml but no evidence check settles it"]


def test_a_stale_ledger_is_reported(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "stale-ledger.txt"
    stale.write_text(claim_ledger.LEDGER_FILE.read_text(encoding="utf-8").replace("| C1 |", "| C1 (edited) |"))
    monkeypatch.setattr(claim_ledger, "LEDGER_FILE", stale)
    assert claim_ledger.main(["--check"]) == 1
    assert "docs/claims.md is stale" in capsys.readouterr().err


def test_a_corrupt_notebook_is_named(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="broken.ipynb: cannot read the notebook"):
        claim_ledger.read_notebook(path, "broken.ipynb")


def test_a_wrong_verdict_word_is_refused(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text('C1:\n  question: "Q1(a)"\n  words: "x"\n  verdict: "mostly right"\n  course: null\n')
    with pytest.raises(ValueError, match="C1 has verdict 'mostly right'"):
        claim_ledger.load_claims(path)
