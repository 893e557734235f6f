"""The course website (docs/site/build.py): built offline from the stored notebooks, then read in a real browser.

The module builds the site once, into a temporary folder, exactly as ``uv run python docs/site/build.py`` does
(Sphinx warnings are errors). Without npm's MathJax (``npm ci --prefix docs/site``) the tests skip with that
command (under CI=true they fail).

In headless Chromium (the browser tests' rule, tests/system_tools.py), served from a local port, every page is
visited once: no console error and no failed request; every internal link leads to a page or file that exists;
every image loads and has alt text that says something (not a file name); no TeX is left unrendered (MathJax,
served by the site itself, typesets every equation); the site's search finds notebook 05 for a phrase of its
own; and no page shows a line of a model solution or of a hidden test (lines of solutions/ that appear nowhere
in the public notebooks and documents). Each checker has a negative control on a made-up page. The home page and
notebook 02's page are photographed into browser-screenshots/site/ (git-ignored, as the other browser tests'
pictures); docs/images/site_home.png and site_02_vae_generation.png are copies of them.

The build check runs in the README's command; the browser's visit of every page and the search are marked
``extended`` (tests/conftest.py): about 30 s of one worker that the command's 10-minute budget has no room for
(benchmarks/suite.md), so the README's command skips them with that reason and ``.ci/run`` runs them
(``uv run pytest --extended -m extended``).
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import sys
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

from system_tools import missing, require_chromium

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "docs" / "site"))
import build as site_build  # noqa: E402  (docs/site/build.py)

PICTURES = {"README.html": "site_home.png", "notebooks/02_vae_generation.html": "site_02_vae_generation.png"}
# Where they go: the browser tests' git-ignored folder (tests/test_browser.py); docs/images/ holds committed copies.
SHOTS = REPO / "browser-screenshots" / "site"
SEARCH_TERM, SEARCH_PAGE = "importance weighted", "notebooks/05_elbo_numerical_checks.html"
UNRENDERED_TEX = re.compile(r"\$\$|\\begin\{|\\frac\{|\\mathbb\{")
FILE_NAME_ALT = re.compile(r"^[\w./-]*\.(png|jpe?g|svg|gif)$|^[0-9a-f]{16,}", re.I)
MIN_SECRET_LINE = 24  # shorter lines (`return x`, `import torch`) are everyone's


# ----------------------------------------------------------------------------------------------- the checkers
def bad_alt_texts(images: list[tuple[str | None, int, str]]) -> list[str]:
    """Images (alt, natural width, src) that did not load or whose alt text says nothing."""
    problems = []
    for alt, width, src in images:
        if not width:
            problems.append(f"{src}: did not load")
        if not alt or not alt.strip() or FILE_NAME_ALT.search(alt.strip()):
            problems.append(f"{src}: alt text {alt!r}")
    return problems


def secret_lines() -> set[str]:
    """Lines of the model solutions and hidden tests that appear in no public notebook or document of the course."""
    public = set()
    for pattern in site_build.PAGES:
        for path in REPO.glob(pattern):
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".ipynb":
                text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
            public.update(line.strip() for line in text.splitlines())
    secret = set()
    for path in REPO.glob("solutions/*/*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            inside = False
            for line in "".join(cell["source"]).splitlines():
                marker = line.strip()
                if marker.startswith("### BEGIN SOLUTION") or marker.startswith("### BEGIN HIDDEN TESTS"):
                    inside = True
                elif marker.startswith("### END SOLUTION") or marker.startswith("### END HIDDEN TESTS"):
                    inside = False
                elif inside and len(marker) >= MIN_SECRET_LINE and marker not in public:
                    secret.add(marker)
    return secret


def leaked(page_text: str, secrets: set[str]) -> list[str]:
    return sorted({line.strip() for line in page_text.splitlines()} & secrets)


def test_checkers_catch_what_they_look_for():
    """Negative controls of the checks below, on made-up pages."""
    assert bad_alt_texts([("../_images/3f2a9c0d1e2b4a5c.png", 480, "x.png")])  # MyST-NB's default: the file name
    assert bad_alt_texts([("", 480, "x.png")]) and bad_alt_texts([("A plot", 0, "x.png")])
    assert not bad_alt_texts([("Training loss against epoch for three seeds", 480, "x.png")])
    secrets = secret_lines()
    assert len(secrets) > 50, f"only {len(secrets)} solution lines to look for: the leak check would prove little"
    one = sorted(secrets)[0]
    assert leaked(f"<p>intro</p>\n    {one}\n", secrets) == [one]
    assert UNRENDERED_TEX.search(r"$$\frac{a}{b}$$")


# ----------------------------------------------------------------------------------------------- the site
@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built once into a temporary folder; (folder, seconds)."""
    import importlib.util

    if importlib.util.find_spec("myst_nb") is None or importlib.util.find_spec("sphinx_book_theme") is None:
        missing("the website's builder (Sphinx, MyST-NB, sphinx-book-theme) is not installed",
                "install the dev group: `uv sync` (the README's first command does)")
    folder = tmp_path_factory.mktemp("site")
    try:
        seconds = site_build.build(folder / "src", folder / "html")
    except site_build.MathJaxMissing as error:
        missing(f"the website's build needs MathJax: {error}", "install it from npm: `npm ci --prefix docs/site`")
    return folder / "html", seconds


def test_site_builds_with_every_page(site):
    html, seconds = site
    pages = {p.relative_to(html).as_posix() for p in html.rglob("*.html")}
    expected = {f"notebooks/{p.stem}.html" for p in (REPO / "notebooks").glob("*.ipynb")}
    expected |= {f"exercises/{p.parent.name}/{p.stem}.html" for p in (REPO / "exercises").glob("*/*.ipynb")}
    expected |= {"README.html", "INSTRUCTORS.html", "docs/design.html"}
    assert expected <= pages, f"pages missing from the site: {sorted(expected - pages)}"
    assert not any(p.startswith("solutions/") for p in pages), "the site carries solutions/"
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    print(f"[site] built {len(pages)} pages in {seconds:.1f} s")


@pytest.fixture(scope="module")
def served(site):
    html, _ = site
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", html
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def chromium_page(served):
    from playwright.sync_api import sync_playwright

    from test_browser import CHROMIUM_FLAGS

    path = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        yield page
        browser.close()


@pytest.mark.browser
@pytest.mark.extended  # about 30 s of one worker: over the README command's budget (benchmarks/suite.md)
def test_every_page_in_a_browser(served, chromium_page):
    base, html = served
    page = chromium_page
    secrets = secret_lines()
    problems: list[str] = []
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    page.on("response", lambda response: errors.append(f"{response.status}: {response.url}")
            if response.status >= 400 else None)
    to_visit, seen = ["README.html"], set()
    while to_visit:
        path = to_visit.pop()
        if path in seen:
            continue
        seen.add(path)
        errors.clear()
        page.goto(urljoin(base, path))
        page.wait_for_load_state("networkidle")
        if page.evaluate("() => document.querySelector('.math') !== null"):
            page.wait_for_function("() => document.querySelectorAll('.math mjx-container').length"
                                   " === document.querySelectorAll('.math').length", timeout=30_000)
        text = page.evaluate("() => document.body.innerText")
        problems += [f"{path}: {e}" for e in errors if "theme mode" not in e]
        problems += [f"{path}: {p}" for p in bad_alt_texts(page.evaluate(
            "() => Array.from(document.images).map(i => [i.getAttribute('alt'), i.naturalWidth, i.getAttribute('src')])"))]
        if UNRENDERED_TEX.search(text):
            problems.append(f"{path}: TeX left as text: {UNRENDERED_TEX.search(text).group(0)!r}")
        problems += [f"{path}: shows a solution or hidden-test line: {line}" for line in leaked(text, secrets)]
        for href in page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"):
            target = urlparse(urljoin(urljoin(base, path), href))
            if target.netloc != urlparse(base).netloc:
                continue  # another site (the README's links to uv, papers): not the site's to check
            relative = target.path.lstrip("/")
            if not (html / relative).is_file() and not (html / relative / "index.html").is_file():
                problems.append(f"{path}: link to {href}, which is not in the site")
            elif relative.endswith(".html"):
                to_visit.append(relative)
        if path.startswith(("notebooks/", "exercises/")):  # what every notebook's page says besides the notebook
            for needed in ("Run time", "Run it yourself", "uv run jupyter lab"):
                if needed not in text:
                    problems.append(f"{path}: does not say {needed!r}")
        if path.startswith("notebooks/"):
            links = page.evaluate("() => Array.from(document.querySelectorAll('a[href*=\"exercises/\"]')).length")
            if not links:
                problems.append(f"{path}: no link to its exercise")
            stem = Path(path).stem
            if (REPO / "docs" / "images" / f"{stem}.png").exists():  # a widget notebook: its widget as its picture
                shown = page.evaluate(f"() => Array.from(document.images).some(i => i.src.endsWith('/{stem}.png'))")
                if not shown or "run the notebook in JupyterLab to move its controls" not in text:
                    problems.append(f"{path}: its widget is not shown as its picture with how to run it")
        if path in PICTURES:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / PICTURES[path]))
    assert len(seen) >= 25, f"only {len(seen)} pages reached from the home page"
    assert not problems, "\n".join(problems[:40])


@pytest.mark.browser
@pytest.mark.extended
def test_search_finds_notebook_05(served, chromium_page):
    base, _ = served
    chromium_page.goto(urljoin(base, f"search.html?q={SEARCH_TERM.replace(' ', '+')}"))
    chromium_page.wait_for_selector("#search-results a", timeout=30_000)
    found = chromium_page.evaluate("() => Array.from(document.querySelectorAll('#search-results a'))"
                                   ".map(a => a.getAttribute('href'))")
    assert any(SEARCH_PAGE.split("/")[-1].replace(".html", "") in href for href in found), found
