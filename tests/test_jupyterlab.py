"""`uv run jupyter lab` serves the course and lands on the course map (README.md, rendered).

The landing page and the Markdown viewer come from files this project installs into the
environment (pyproject.toml, [tool.hatch.build.targets.wheel.shared-data]); this test starts a real
server on localhost and asks it.
"""

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from lab_server import LabServer

ROOT = Path(__file__).resolve().parent.parent


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    server = LabServer(ROOT, tmp_path_factory.mktemp("lab-home"))
    yield server.url, server.token
    left = server.stop()
    assert not left, f"processes left running after the server shut down: {left}"


def test_root_redirects_to_the_course_map(lab_server):
    base, token = lab_server
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(f"{base}/?token={token}", timeout=10)
    assert redirect.value.code == 302
    assert redirect.value.headers["Location"].split("?")[0].endswith("/lab/tree/README.md")


def test_the_course_map_and_notebooks_are_served(lab_server):
    base, token = lab_server
    # Asked for as a text file, as JupyterLab's Markdown viewer does (jupytext's contents manager
    # would otherwise hand a .md file over as a notebook).
    with urllib.request.urlopen(f"{base}/api/contents/README.md?type=file&format=text&token={token}", timeout=10) as response:
        readme = json.load(response)["content"]
    assert "## Course map" in readme
    with urllib.request.urlopen(f"{base}/lab/tree/README.md?token={token}", timeout=10) as response:
        assert response.status == 200
    with urllib.request.urlopen(f"{base}/api/contents/notebooks/00_setup_and_data.ipynb?content=0&token={token}",
                                timeout=10) as response:
        assert json.load(response)["type"] == "notebook"


def test_markdown_opens_rendered(lab_server):
    base, token = lab_server
    url = f"{base}/lab/api/settings/@jupyterlab/docmanager-extension:plugin?token={token}"
    with urllib.request.urlopen(url, timeout=10) as response:
        settings = json.load(response)
    viewers = settings["schema"]["properties"]["defaultViewers"]["default"]
    assert viewers.get("markdown") == "Markdown Preview"


def test_no_news_prompt(lab_server):
    """No "get notified about Jupyter news?" prompt on the course map, and no news fetched."""
    base, token = lab_server
    url = f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}"
    with urllib.request.urlopen(url, timeout=10) as response:
        defaults = json.load(response)["schema"]["properties"]
    assert defaults["fetchNews"]["default"] == "false"
    assert defaults["checkForUpdates"]["default"] is False


def test_no_news_or_update_checks():
    """The course runs offline: the installed config turns off JupyterLab's news feed and update check.

    (Asking the running server would not tell: offline, both answer "nothing new" either way.)
    """
    shown = subprocess.run([sys.executable, "-m", "jupyterlab", "--show-config-json"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120, check=True)
    lab_config = json.loads(shown.stdout)["LabApp"]
    assert lab_config["news_url"] is None
    assert lab_config["check_for_updates_class"] == "jupyterlab.NeverCheckForUpdate"
    assert lab_config["default_url"] == "/lab/tree/README.md"


def test_formgrader_is_served(lab_server):
    """INSTRUCTORS.md sends instructors to Nbgrader > Formgrader in this JupyterLab for manual grading."""
    base, token = lab_server
    with urllib.request.urlopen(f"{base}/formgrader/manage_assignments?token={token}", timeout=60) as response:
        page = response.read().decode(errors="replace")
    assert response.status == 200
    assert "Manual Grading" in page, page[:2000]
    # JupyterLab lists the prebuilt extensions it loads in the page config of /lab
    with urllib.request.urlopen(f"{base}/lab?token={token}", timeout=10) as response:
        lab_page = response.read().decode(errors="replace")
    assert '"@jupyter/nbgrader"' in lab_page, "nbgrader's JupyterLab extension (the Nbgrader menu) is not loaded"
