"""What the suite needs from outside the lockfile, found in a fixed order, and what happens without it.

Everything the tests need installs from ``uv.lock`` except a browser for the browser tests. A
component that is missing makes the tests that need it **skip**, with one reason that names the
command that installs it, on a student's or instructor's machine; under ``CI=true`` it makes them
**fail** instead, so that a CI run never passes with tests quietly left out.

Finding Chromium (:func:`find_chromium`), in this order:

1. ``$VAECOURSE_CHROMIUM``, an explicit path; one that is not an executable file fails loudly (a
   typo must not fall back to another browser);
2. a system Chromium or Chrome on ``PATH`` (``chromium``, ``chromium-browser``, ``google-chrome``,
   ``google-chrome-stable``: Debian's ``chromium`` package installs ``/usr/bin/chromium``);
3. the Chromium that Playwright manages, if ``playwright install chromium`` has put one in its cache.

Playwright's own browser download never runs from the tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ENV_VAR = "VAECOURSE_CHROMIUM"
SYSTEM_CHROMIUM = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_CHROMIUM = ("install a browser: `sudo apt-get install chromium` (Debian, Ubuntu), or "
                    "`uv run playwright install chromium` where downloads are possible, or point "
                    f"{CHROMIUM_ENV_VAR} at a Chromium or Chrome binary")


def running_in_ci() -> bool:
    """``CI=true`` (GitHub Actions, GitLab CI and ``.ci/run`` set it): missing components fail instead of skipping."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing(problem: str, how_to_get_it: str) -> None:
    """Skip (or, under ``CI=true``, fail) the tests that need what is missing, saying how to get it."""
    message = f"{problem}; {how_to_get_it}"
    if running_in_ci():
        pytest.fail(f"CI=true, so this fails instead of being skipped: {message}", pytrace=False)
    pytest.skip(message)


def _executable(path: str | os.PathLike | None) -> str | None:
    return str(path) if path and Path(path).is_file() and os.access(path, os.X_OK) else None


def playwright_chromium() -> str | None:
    """The Chromium of Playwright's browser cache, if one was installed there (nothing is downloaded)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # the maintainers' dependency group was not installed
        return None
    try:
        with sync_playwright() as playwright:
            return _executable(playwright.chromium.executable_path)
    except Exception:  # noqa: BLE001 - a broken Playwright driver means: no managed browser here
        return None


def find_chromium() -> tuple[str | None, str]:
    """``(path, where it came from)``, or ``(None, what was looked at)`` when there is no browser."""
    wanted = os.environ.get(CHROMIUM_ENV_VAR)
    if wanted:
        found = _executable(wanted)
        if found is None:
            pytest.fail(f"{CHROMIUM_ENV_VAR}={wanted} is not an executable file; fix or unset it", pytrace=False)
        return found, f"${CHROMIUM_ENV_VAR}"
    for name in SYSTEM_CHROMIUM:
        found = shutil.which(name)
        if found:
            return found, f"the system's {name}"
    found = playwright_chromium()
    if found:
        return found, "Playwright's browser cache"
    return None, f"looked for ${CHROMIUM_ENV_VAR}, {', '.join(SYSTEM_CHROMIUM)} on PATH and Playwright's browser cache"


def require_chromium() -> str:
    """The browser for the browser tests, or skip them (fail under ``CI=true``) with the reason and the fix."""
    path, where = find_chromium()
    if path is None:
        missing(f"browser tests need Chromium or Chrome, and none was found ({where})", INSTALL_CHROMIUM)
    return path
