"""The stored notebooks: jupytext twins in sync, executed top to bottom, no widget state, no errors.

nbval (or, for the notebooks with a widget, the browser tests) and, for the solutions, the grading
tests re-execute them in the same `uv run pytest` and compare the checked cells; these tests look
at the files themselves.
"""

from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
LECTURES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))
STORED = LECTURES + SOLUTIONS
PAIRED_FOLDERS = [ROOT / "notebooks", ROOT / "solutions"]


def ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def test_the_course_has_notebooks():
    assert LECTURES, "no lecture notebooks found in notebooks/"
    assert (ROOT / "notebooks" / "00_setup_and_data.ipynb") in LECTURES


@pytest.mark.parametrize("folder", PAIRED_FOLDERS, ids=ids(PAIRED_FOLDERS))
def test_pairing_config(folder):
    config = (folder / "jupytext.toml").read_text()
    assert 'formats = "ipynb,py:percent"' in config


def _cell_signature(cell):
    metadata = cell.get("metadata", {})
    return (cell.cell_type, cell.source.strip(), tuple(metadata.get("tags", [])), metadata.get("nbgrader"))


@pytest.mark.parametrize("notebook_path", STORED, ids=ids(STORED))
def test_jupytext_twin_in_sync(notebook_path):
    twin = notebook_path.with_suffix(".py")
    assert twin.is_file(), f"{twin.name} is missing: run `uv run jupytext --sync {notebook_path.relative_to(ROOT)}`"
    notebook = nbformat.read(notebook_path, as_version=4)
    from_twin = jupytext.read(twin)
    ours, theirs = [_cell_signature(c) for c in notebook.cells], [_cell_signature(c) for c in from_twin.cells]
    for index, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, (f"cell {index} differs between {notebook_path.name} and {twin.name}; edit one, then run "
                        f"`uv run jupytext --sync {notebook_path.relative_to(ROOT)}`\nipynb: {a}\npy:    {b}")
    assert len(ours) == len(theirs), f"{notebook_path.name} has {len(ours)} cells, {twin.name} has {len(theirs)}"


@pytest.mark.parametrize("notebook_path", STORED, ids=ids(STORED))
def test_executed_in_order_without_errors(notebook_path):
    notebook = nbformat.read(notebook_path, as_version=4)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code_cells]
    assert counts == list(range(1, len(code_cells) + 1)), (
        f"execution counts {counts}: restart the kernel and run all (benchmarks/run_notebooks.py store)")
    errors = [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    assert not errors, f"stored outputs contain an error: {errors[0].get('ename')}: {errors[0].get('evalue')}"


@pytest.mark.parametrize("notebook_path", STORED, ids=ids(STORED))
def test_no_widget_state_stored(notebook_path):
    notebook = nbformat.read(notebook_path, as_version=4)
    assert "widgets" not in notebook.metadata, "widget state varies between runs; strip metadata.widgets"


@pytest.mark.parametrize("notebook_path", LECTURES, ids=ids(LECTURES))
def test_lecture_skeleton(notebook_path):
    """Title with the notebook's number, a parameters cell, one setup_notebook call (docs/conventions.md, section 3)."""
    notebook = nbformat.read(notebook_path, as_version=4)
    number = notebook_path.name[:2]
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith(f"# {number} · ")
    parameter_cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameter_cells) == 1, "exactly one cell tagged 'parameters'"
    assert "SEED" in parameter_cells[0].source and "DEVICE" in parameter_cells[0].source
    setup_calls = sum(c.source.count("vc.setup_notebook(") for c in notebook.cells if c.cell_type == "code")
    assert setup_calls == 1
    checked = [c for c in notebook.cells if c.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" in c.source]
    assert checked, "no cell is regression-checked by nbval"
