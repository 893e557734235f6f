"""pyproject.toml (uv) and environment.yml (conda) must list the same packages and lower bounds."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PYPI = {"pytorch": "torch", "playwright-python": "playwright"}  # conda-forge's names where they differ from PyPI's
NOT_PACKAGES = {"python", "pip"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = project["project"]["dependencies"] + project["dependency-groups"]["dev"]
    return dict(_split(r) for r in requirements)


def conda_requirements() -> dict[str, str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):  # the pip: section installs the course package itself
            assert entry.keys() == {"pip"} and any("-e ." in line for line in entry["pip"])
            continue
        name, spec = _split(entry)
        if name not in NOT_PACKAGES:
            found[CONDA_TO_PYPI.get(name, name)] = spec
    return found


def test_requirements_parse_to_the_expected_packages():
    names = set(pyproject_requirements())
    assert {"torch", "torchvision", "matplotlib", "ipywidgets", "jupyterlab", "nbval", "nbgrader", "jupytext",
            "scikit-learn", "mlxtend", "tqdm", "pytest"} <= names


def test_conda_environment_matches_pyproject():
    pypi, conda = pyproject_requirements(), conda_requirements()
    missing_in_conda = sorted(set(pypi) - set(conda))
    extra_in_conda = sorted(set(conda) - set(pypi))
    assert not missing_in_conda and not extra_in_conda, (
        f"environment.yml lacks {missing_in_conda} and has extra {extra_in_conda} compared with pyproject.toml")
    different = {name: (pypi[name], conda[name]) for name in pypi if pypi[name] != conda[name]}
    assert not different, f"version bounds differ (pyproject, environment.yml): {different}"


def test_the_lock_file_is_committed_next_to_pyproject():
    lock = (ROOT / "uv.lock").read_text()
    assert 'name = "torch"' in lock and 'name = "torchvision"' in lock
