"""The claim ledger: every check of every notebook, joined with the homework's claims, as docs/claims.md.

The checks are read from the notebooks' *stored outputs* (the lines vaecourse.checks prints), so the
ledger says what the stored run showed, not what the code intends. Each line carries its kind and the
claims it settles, e.g.::

    PASS  box samples beat pixel noise  [condition]  (evidence; settles C2; negative control)
    EXPECTED FAIL  box samples beat pixel noise  [condition]  (negative control: uniform pixels)

A claim counts as settled only through a passing ``evidence`` check. A check that promises a negative
control (``control=True``) needs an ``EXPECTED FAIL`` line with the same claim text in the same
notebook.

    uv run python tests/claim_ledger.py           # rewrite docs/claims.md
    uv run python tests/claim_ledger.py --check   # exit 1 if docs/claims.md is stale

tests/test_claim_ledger.py runs the second form.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
CLAIMS_FILE = ROOT / "docs/homework_claims.yaml"
LEDGER_FILE = ROOT / "docs/claims.md"
NOTEBOOK_GLOB = "notebooks/*.ipynb"
# The claims the course must settle: all of C1-C68, each through a passing evidence check.
REQUIRED_SETTLED = tuple(f"C{n}" for n in range(1, 69))

CHECK_LINE = re.compile(
    r"^(?P<verdict>PASS|FAIL)  (?P<claim>.*)  \[(?P<tolerance>[^\[\]]*)\]"
    r"(?:  \((?P<kind>evidence|identity|consistency)(?:; settles (?P<settles>C\d+(?:, C\d+)*))?"
    r"(?P<control>; negative control)?\))?$")
CONTROL_LINE = re.compile(
    r"^(?P<outcome>EXPECTED FAIL|UNEXPECTED PASS)  (?P<claim>.*)  \[(?P<tolerance>[^\[\]]*)\]"
    r"  \(negative control: (?P<wrong_input>.*)\)$")


@dataclass(frozen=True)
class Check:
    notebook: str
    cell: int  # index of the code cell among the notebook's cells
    verdict: str  # PASS or FAIL
    claim: str
    kind: str  # evidence, identity, consistency, or "unclassified" for a line without a tag
    settles: tuple[str, ...]
    control_promised: bool
    regression_checked: bool  # the cell is marked NBVAL_CHECK_OUTPUT, so the line is compared on every run


@dataclass(frozen=True)
class Control:
    notebook: str
    cell: int
    outcome: str  # EXPECTED FAIL or UNEXPECTED PASS
    claim: str
    wrong_input: str


def _stdout_lines(cell) -> list[str]:
    lines = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            lines.extend(output.get("text", "").splitlines())
    return lines


def read_notebook(path: Path, name: str | None = None) -> tuple[list[Check], list[Control]]:
    """Every check and negative-control line in the stored outputs of one notebook."""
    name = name or path.relative_to(ROOT).as_posix()
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # a corrupt notebook is named, not a traceback from deep in nbformat
        raise ValueError(f"{name}: cannot read the notebook ({error})") from error
    checks, controls = [], []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        regression_checked = "NBVAL_CHECK_OUTPUT" in cell.source
        for line in _stdout_lines(cell):
            if match := CHECK_LINE.match(line):
                settles = tuple(match["settles"].split(", ")) if match["settles"] else ()
                checks.append(Check(name, index, match["verdict"], match["claim"], match["kind"] or "unclassified",
                                    settles, bool(match["control"]), regression_checked))
            elif match := CONTROL_LINE.match(line):
                controls.append(Control(name, index, match["outcome"], match["claim"], match["wrong_input"]))
    return checks, controls


def load_claims(path: Path = CLAIMS_FILE) -> dict[str, dict]:
    claims = yaml.safe_load(path.read_text(encoding="utf-8"))
    for claim_id, entry in claims.items():
        if not re.fullmatch(r"C[1-9]\d*", claim_id) or not {"question", "words", "verdict", "course"} <= set(entry):
            raise ValueError(f"{path.name}: entry {claim_id!r} needs an id like C7 and question, words, verdict, course")
        if entry["verdict"] not in (None, "correct", "imprecise", "wrong", "opinion"):
            raise ValueError(f"{path.name}: {claim_id} has verdict {entry['verdict']!r}")
    return claims


def problems(claims: dict[str, dict], checks: list[Check], controls: list[Control],
             required: tuple[str, ...] = REQUIRED_SETTLED) -> list[str]:
    """Everything that makes the ledger dishonest; empty when it is sound."""
    found = []
    for check in checks:
        if check.verdict != "PASS":
            found.append(f"{check.notebook}: a stored check failed: {check.claim!r}")
        for claim_id in check.settles:
            if claim_id not in claims:
                found.append(f"{check.notebook}: the check {check.claim!r} settles {claim_id}, which is not a homework claim")
    for control in controls:
        if control.outcome != "EXPECTED FAIL":
            found.append(f"{control.notebook}: the negative control {control.wrong_input!r} passed the check "
                         f"{control.claim!r}")
    controlled = {(c.notebook, c.claim) for c in controls if c.outcome == "EXPECTED FAIL"}
    for check in checks:
        if check.control_promised and (check.notebook, check.claim) not in controlled:
            found.append(f"{check.notebook}: the check {check.claim!r} promises a negative control, "
                         "and no EXPECTED FAIL line with its claim is stored")
    promised = {(c.notebook, c.claim) for c in checks}
    for control in controls:
        if (control.notebook, control.claim) not in promised:
            found.append(f"{control.notebook}: the negative control {control.wrong_input!r} fails a check "
                         f"({control.claim!r}) that never passes on the right input in this notebook")
    settled = settled_claims(checks)
    for claim_id in required:
        if claim_id not in settled:
            found.append(f"{claim_id} is settled by no passing evidence check")
        elif not claims[claim_id]["verdict"]:
            found.append(f"{claim_id} is settled but docs/homework_claims.yaml gives it no verdict")
    for claim_id, entry in claims.items():
        if entry["verdict"] and claim_id not in settled:
            found.append(f"{claim_id} has a verdict in docs/homework_claims.yaml but no evidence check settles it")
    return found


def settled_claims(checks: list[Check]) -> dict[str, list[Check]]:
    settled: dict[str, list[Check]] = {}
    for check in checks:
        if check.kind == "evidence" and check.verdict == "PASS":
            for claim_id in check.settles:
                settled.setdefault(claim_id, []).append(check)
    return settled


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(claims: dict[str, dict], checks: list[Check], controls: list[Control]) -> str:
    settled = settled_claims(checks)
    wrong_inputs: dict[tuple[str, str], list[str]] = {}  # every wrong input a check was shown failing on
    for c in controls:
        if c.outcome == "EXPECTED FAIL":
            shown = wrong_inputs.setdefault((c.notebook, c.claim), [])
            if c.wrong_input not in shown:
                shown.append(c.wrong_input)
    controlled = {key: "; ".join(inputs) for key, inputs in wrong_inputs.items()}
    notebooks = sorted({c.notebook for c in checks})
    out = ["# Claim ledger", "",
           "Generated by `uv run python tests/claim_ledger.py` from the stored outputs of the notebooks and "
           "`docs/homework_claims.yaml`; `tests/test_claim_ledger.py` fails when this file is stale. Do not edit "
           "it by hand.", "",
           "Every check a notebook prints has a kind (`vaecourse/checks.py`):", "",
           "- **evidence**: a wrong implementation or a wrong claim would make it fail, and its expected value is "
           "computed independently (closed form, brute force, another estimator, a control);",
           "- **identity**: an exact mathematical identity, both sides computed differently;",
           "- **consistency**: a function against another route through the same code, or a condition that holds "
           "by construction; it guards against breakage and is not evidence;",
           "- **unclassified**: a check printed without a kind (still to be sorted).", "",
           "A homework claim is **settled** only by a passing evidence check. A **negative control** is the same "
           "check run in the notebook on a wrong input, shown failing.", "",
           "## Summary", ""]
    num_settled = sum(claim_id in settled for claim_id in claims)
    num_controlled = sum(any((c.notebook, c.claim) in controlled for c in settled.get(claim_id, []))
                         for claim_id in claims)
    out += [f"- {len(claims)} homework claims; {num_settled} settled by an evidence check, {num_controlled} of them "
            "with a negative control shown.",
            f"- {len(checks)} checks in {len(notebooks)} notebooks, {len(controlled)} negative controls.", "",
            "| notebook | evidence | identity | consistency | unclassified | negative controls |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for notebook in notebooks:
        kinds = [c.kind for c in checks if c.notebook == notebook]
        num_controls = sum(1 for key in controlled if key[0] == notebook)
        out.append(f"| `{notebook}` | {kinds.count('evidence')} | {kinds.count('identity')} | "
                   f"{kinds.count('consistency')} | {kinds.count('unclassified')} | {num_controls} |")
    out += ["", "## The homework's claims", "",
            "| claim | question | the homework's words | verdict | settled by (notebook: check) | negative control |",
            "| --- | --- | --- | --- | --- | --- |"]

    def claim_order(claim_id: str) -> int:
        return int(claim_id[1:])

    for claim_id in sorted(claims, key=claim_order):
        entry = claims[claim_id]
        evidence = settled.get(claim_id, [])
        where = "<br>".join(f"`{Path(c.notebook).stem[:2]}`: {_cell(c.claim)}" for c in evidence) or "not yet settled"
        shown = "<br>".join(f"`{Path(c.notebook).stem[:2]}`: {_cell(controlled[c.notebook, c.claim])}"
                            for c in evidence if (c.notebook, c.claim) in controlled) or "none"
        verdict = entry["verdict"] or "-"
        if entry["course"]:
            verdict = f"**{verdict}**: {_cell(entry['course'])}"
        out.append(f"| {claim_id} | {entry['question']} | {_cell(entry['words'])} | {verdict} | {where} | {shown} |")
    out += ["", "## Every check, by notebook", ""]
    for notebook in notebooks:
        out += [f"### `{notebook}`", "", "| cell | check | kind | settles | negative control |",
                "| ---: | --- | --- | --- | --- |"]
        for check in (c for c in checks if c.notebook == notebook):
            control = controlled.get((check.notebook, check.claim))
            out.append(f"| {check.cell} | {_cell(check.claim)} | {check.kind} | {', '.join(check.settles) or '-'} | "
                       f"{_cell(control) if control else '-'} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def collect(root: Path = ROOT) -> tuple[dict[str, dict], list[Check], list[Control]]:
    checks, controls = [], []
    for path in sorted(root.glob(NOTEBOOK_GLOB)):
        found_checks, found_controls = read_notebook(path, path.relative_to(root).as_posix())
        checks += found_checks
        controls += found_controls
    return load_claims(root / "docs" / "homework_claims.yaml"), checks, controls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/claims.md is stale; write nothing")
    args = parser.parse_args(argv)
    claims, checks, controls = collect()
    text = render(claims, checks, controls)
    for problem in problems(claims, checks, controls):
        print(f"problem: {problem}", file=sys.stderr)
    if args.check:
        current = LEDGER_FILE.read_text(encoding="utf-8") if LEDGER_FILE.exists() else ""
        if current != text:
            print("docs/claims.md is stale: run `uv run python tests/claim_ledger.py`", file=sys.stderr)
            return 1
        return 0
    LEDGER_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {LEDGER_FILE.relative_to(ROOT)}: {len(checks)} checks, {len(controls)} negative controls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
