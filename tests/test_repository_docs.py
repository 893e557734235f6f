"""The repository stands on its own: every Markdown document a file cites is in the repository.

A clone has only what is committed. A citation such as ``docs/design.md, section 7`` or a link
``[conventions](conventions.md#3-lecture-notebook-cell-template)`` must name a Markdown file that
exists (relative to the citing file or to the repository root), and a cited section or anchor must
exist in it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEXT_SUFFIXES = {".md", ".py", ".toml", ".cfg", ".yml", ".yaml", ".json", ".ipynb", ".txt", ""}
# uv.lock: package metadata written by uv, not prose of the course; this file: its negative controls
NOT_SCANNED = {"uv.lock", "tests/test_repository_docs.py"}
# a path ending in .md, not part of a URL (no "://" before it) and not an absolute path (URL routes
# such as /lab/tree/README.md)
MARKDOWN_REFERENCE = re.compile(r"(?<![\w/.:-])((?:\.\.?/)?[\w.-]+(?:/[\w.-]+)*\.md)\b(?:#([\w-]+))?")
SECTION_CITATION = re.compile(r"([\w./-]+\.md), section (\d+)")
OUTSIDE_DESIGN, OUTSIDE_STYLE = "COURSE" + ".md", "STYLE" + ".md"  # two documents that were never in the repository


def repository_files(root: Path) -> list[Path]:
    """Committed files and new ones not ignored by git (so a reference is checked before it is committed)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    return [root / name for name in listed if (root / name).is_file()]


def _heading_anchor(heading: str) -> str:
    """The anchor GitHub and JupyterLab give a Markdown heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _headings(document: Path) -> list[str]:
    return [line.lstrip("#").strip() for line in document.read_text(encoding="utf-8").splitlines() if line.startswith("#")]


def dangling_references(root: Path, files: list[Path]) -> list[str]:
    """``file:line: what is wrong`` for every Markdown citation that points outside the repository."""
    problems = []
    for path in files:
        if path.relative_to(root).as_posix() in NOT_SCANNED or path.suffix not in TEXT_SUFFIXES:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # a binary file without a suffix
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            where = f"{path.relative_to(root)}:{number}"
            for match in MARKDOWN_REFERENCE.finditer(line):
                reference, anchor = match.group(1), match.group(2)
                found = next((c for c in (path.parent / reference, root / reference) if c.is_file()), None)
                if found is None or not found.resolve().is_relative_to(root.resolve()):
                    problems.append(f"{where}: cites {reference}, which is not in the repository")
                elif anchor and anchor not in {_heading_anchor(h) for h in _headings(found)}:
                    problems.append(f"{where}: links {reference}#{anchor}, which has no such heading")
            for match in SECTION_CITATION.finditer(line):
                reference, section = match.groups()
                found = next((c for c in (path.parent / reference, root / reference) if c.is_file()), None)
                if found is not None and not any(re.match(rf"{section}[.\s]", h) for h in _headings(found)):
                    problems.append(f"{where}: cites {reference}, section {section}, which has no such section")
    return problems


def test_no_file_cites_a_document_outside_the_repository():
    problems = dangling_references(ROOT, repository_files(ROOT))
    assert not problems, "dangling references to Markdown documents:\n" + "\n".join(problems)


def test_the_design_documents_exist():
    for name in ("docs/design.md", "docs/conventions.md"):
        assert _headings(ROOT / name), f"{name} is missing or has no headings"


@pytest.mark.parametrize("line, wrong", [
    # the documents the old citations named, spelled so that a grep for them finds no citation here
    (f"see {OUTSIDE_DESIGN} section 7", f"cites {OUTSIDE_DESIGN}, which is not in the repository"),
    (f"({OUTSIDE_STYLE} section 3)", f"cites {OUTSIDE_STYLE}, which is not in the repository"),
    (f"[guide](../shared/{OUTSIDE_DESIGN})", f"cites ../shared/{OUTSIDE_DESIGN}, which is not in the repository"),
    ("see docs/design.md, section 42", "cites docs/design.md, section 42, which has no such section"),
    ("[template](docs/conventions.md#no-such-heading)", "links docs/conventions.md#no-such-heading, which has no such heading"),
])
def test_a_dangling_reference_is_caught(tmp_path, line, wrong):
    """Negative controls: each of these citations in a file of a small repository is reported."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "design.md").write_text("# Design\n\n## 7. Budgets\n")
    (tmp_path / "docs" / "conventions.md").write_text("# Conventions\n\n## 3. Lecture notebook cell template\n")
    (tmp_path / "module.py").write_text(f'"""Module.\n\n{line}\n"""\n')
    good = tmp_path / "good.md"
    good.write_text("See docs/design.md, section 7 and [it](docs/conventions.md#3-lecture-notebook-cell-template); "
                    "https://example.org/README.md and /lab/tree/README.md are addresses, not files.\n")
    problems = dangling_references(tmp_path, [tmp_path / "module.py", good])
    assert problems == [f"module.py:3: {wrong}"]
