"""nbval's regression check, applied to a notebook that ran somewhere else (JupyterLab, in the browser tests).

nbval (lax mode, as pyproject.toml runs it) re-executes a notebook and, for each cell marked
``# NBVAL_CHECK_OUTPUT``, compares the fresh outputs with the stored ones: streams merged per name,
the same masks applied to both sides (tests/nbval_sanitize.cfg), the fields in :data:`SKIP_COMPARE`
left out. :func:`checked_output_differences` does exactly that with nbval's own helpers, so a widget
notebook that the browser tests run in JupyterLab need not run a second time under nbval
(tests/conftest.py leaves it out of nbval then).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import nbformat
from nbval.plugin import coalesce_streams, get_sanitize_patterns, transform_streams_for_comparison

SANITIZE_FILE = Path(__file__).resolve().parent / "nbval_sanitize.cfg"
CHECK_MARKER = "NBVAL_CHECK_OUTPUT"
# nbval's own defaults (IPyNbFile.skip_compare, without --nbdime: PNG and JPEG too), and what the
# course adds (tests/conftest.py hands the same additions to nbval): other figure formats, HTML, and
# stderr, where progress bars go.
NBVAL_SKIP_COMPARE = ("metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
                      "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg")
COURSE_SKIP_COMPARE = ("image/svg+xml", "application/pdf", "text/html", "stderr")
SKIP_COMPARE = NBVAL_SKIP_COMPARE + COURSE_SKIP_COMPARE


def sanitize_patterns() -> list[tuple[str, str]]:
    return get_sanitize_patterns(SANITIZE_FILE.read_text(encoding="utf-8"))


def _flatten(outputs, patterns) -> dict[str, list]:
    """nbval's view of a cell's outputs: key (output field or MIME type) -> its sanitised values, in order."""
    import re

    def sanitize(value):
        if isinstance(value, str):
            for regex, replace in patterns:
                value = re.sub(regex, replace, value)
        return value

    flat = defaultdict(list)
    for output in transform_streams_for_comparison(coalesce_streams([nbformat.from_dict(o) for o in outputs])):
        for key, value in output.items():
            if key in SKIP_COMPARE:
                continue
            if key == "data":
                for mime, data in value.items():
                    if mime not in SKIP_COMPARE:
                        flat[mime].append(sanitize(data))
            else:
                flat[key].append(sanitize(value))
    return flat


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and CHECK_MARKER in cell.source


def checked_output_differences(reference: nbformat.NotebookNode, fresh_outputs: list[list[dict]]) -> list[str]:
    """What differs, cell by cell, between the stored outputs of the checked cells and freshly computed ones.

    ``fresh_outputs`` holds one list of output dicts per cell of ``reference`` (Markdown cells: ``[]``).
    Returns ``[]`` when every checked cell agrees, as nbval would pass it.
    """
    if len(fresh_outputs) != len(reference.cells):
        return [f"the run has {len(fresh_outputs)} cells, the stored notebook {len(reference.cells)}"]
    patterns, differences = sanitize_patterns(), []
    for index, cell in enumerate(reference.cells):
        if not is_checked(cell):
            continue
        stored, fresh = _flatten(cell.outputs, patterns), _flatten(fresh_outputs[index], patterns)
        if stored.keys() != fresh.keys():
            differences.append(f"cell {index}: output fields {sorted(stored)} stored, {sorted(fresh)} now")
            continue
        for key in stored:
            if stored[key] != fresh[key]:
                differences.append(f"cell {index}, {key}:\n--- stored\n{stored[key]}\n--- now\n{fresh[key]}")
    return differences
