"""Build the course website from the stored notebooks, offline:

    npm ci --prefix docs/site                 # MathJax, once (the site serves its own copy)
    uv run python docs/site/build.py          # -> _build/site/index.html (git-ignored)

The sources are staged into ``_build/site-src/`` (git-ignored) in the repository's own layout, so that the README's
relative links work unchanged: the README (the home page, with the course map), the ten lecture notebooks with
their stored outputs, the released exercises (never ``solutions/``), INSTRUCTORS.md, the design documents and the
benchmark tables. Sphinx with MyST-NB renders them without executing anything; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(__file__).resolve().parent
STAGE = ROOT / "_build" / "site-src"
OUTPUT = ROOT / "_build" / "site"
MATHJAX = SITE / "node_modules" / "mathjax" / "es5"

# What the site shows, relative to the repository root (globs). Never solutions/: the site is public.
PAGES = ["README.md", "INSTRUCTORS.md", "docs/*.md", "benchmarks/*.md", "deploy/*/README.md",
         "notebooks/*.ipynb", "exercises/*/*.ipynb"]
ASSETS = ["docs/images/*"]


def toctree(caption: str, entries: list[str]) -> str:
    return "\n```{toctree}\n:hidden:\n:caption: " + caption + "\n\n" + "\n".join(entries) + "\n```\n"


SOLUTIONS_LINK = re.compile(r"\[([^\]]*)\]\((?:\.\./)*(solutions/[^)\s]*)\)")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def linked_files(pages: list[Path], stage_dir: Path) -> set[str]:
    """Files of the repository the pages link to that are no page themselves (the package's modules, the tests, the
    scripts): the site carries a copy (MyST makes a download link of it). Never anything under solutions/."""
    found = set()
    for page in pages:
        if page.suffix not in (".md", ".ipynb"):
            continue
        text = page.read_text(encoding="utf-8")
        for target in LINK.findall(text):
            if "://" in target or target.startswith("mailto:"):
                continue
            path = (ROOT / page.relative_to(stage_dir).parent / target).resolve()
            try:
                relative = path.relative_to(ROOT)
            except ValueError:
                continue
            if (path.is_file() and not (stage_dir / relative).exists() and relative.parts[0] != "solutions"
                    and not any(part.startswith(".") for part in relative.parts[:-1])):
                found.add(relative.as_posix())
    return found


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BENCHMARK = "benchmarks/results.md"  # the notebooks' measured run times
RUN_IT_YOURSELF = ("**Run it yourself**: install [uv](https://docs.astral.sh/uv/), clone the course, then "
                   "`uv run jupyter lab` opens it (the README's quick start; `uv run pytest` checks everything).")


def run_seconds() -> dict[str, float]:
    """notebook stem -> median seconds of the notebook benchmark's table (benchmarks/results.md)."""
    rows = re.findall(r"^\| `(?:notebooks|solutions/\w+)/(\w+)\.ipynb` \| ([0-9.]+) \|",
                      (ROOT / BENCHMARK).read_text(encoding="utf-8"), flags=re.M)
    return {stem: float(seconds) for stem, seconds in rows}  # (an exercise's row: its model answers run)


def course_map() -> dict[str, str]:
    """notebook stem -> its exercise's path, from the README's course map (its rows link both)."""
    rows = re.findall(r"^\| \[[^\]]*\]\(notebooks/(\w+)\.ipynb\) \|.*\[(\w+)\]\((exercises/[^)]+)\) \|$",
                      (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.M)
    return {stem: path for stem, _, path in rows}


def widget_pictures() -> dict[str, tuple[str, str]]:
    """notebook stem -> (what its widget does, the picture's alt text), from the README's list of the widgets."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = {}
    for number, description, alt, stem in re.findall(
            r"^- \*\*(\d\d) · [^*]+\*\*,?:? ?(.*?)\n\n\s+!\[([^\]]*)\]\(docs/images/(\w+)\.png\)", text, flags=re.M | re.S):
        found[stem] = (" ".join(description.split()), alt)
    return found


def prepare_notebook(path: Path, stem: str, seconds: dict, exercise_of: dict, widgets: dict) -> None:
    """A lecture notebook as the site shows it: a line on its run time, its exercise and how to run it under the
    title; its widget as the picture the browser tests took, with a sentence on running it live (a page has no
    kernel); no widget state (which would make the page fetch ipywidgets' JavaScript from a CDN)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.pop("widgets", None)
    facts = []
    if stem in seconds:
        facts.append(f"**Run time**: about {seconds[stem]:.0f} s on 2 CPU cores (median of "
                     f"[the benchmark](../{BENCHMARK}))")
    if stem in exercise_of:
        facts.append(f"**Exercise**: [{Path(exercise_of[stem]).stem}](../{exercise_of[stem]})")
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(" · ".join(facts) + "\n\n" + RUN_IT_YOURSELF))
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                description, alt = widgets[stem]
                picture = (f"![{alt}: a picture of the widget, taken by the course's browser tests]"
                           f"(../docs/images/{stem}.png)\n\n*An interactive widget: {description} On this page it is "
                           f"a picture; run the notebook in JupyterLab to move its controls (see 'Run it yourself' "
                           f"above).*")
                output.data = {"text/markdown": picture}
    nbformat.write(notebook, path)


def favicon(path: Path) -> None:
    """The site's icon, drawn here (a browser asks for one on every site; without it, a 404 on every page)."""
    from PIL import Image, ImageDraw

    icon = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.ellipse((2, 2, 29, 29), fill=(40, 90, 160, 255))  # a latent Gaussian, seen from above
    draw.ellipse((11, 11, 20, 20), fill=(255, 255, 255, 255))
    icon.save(path)


def prepare_exercise(path: Path, stem: str, seconds: dict, exercise_of: dict) -> None:
    """A released exercise as the site shows it: under its title, how long it runs, its lecture notebooks, and how
    to work on it (the page shows the release: the answer cells as handed out, no solution, no hidden test)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    lectures = [f"[{lecture[:2]}](../../notebooks/{lecture}.ipynb)" for lecture, exercise in exercise_of.items()
                if Path(exercise).stem == stem]
    facts = []
    if stem in seconds:
        facts.append(f"**Run time**: the model answers run in about {seconds[stem]:.0f} s on 2 CPU cores "
                     f"(median of [the benchmark](../../{BENCHMARK}))")
    if lectures:
        facts.append("**Lecture notebooks**: " + ", ".join(lectures))
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(
        " · ".join(facts) + "\n\n" + RUN_IT_YOURSELF + " Work on the exercise in `exercises/`; its visible tests "
        "tell you what is wrong, the grader adds hidden ones."))
    nbformat.write(notebook, path)


def stage(stage_dir: Path = STAGE) -> list[Path]:
    """Copy the pages into ``stage_dir``; the README gets the site's navigation (hidden tables of contents)."""
    shutil.rmtree(stage_dir, ignore_errors=True)
    staged = []
    for pattern in PAGES + ASSETS:
        for path in sorted(ROOT.glob(pattern)):
            target = stage_dir / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            if target.suffix in (".md", ".ipynb"):
                text = target.read_text(encoding="utf-8")
                # a link into solutions/ becomes the path as text: the site never carries the solutions
                target.write_text(SOLUTIONS_LINK.sub(lambda m: f"{m.group(1)} (`{m.group(2)}` in the repository)", text),
                                  encoding="utf-8")
            staged.append(target)
    def documents(*patterns: str) -> list[str]:  # the staged pages of these globs, as a table of contents names them
        return sorted(p.relative_to(stage_dir).with_suffix("").as_posix()
                      for pattern in patterns for p in stage_dir.glob(pattern))

    with (stage_dir / "README.md").open("a", encoding="utf-8") as readme:
        readme.write(toctree("Lecture notebooks", documents("notebooks/*.ipynb"))
                     + toctree("Exercises", documents("exercises/*/*.ipynb"))
                     + toctree("Instructors", ["INSTRUCTORS"] + documents("deploy/*/README.md"))
                     + toctree("Design and measurements", documents("docs/*.md", "benchmarks/*.md")))
    seconds, exercise_of, widgets = run_seconds(), course_map(), widget_pictures()
    for path in sorted((stage_dir / "notebooks").glob("*.ipynb")):
        prepare_notebook(path, path.stem, seconds, exercise_of, widgets)
    for path in sorted((stage_dir / "exercises").glob("*/*.ipynb")):
        prepare_exercise(path, path.stem, seconds, exercise_of)
    for target in linked_files(staged, stage_dir):
        copy = stage_dir / target
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / target, copy)
    static = stage_dir / "_static"
    static.mkdir()
    shutil.copytree(MATHJAX, static / "mathjax")
    favicon(static / "favicon.png")
    shutil.copy2(SITE / "conf.py", stage_dir / "conf.py")
    return staged


class MathJaxMissing(RuntimeError):
    """npm's MathJax is not installed in docs/site/node_modules."""


def build(stage_dir: Path = STAGE, output: Path = OUTPUT) -> float:
    """Stage and build the site into ``output``; the seconds it took. Sphinx's warnings fail the build."""
    if not MATHJAX.is_dir():
        raise MathJaxMissing(f"no MathJax at {MATHJAX}")
    started = time.perf_counter()
    stage(stage_dir)
    shutil.rmtree(output, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going", "-j", "auto",
                    str(stage_dir), str(output)], check=True)
    (output / "index.html").write_text('<!doctype html><meta charset="utf-8"><title>Course</title>'
                                       '<meta http-equiv="refresh" content="0; url=README.html">'
                                       '<a href="README.html">The course</a>\n', encoding="utf-8")
    return time.perf_counter() - started


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    try:
        seconds = build()
    except MathJaxMissing as error:
        sys.exit(f"{error}: run `npm ci --prefix docs/site` first (the site serves its own copy of MathJax)")
    print(f"built {OUTPUT.relative_to(ROOT)}/index.html in {seconds:.1f} s")


if __name__ == "__main__":
    main()
