"""tests/conftest.py: each widget notebook runs exactly once, and the longest files are handed out first."""

from __future__ import annotations

from types import SimpleNamespace

import conftest
import pytest


class FakeItem:
    def __init__(self, nodeid: str, notebook: str | None = None, extended: bool = False):
        self.nodeid = nodeid
        self.extended, self.added = extended, []
        if notebook:
            self.callspec = SimpleNamespace(params={"notebook": notebook})

    def get_closest_marker(self, name: str):
        return pytest.mark.extended.mark if name == "extended" and self.extended else None

    def add_marker(self, marker) -> None:
        self.added.append(marker.mark)

    def __repr__(self):
        return self.nodeid


def _items(browser_tests: bool = True) -> list[FakeItem]:
    items = [FakeItem(f"notebooks/{name}.ipynb::Cell {cell}") for name in ("01_ae_sampling_failure", "04_maximum_likelihood")
             for cell in range(3)]
    items += [FakeItem("tests/test_train.py::test_fit")]
    if browser_tests:
        items += [FakeItem("tests/test_browser.py::test_widget_notebook[01_ae_sampling_failure]", "01_ae_sampling_failure")]
    return items


@pytest.fixture
def config():
    deselected = []
    return SimpleNamespace(hook=SimpleNamespace(pytest_deselected=lambda items: deselected.extend(items)),
                           deselected=deselected, getoption=lambda name: False)


def test_with_a_browser_the_widget_notebook_runs_only_in_the_browser_test(monkeypatch, config):
    monkeypatch.setattr(conftest, "_browser_found", lambda: True)
    items = _items()
    conftest._run_once(items, config)
    assert [item.nodeid for item in config.deselected] == [f"notebooks/01_ae_sampling_failure.ipynb::Cell {c}" for c in range(3)]
    assert not any(item.nodeid.startswith("notebooks/01_") for item in items)
    assert sum(item.nodeid.startswith("notebooks/04_") for item in items) == 3  # no widget: nbval runs it


@pytest.mark.parametrize("why", ["no browser", "browser tests deselected"])
def test_otherwise_nbval_runs_it(monkeypatch, config, why):
    """Negative controls: when the browser test will not run the notebook, nbval must."""
    monkeypatch.setattr(conftest, "_browser_found", lambda: why != "no browser")
    items = _items(browser_tests=why != "browser tests deselected")
    before = list(items)
    conftest._run_once(items, config)
    assert items == before and config.deselected == []


def test_longest_files_first_and_each_file_in_order(monkeypatch, config):
    monkeypatch.setattr(conftest, "_browser_found", lambda: False)
    items = [FakeItem("tests/test_train.py::a"), FakeItem("notebooks/04_maximum_likelihood.ipynb::Cell 0"),
             FakeItem("tests/test_grading.py::x"), FakeItem("notebooks/04_maximum_likelihood.ipynb::Cell 1"),
             FakeItem("tests/test_train.py::b")]
    conftest.pytest_collection_modifyitems(config, items)
    files = [item.nodeid.split("::")[0] for item in items]
    assert files[0] == "tests/test_grading.py" and files[-2:] == ["tests/test_train.py"] * 2
    assert [item.nodeid for item in items if "04_" in item.nodeid] == [
        "notebooks/04_maximum_likelihood.ipynb::Cell 0", "notebooks/04_maximum_likelihood.ipynb::Cell 1"]


def test_work_units_keep_files_and_notebooks_whole_and_split_the_browser_tests():
    assert conftest.work_unit("notebooks/04_maximum_likelihood.ipynb::Cell 3") == "notebooks/04_maximum_likelihood.ipynb"
    assert conftest.work_unit("tests/test_grading.py::test_x[q1_autoencoders]") == "tests/test_grading.py"
    first = {conftest.work_unit(f"tests/test_browser.py::test_widget_notebook[{name}]")
             for name in ("01_ae_sampling_failure", "02_vae_generation", "03_noise_injection")}
    first.add(conftest.work_unit("tests/test_browser.py::test_course_map"))
    second = {conftest.work_unit(f"tests/test_browser.py::test_widget_notebook[{name}]")
              for name in conftest.SECOND_BROWSER_UNIT}
    assert first == {"tests/test_browser.py"} and len(second) == 1 and second != first


def test_extended_tests_skip_with_the_reason_unless_asked_for():
    """`extended` tests skip in the README's command, saying where they run; with --extended nothing is skipped."""
    def items():
        marked = [FakeItem("tests/test_site.py::test_long", extended=True), FakeItem("tests/test_site.py::test_short")]
        return marked, {item.nodeid: item for item in marked}

    for asked in (False, True):
        marked, by_id = items()
        conftest._skip_extended(marked, SimpleNamespace(getoption=lambda name: asked and name == "--extended"))
        skips = {nodeid: [m.kwargs["reason"] for m in item.added if m.name == "skip"] for nodeid, item in by_id.items()}
        assert skips["tests/test_site.py::test_short"] == []
        if asked:
            assert skips["tests/test_site.py::test_long"] == []
        else:
            assert len(skips["tests/test_site.py::test_long"]) == 1
            assert "runs in CI (.ci/run)" in skips["tests/test_site.py::test_long"][0]
