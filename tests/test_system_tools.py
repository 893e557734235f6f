"""How the suite finds a browser, and what it does without one (tests/system_tools.py).

Fake browsers (empty executable files) stand in for real ones: the order is
$VAECOURSE_CHROMIUM, then the system's Chromium or Chrome on PATH, then Playwright's browser cache;
with none, the browser tests skip with the install command, and fail under CI=true.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import system_tools
from _pytest.outcomes import Failed, Skipped


def _fake_executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def bare_machine(tmp_path, monkeypatch):
    """No browser anywhere: an empty PATH folder, an empty Playwright cache, no CI, no $VAECOURSE_CHROMIUM."""
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "ms-playwright"))
    monkeypatch.delenv(system_tools.CHROMIUM_ENV_VAR, raising=False)
    monkeypatch.delenv("CI", raising=False)
    return tmp_path


def _playwright_path() -> Path:
    """Where Playwright would keep its Chromium under the current PLAYWRIGHT_BROWSERS_PATH (nothing downloaded)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        return Path(playwright.chromium.executable_path)


def test_no_browser_skips_with_the_install_command(bare_machine):
    assert system_tools.find_chromium()[0] is None
    with pytest.raises(Skipped) as skipped:
        system_tools.require_chromium()
    assert "sudo apt-get install chromium" in str(skipped.value) and "playwright install chromium" in str(skipped.value)


@pytest.mark.parametrize("ci", ["true", "True", "1"])
def test_no_browser_fails_under_ci(bare_machine, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(Failed, match="CI=true, so this fails instead of being skipped"):
        system_tools.require_chromium()


def test_ci_false_still_skips(bare_machine, monkeypatch):
    monkeypatch.setenv("CI", "false")
    with pytest.raises(Skipped):
        system_tools.require_chromium()


def test_playwrights_browser_is_the_last_resort(bare_machine):
    managed = _fake_executable(_playwright_path())
    assert managed.is_relative_to(bare_machine / "ms-playwright")
    assert system_tools.find_chromium() == (str(managed), "Playwright's browser cache")
    system_on_path = _fake_executable(bare_machine / "bin" / "chromium")
    assert system_tools.find_chromium() == (str(system_on_path), "the system's chromium")


def test_the_explicit_setting_comes_first(bare_machine, monkeypatch):
    _fake_executable(bare_machine / "bin" / "chromium")
    chosen = _fake_executable(bare_machine / "my" / "chrome")
    monkeypatch.setenv(system_tools.CHROMIUM_ENV_VAR, str(chosen))
    assert system_tools.require_chromium() == str(chosen)


@pytest.mark.parametrize("wrong", ["missing", "not-executable"])
def test_a_wrong_explicit_setting_fails_loudly(bare_machine, monkeypatch, wrong):
    """A typo in $VAECOURSE_CHROMIUM fails, even off CI, instead of falling back to another browser."""
    _fake_executable(bare_machine / "bin" / "chromium")
    target = bare_machine / "chrome"
    if wrong == "not-executable":
        target.write_text("")
        os.chmod(target, 0o644)
    monkeypatch.setenv(system_tools.CHROMIUM_ENV_VAR, str(target))
    with pytest.raises(Failed, match="is not an executable file"):
        system_tools.require_chromium()
