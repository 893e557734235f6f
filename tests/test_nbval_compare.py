"""tests/nbval_compare.py judges a run the way nbval does: what it must catch, and what it must let through."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbval_compare import checked_output_differences, is_checked

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = nbformat.read(ROOT / "notebooks" / "01_ae_sampling_failure.ipynb", as_version=4)


def _stored_outputs(notebook) -> list[list[dict]]:
    return [copy.deepcopy(cell.get("outputs", [])) for cell in notebook.cells]


def _first_checked_stream(outputs) -> tuple[int, dict]:
    for index, cell in enumerate(NOTEBOOK.cells):
        for output in outputs[index] if is_checked(cell) else []:
            if output["output_type"] == "stream" and output["name"] == "stdout" and any(c.isdigit() for c in output["text"]):
                return index, output
    raise AssertionError("no checked cell prints a number")


def test_the_stored_outputs_agree_with_themselves():
    """Consistency check (the same outputs on both sides), the baseline for the negative controls below."""
    assert sum(map(is_checked, NOTEBOOK.cells)) >= 5
    assert checked_output_differences(NOTEBOOK, _stored_outputs(NOTEBOOK)) == []


def test_a_changed_number_is_caught():
    outputs = _stored_outputs(NOTEBOOK)
    index, output = _first_checked_stream(outputs)
    digit = next(c for c in output["text"] if c.isdigit())
    output["text"] = output["text"].replace(digit, str((int(digit) + 1) % 10), 1)
    differences = checked_output_differences(NOTEBOOK, outputs)
    assert len(differences) == 1 and differences[0].startswith(f"cell {index}, stdout")


def test_a_missing_or_extra_output_is_caught():
    outputs = _stored_outputs(NOTEBOOK)
    index, _ = _first_checked_stream(outputs)
    extra = copy.deepcopy(outputs)
    extra[index].append({"output_type": "execute_result", "data": {"text/plain": "42"}, "metadata": {}, "execution_count": 1})
    assert checked_output_differences(NOTEBOOK, extra)[0].startswith(f"cell {index}: output fields")
    missing = copy.deepcopy(outputs)
    missing[index] = []
    assert checked_output_differences(NOTEBOOK, missing)
    assert checked_output_differences(NOTEBOOK, outputs[:-1]), "a run with fewer cells must not pass"


@pytest.mark.parametrize("change", ["split the stream", "other device", "other timing", "stderr", "unchecked cell"])
def test_what_nbval_ignores_is_ignored(change):
    outputs = _stored_outputs(NOTEBOOK)
    index, output = _first_checked_stream(outputs)
    if change == "split the stream":  # JupyterLab and nbval may cut a stream into pieces differently
        text = output["text"]
        output["text"] = text[: len(text) // 2]
        outputs[index].insert(outputs[index].index(output) + 1, {"output_type": "stream", "name": "stdout",
                                                                   "text": text[len(text) // 2:]})
    elif change == "other device":
        output["text"] += "device cuda:0\n"
        reference = copy.deepcopy(NOTEBOOK)
        stored = next(o for o in reference.cells[index].outputs if o.get("name") == "stdout")
        stored["text"] += "device cpu\n"
        assert checked_output_differences(reference, outputs) == []
        return
    elif change == "other timing":
        output["text"] += "took 12.5 s\n"
        reference = copy.deepcopy(NOTEBOOK)
        next(o for o in reference.cells[index].outputs if o.get("name") == "stdout")["text"] += "took 3 s\n"
        assert checked_output_differences(reference, outputs) == []
        return
    elif change == "stderr":
        outputs[index].append({"output_type": "stream", "name": "stderr", "text": "progress 100%\n"})
    else:
        unchecked = next(i for i, cell in enumerate(NOTEBOOK.cells) if cell.cell_type == "code" and not is_checked(cell))
        outputs[unchecked] = [{"output_type": "stream", "name": "stdout", "text": "anything\n"}]
    assert checked_output_differences(NOTEBOOK, outputs) == []
