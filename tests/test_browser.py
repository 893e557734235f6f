"""The course in a real browser: JupyterLab and the widgets, driven end to end in headless Chromium.

One JupyterLab server (free localhost port, random token) and one headless Chromium (driven by
Playwright; Playwright's own browser download is never used) serve the whole module. The tests
open the course map (README.md, rendered), open each notebook with a widget from its link there, run
it with Run > Run All Cells, then move every control of every widget and check that the figure the
widget shows is redrawn (its image changes, pixel by pixel) and that nothing went wrong on the page:
no error output, no widget left as text ("Loading widget...", a repr such as ``VBox(children=...``),
no error in the browser console. When the module ends, no server, kernel or browser process is left.

A negative control runs in every session: a small notebook shows each kind of widget twice, once as
built by ``vaecourse.widgets`` and once built from the same source with its ``.observe(...)``
callbacks taken out. The test must see the first redraw and must fail on the second.

Where things go:
- ``browser-screenshots/`` (git-ignored, emptied at the start of each test command): in ``steps/``, each
  widget before and after each control moved; in ``pictures/``, each notebook's widget at the end
  (the README's pictures, ``docs/images/``, are copies of these); the course map; the console and
  server logs; ``summary.txt`` with the times and the share of pixels each move changed.
- The server serves a temporary copy of README.md, docs/, the notebooks and experiments/ results, with autosave off: the
  browser never writes into the project.

A widget notebook runs once per test command: here, in JupyterLab. After Run All, its checked cells
(``# NBVAL_CHECK_OUTPUT``) must give their stored outputs, judged as nbval judges them
(tests/nbval_compare.py), and tests/conftest.py leaves the notebook out of nbval, which would run it
a second time for the same check. Where these tests cannot run (no browser, ``-m "not browser"``),
nbval runs the notebook as it runs every other.

Needs Chromium or Chrome, found as tests/system_tools.py says (``$VAECOURSE_CHROMIUM``, then the
system's, then Playwright's cache). Without one, the browser tests are skipped with a reason that
says how to install one; under ``CI=true`` they fail instead (`.ci/run` installs Debian's chromium
as root). To leave them out on purpose: ``uv run pytest -m "not browser"``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from lab_server import LabServer
from nbval_compare import checked_output_differences
from system_tools import require_chromium

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "browser-screenshots"
STEPS, PICTURES = SCREENSHOTS / "steps", SCREENSHOTS / "pictures"

# Every notebook that shows a widget (test_every_widget_notebook_is_covered keeps this list honest).
WIDGET_NOTEBOOKS = ["01_ae_sampling_failure", "02_vae_generation", "03_noise_injection",
                    "08_beta_vae_disentanglement", "09_vq_vae_losses"]

# What keeps headless Chromium quiet and offline on a CI runner (no sync, updates or background fetches)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--disable-quic"]
KERNEL_IDLE = re.compile(r"^Python 3 \(ipykernel\) \| Idle$")
# What JupyterLab shows instead of a widget that did not render (JupyterLab 4 falls back to the repr)
NOT_RENDERED = ["Loading widget", "Error displaying widget", "Error rendering", "model not found", "VBox(children",
                "HBox(children", "FloatSlider(", "IntSlider(", "SelectionSlider(", "Dropdown(", "Output(outputs"]
RUN_ALL_TIMEOUT_S = 600  # the longest notebook takes about 90 s on a quiet 2-core machine
REDRAW_TIMEOUT_S = 30  # a redraw takes about 0.1 s of kernel time
MIN_TRACK_PX = 100  # a slider shorter than this cannot be used with a mouse
CHANGED_PIXELS_MIN = 0.001  # share of the figure's pixels that must change when a control moves

# --------------------------------------------------------------------------------------- set-up
def _write_settings(settings: Path) -> None:
    """User settings of the test's JupyterLab: no autosave, every cell in the page, no news toast."""
    for plugin, values in {
        "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
        # Without this, cells scrolled out of view are not in the page (JupyterLab's windowing).
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _negative_control_notebook() -> nbformat.NotebookNode:
    """Each widget twice: as vaecourse builds it, and from the same source without its callbacks."""
    setup = textwrap.dedent("""\
        import inspect, re, types
        import matplotlib.pyplot as plt
        import torch
        import vaecourse as vc

        # vaecourse.widgets with every `x.observe(...)` line removed: the widgets draw once, then never again
        source = inspect.getsource(vc.widgets)
        without_callbacks, removed = re.subn(r"(?m)^(\\s*)[\\w.]+\\.observe\\(.*\\)[ \\t]*$", r"\\1pass", source)
        assert removed >= 3, f"expected the widgets' observe() lines, removed {removed}"
        broken = types.ModuleType("broken_widgets")
        exec(compile(without_callbacks, "broken_widgets", "exec"), broken.__dict__)

        torch.manual_seed(0)
        ae = vc.models.AE(latent_dim=2, hidden=(16,))
        vae = vc.models.VAE(latent_dim=3, hidden=(16,))
        codes, labels = torch.randn(100, 2), torch.arange(100) % 10

        def draw(k):
            def figure():
                fig, ax = plt.subplots(figsize=(3, 2))
                ax.plot(torch.arange(10.0) ** k)
                ax.set_title(f"power {k}")
                return fig
            return figure

        def explorers(module):
            return [module.latent_explorer(ae, codes, labels),
                    module.select_explorer({f"k = {k}": draw(k) for k in range(3)}),
                    module.traversal_explorer({"vae a": vae, "vae b": vae},
                                              {"vae a": torch.zeros(3), "vae b": torch.ones(3)})]
        """)
    show = textwrap.dedent("""\
        import ipywidgets
        without = explorers(broken)
        for widget in without:
            widget.add_class("without-callbacks")
        ipywidgets.VBox(explorers(vc.widgets) + without)
        """)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup), nbformat.v4.new_code_cell(show)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    return notebook


class Lab(LabServer):
    """The JupyterLab of the browser tests, serving a temporary copy of the course (see the module docstring)."""

    def __init__(self, base: Path):
        import vaecourse as vc

        root, home = base / "served", base / "home"
        (root / "notebooks").mkdir(parents=True)
        shutil.copy(ROOT / "README.md", root)
        if (ROOT / "docs").is_dir():
            shutil.copytree(ROOT / "docs", root / "docs")
        for notebook in (ROOT / "notebooks").glob("*.ipynb"):
            shutil.copy(notebook, root / "notebooks")
        # results that notebooks read (notebook 08 reads the setting search's file)
        shutil.copytree(ROOT / "experiments", root / "experiments", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        nbformat.write(_negative_control_notebook(), root / "negative_control.ipynb")
        _write_settings(home / "lab-settings")
        # the kernels share the reference classifier the other tests train and cache
        super().__init__(root, home, env={"VAECOURSE_CACHE": str(vc.config.cache_dir())},
                         extra_args=("--LabApp.expose_app_in_browser=True",), log_path=SCREENSHOTS / f"server-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log")

    def page_url(self, path: str) -> str:
        # ?reset: start from an empty workspace, not with the previous test's notebook reopened
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"


@pytest.fixture(scope="module")
def chromium_path():
    return require_chromium()  # skips, or fails under CI=true, when there is no browser


@pytest.fixture(scope="module")
def lab(chromium_path, tmp_path_factory):
    for folder in (STEPS, PICTURES):  # emptied once per test command (tests/conftest.py)
        folder.mkdir(parents=True, exist_ok=True)
    server = Lab(tmp_path_factory.mktemp("browser"))
    yield server
    left = server.stop()
    assert not left, f"processes left running after the server shut down: {left}"


@pytest.fixture(scope="module")
def browser(lab, chromium_path, tmp_path_factory):
    import psutil
    from playwright.sync_api import sync_playwright

    base = tmp_path_factory.mktemp("chromium")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            base / "profile", executable_path=chromium_path, headless=True, args=CHROMIUM_FLAGS,
            env={**os.environ, "HOME": str(base)},  # keeps Chromium's files out of the real home
            viewport={"width": 1280, "height": 1100}, timeout=60_000)
        context.set_default_timeout(60_000)
        started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
        (SCREENSHOTS / "versions.txt").write_text(
            f"chromium {chromium_path}: {context.browser.version if context.browser else '?'}\n")
        yield context
        context.close()
    _, alive = psutil.wait_procs(started, timeout=15)
    for process in alive:
        process.kill()
    assert not alive, f"browser processes left running: {[p.name() for p in alive]}"


class PageWatch:
    """A page and everything it reported: console errors, uncaught exceptions, failed requests."""

    def __init__(self, context, name: str):
        self.page, self.name, self.problems, self.log = context.new_page(), name, [], []
        self.page.on("console", self._console)
        self.page.on("pageerror", self._page_error)
        self.page.on("requestfailed", self._request_failed)

    def _console(self, message):
        self.log.append(f"{message.type}: {message.text}")
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _page_error(self, error):
        self.log.append(f"page error: {error}")
        self.problems.append(f"page error: {error}")

    def _request_failed(self, request):
        failure = f"request failed: {request.method} {request.url.split('?')[0]} ({request.failure})"
        self.log.append(failure)
        # A request the page itself cancelled is no failure: rendering Markdown, JupyterLab first lets the
        # browser fetch a picture's relative src (under /lab/tree/...), then replaces the src with the
        # file's URL, which aborts the first fetch (seen in a fresh-clone run: two of the pictures).
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(failure)

    def close(self):
        (SCREENSHOTS / f"{self.name}.console.log").write_text("\n".join(self.log) + "\n")
        self.page.close()


@pytest.fixture
def watched(browser, lab, request):
    """A fresh page; at the end: no console errors, kernels shut down, a screenshot if the test failed."""
    name = request.node.name.removeprefix("test_").replace("[", "-").rstrip("]")
    watch = PageWatch(browser, name)
    yield watch
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        watch.page.screenshot(path=SCREENSHOTS / f"{name}.FAILED.png", full_page=False)
    problems = list(watch.problems)
    watch.close()
    lab.shut_down_kernels()
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)


# ------------------------------------------------------------------------------- page helpers
def wait_for_kernel_idle(page) -> None:
    """Wait for the status bar's "Python 3 (ipykernel) | Idle": a kernel exists and answers.

    The toolbar's idle indicator is no gate: it reads "idle" before any kernel exists, and a Run All
    sent then was seen to be dropped.
    """
    page.locator(".jp-StatusBar-TextItem", has_text=KERNEL_IDLE).wait_for(state="visible", timeout=120_000)


def open_from_course_map(page, lab: Lab, notebook: str) -> None:
    """Open the course map, click the notebook's link, wait for its cells and an idle kernel."""
    page.goto(lab.page_url("README.md"))
    link = page.locator(f'.jp-RenderedMarkdown a[href*="notebooks/{notebook}.ipynb"]').first
    link.click()
    page.locator(".jp-NotebookPanel .jp-Cell").nth(1).wait_for(state="visible")
    wait_for_kernel_idle(page)


NOTEBOOK_STATE_JS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.model.cells;
    const state = {code: 0, executed: 0, running: 0, errors: [], lastExecuted: false};
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== "code") continue;
        state.code += 1;
        if (cell.executionState === "running") state.running += 1;
        state.lastExecuted = Boolean(cell.executionCount);
        if (cell.executionCount) state.executed += 1;
        for (let j = 0; j < cell.outputs.length; j++) {
            const output = cell.outputs.get(j).toJSON();
            if (output.output_type === "error") state.errors.push(`cell ${i}: ${output.ename}: ${output.evalue}`);
        }
    }
    return state;
}"""


CELL_OUTPUTS_JS = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    const outputs = [];
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i), these = [];
        if (cell.type === "code") {
            for (let j = 0; j < cell.outputs.length; j++) {
                const output = cell.outputs.get(j).toJSON();
                if (Array.isArray(output.text)) output.text = output.text.join("");
                these.push(output);
            }
        }
        outputs.push(these);
    }
    return outputs;
}"""


def run_all(page) -> dict:
    """Run > Run All Cells, as a student would; wait until every code cell ran (fail at the first error)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    deadline = time.monotonic() + RUN_ALL_TIMEOUT_S
    while True:
        state = page.evaluate(NOTEBOOK_STATE_JS)
        assert not state["errors"], f"a cell raised in the browser: {state['errors']}"
        if state["running"] == 0 and state["executed"] == state["code"] and state["lastExecuted"]:
            break
        assert time.monotonic() < deadline, f"Run All did not finish in {RUN_ALL_TIMEOUT_S} s: {state}"
        time.sleep(1)
    wait_for_kernel_idle(page)
    return state


def assert_widgets_rendered(page) -> None:
    """No output area shows a widget as text (cell sources are not looked at: they name the widgets)."""
    shown = "\n".join(page.locator(".jp-NotebookPanel .jp-OutputArea").all_inner_texts())
    left = [marker for marker in NOT_RENDERED if marker in shown]
    assert not left, f"widgets not rendered, the page shows {left} in an output"


def changed_share(before: bytes, after: bytes) -> float:
    """Share of pixels that differ by more than 16 levels in some channel between two PNG screenshots."""
    import io

    from PIL import Image, ImageChops

    first, second = (Image.open(io.BytesIO(png)).convert("RGB") for png in (before, after))
    if first.size != second.size:
        return 1.0
    difference = ImageChops.difference(first, second).convert("L").point(lambda level: 255 if level > 16 else 0)
    return difference.histogram()[255] / (first.size[0] * first.size[1])


def control_value(control) -> str:
    select = control.locator("select")
    if select.count():
        return select.input_value()
    return control.locator(".widget-readout").inner_text()


def move(page, control) -> None:
    """Move one control the way a user would: pick the next option of a dropdown, drag a slider's handle."""
    select = control.locator("select")
    if select.count():
        options = select.locator("option").evaluate_all("options => options.map(option => option.value)")
        current = select.input_value()
        select.select_option(options[(options.index(current) + 1) % len(options)])
        return
    handle, track = control.locator(".noUi-handle"), control.locator(".noUi-base")
    handle_box, track_box = handle.bounding_box(), track.bounding_box()
    # notebook 09's slider once had a long description that left its track 0 px wide
    assert track_box["width"] >= MIN_TRACK_PX, (
        f"the slider's track is {track_box['width']:.0f} px wide: too short for anyone to move it")
    x, y = handle_box["x"] + handle_box["width"] / 2, handle_box["y"] + handle_box["height"] / 2
    position = (x - track_box["x"]) / track_box["width"]
    target = 0.25 if position > 0.5 else 0.75  # a long way from where it is
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(track_box["x"] + target * track_box["width"], y, steps=8)
    page.mouse.up()


def exercise_widget(page, widget, label: str, redraw_timeout_s: float = REDRAW_TIMEOUT_S) -> list[float]:
    """Move every control of ``widget`` in turn; each move must redraw its figure. Returns the changed shares."""
    widget.scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    figure = widget.locator(".vaecourse-output img")
    figure.wait_for(state="visible")
    widget.screenshot(path=STEPS / f"{label}.0-start.png")
    controls = widget.locator(".vaecourse-control")
    assert controls.count() >= 1, f"{label}: no control found"
    shares = []
    for i in range(controls.count()):
        control = controls.nth(i)
        source, value, before = figure.get_attribute("src"), control_value(control), figure.screenshot()
        move(page, control)
        page.mouse.move(0, 0)  # no hover styling in the screenshots
        assert control_value(control) != value, f"{label}: control {i} did not move (still {value})"
        try:
            # the Output widget puts a new <img> in place of the old one: look it up each time
            page.wait_for_function(
                """([widget, before]) => { const img = widget.querySelector(".vaecourse-output img");
                                          return img && img.src !== before && img.complete && img.naturalWidth > 0; }""",
                arg=[widget.element_handle(), source], timeout=redraw_timeout_s * 1000)
        except Exception as error:  # Playwright's TimeoutError
            raise AssertionError(f"{label}: control {i} moved from {value} to {control_value(control)}, "
                                 f"but the figure was not redrawn within {redraw_timeout_s} s") from error
        wait_for_kernel_idle(page)
        after = figure.screenshot()
        shares.append(changed_share(before, after))
        assert shares[-1] >= CHANGED_PIXELS_MIN, (
            f"{label}: control {i} moved and the figure was replaced, but only {shares[-1]:.2%} of its pixels changed")
        value = re.sub(r"[^\w.-]+", "_", control_value(control).replace("\N{MINUS SIGN}", "-"))
        widget.screenshot(path=STEPS / f"{label}.{i + 1}-{value}.png")
    return shares


# ---------------------------------------------------------------------------------------- tests
def test_every_widget_notebook_is_covered():
    uses_widgets = sorted(path.stem for path in (ROOT / "notebooks").glob("*.py") if "vc.widgets." in path.read_text())
    assert uses_widgets == WIDGET_NOTEBOOKS


@pytest.mark.browser
def test_negative_control_fails_without_callbacks(watched, lab):
    """Every widget redraws when its controls move; the same widget without its callbacks must fail the check."""
    page = watched.page
    page.goto(lab.page_url("negative_control.ipynb"))
    wait_for_kernel_idle(page)
    run_all(page)
    assert_widgets_rendered(page)
    working = page.locator(".vaecourse-widget:not(.without-callbacks)")
    broken = page.locator(".vaecourse-widget.without-callbacks")
    assert working.count() == broken.count() == 3
    for i in range(3):
        exercise_widget(page, working.nth(i), f"negative-control.working-{i}")
        with pytest.raises(AssertionError, match="was not redrawn"):
            exercise_widget(page, broken.nth(i), f"negative-control.without-callbacks-{i}", redraw_timeout_s=3)


def test_readme_shows_every_widget():
    """The course map has one committed picture per widget notebook (copied from a browser test run)."""
    readme = (ROOT / "README.md").read_text()
    shown = re.findall(r"!\[[^]]*\]\((docs/images/\d\d_[^)]+)\)", readme)  # (the notebooks' pictures, not the site's)
    assert shown == [f"docs/images/{notebook}.png" for notebook in WIDGET_NOTEBOOKS]
    for picture in shown:
        assert (ROOT / picture).read_bytes().startswith(b"\x89PNG"), f"{picture} is missing or not a PNG"


@pytest.mark.browser
def test_course_map(watched, lab):
    """The course map renders in JupyterLab with a link to every widget notebook and its picture loaded."""
    page = watched.page
    page.goto(lab.page_url("README.md"))
    course_map = page.locator(".jp-RenderedMarkdown")
    course_map.locator("h2", has_text="Course map").wait_for(state="visible")
    page.screenshot(path=SCREENSHOTS / "course-map.png")
    for notebook in WIDGET_NOTEBOOKS:
        assert course_map.locator(f'a[href*="notebooks/{notebook}.ipynb"]').count() >= 1, f"no link to {notebook}"
        picture = course_map.locator(f'img[src*="docs/images/{notebook}.png"]')
        assert picture.count() == 1, f"no picture of {notebook}'s widget"
        picture.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
    page.screenshot(path=SCREENSHOTS / "course-map.widgets.png")


@pytest.mark.browser
@pytest.mark.parametrize("notebook", WIDGET_NOTEBOOKS)
def test_widget_notebook(watched, lab, notebook):
    page = watched.page
    open_from_course_map(page, lab, notebook)
    started = time.monotonic()
    state = run_all(page)
    ran_s = time.monotonic() - started
    # nbval's check, on this run (conftest.py leaves the notebook out of nbval when this test runs)
    stored = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4)
    differences = checked_output_differences(stored, page.evaluate(CELL_OUTPUTS_JS))
    assert not differences, f"{notebook}: checked outputs differ from the stored ones:\n" + "\n".join(differences)
    assert_widgets_rendered(page)
    widgets = page.locator(".vaecourse-widget")
    assert widgets.count() == 1, f"expected one vaecourse widget, found {widgets.count()}"
    shares = exercise_widget(page, widgets.first, notebook)
    widgets.first.screenshot(path=PICTURES / f"{notebook}.png")
    with (SCREENSHOTS / "summary.txt").open("a") as summary:
        summary.write(f"{notebook}: {state['code']} code cells ran in {ran_s:.1f} s, their checked outputs as "
                      f"stored; figure pixels changed per "
                      f"control: {', '.join(f'{share:.1%}' for share in shares)}\n")
