"""Dependencies say who needs them, the same way for uv (pyproject.toml) and conda (environment*.yml).

pyproject.toml: the package's dependencies are a student's; the "instructor" group adds nbgrader; the
"dev" group (maintainers, CI) adds the test tools. The conda files mirror the three lists one to one:
environment.yml (students), environment-instructor.yml, environment-dev.yml.
"""

import ast
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PYPI = {"pytorch": "torch", "playwright-python": "playwright"}  # conda-forge's names where they differ from PyPI's
NOT_PACKAGES = {"python", "pip"}
CONDA_FILES = {"student": "environment.yml", "instructor": "environment-instructor.yml", "dev": "environment-dev.yml"}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _split(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def pyproject_requirements(audience: str) -> dict[str, str]:
    """The requirements an audience adds: the package's own (student) or one group's, without included groups."""
    if audience == "student":
        listed = PYPROJECT["project"]["dependencies"]
    else:
        listed = [r for r in PYPROJECT["dependency-groups"][audience] if isinstance(r, str)]
    return dict(_split(r) for r in listed)


def conda_requirements(audience: str) -> dict[str, str]:
    environment = yaml.safe_load((ROOT / CONDA_FILES[audience]).read_text())
    assert environment["name"] == "vaecourse", f"{CONDA_FILES[audience]} must update the same environment"
    found = {}
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):  # the pip: section installs the course package itself
            assert audience == "student" and entry.keys() == {"pip"} and any("-e ." in line for line in entry["pip"])
            continue
        name, spec = _split(entry)
        if name not in NOT_PACKAGES:
            found[CONDA_TO_PYPI.get(name, name)] = spec
    return found


def _imported_modules(paths) -> set[str]:
    """Top-level module names imported anywhere in these Python files."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_each_audience_gets_what_it_needs():
    student, instructor, dev = (set(pyproject_requirements(a)) for a in ("student", "instructor", "dev"))
    assert {"torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "jupyterlab", "tqdm"} <= student
    assert not student & {"nbgrader", "nbval", "jupytext", "pytest", "playwright"}, "a student installs no grading or test tools"
    # grading, the guide's edit step (solution <-> .py twin), a gradebook on PostgreSQL and the hub for a class
    assert instructor == {"nbgrader", "jupytext", "psycopg2-binary", "jupyterhub"}
    assert {"nbval", "pytest", "pytest-xdist", "playwright"} <= dev
    assert {"include-group": "instructor"} in PYPROJECT["dependency-groups"]["dev"], "the grading tests need nbgrader"
    # The README's two commands set everything up: uv syncs these groups by default.
    assert set(PYPROJECT["tool"]["uv"]["default-groups"]) == {"instructor", "dev"}


# What the notebooks and the package import, as the module name -> the distribution that provides it.
MODULE_TO_DISTRIBUTION = {"sklearn": "scikit-learn", "torchvision": "torchvision", "torch": "torch", "numpy": "numpy",
                          "matplotlib": "matplotlib", "ipywidgets": "ipywidgets", "tqdm": "tqdm", "mlxtend": "mlxtend",
                          "scipy": "scipy"}
# Imported by the package but installed by jupyterlab (nbformat, IPython) or only used on the instructors' side
# (vaecourse/autograde.py runs inside nbgrader; vaecourse/sandbox.py is the grader's kernel manager, on jupyter_client;
# vaecourse/postgres.py serves a gradebook, with the instructor group's psycopg2).
PROVIDED_OTHERWISE = {"nbformat", "nbclient", "IPython", "matplotlib_inline", "traitlets", "nbgrader", "jupyter_client",
                      "psycopg2"}


def test_students_requirements_cover_what_the_notebooks_import():
    """Every third-party module a lecture notebook, a solution or the package imports is a student requirement."""
    import sys

    files = [*(ROOT / "notebooks").glob("*.py"), *(ROOT / "solutions").glob("*/*.py"), *(ROOT / "vaecourse").glob("*.py")]
    third_party = {name for name in _imported_modules(files)
                   if name not in sys.stdlib_module_names and name not in ("vaecourse", "__future__")}
    unknown = third_party - set(MODULE_TO_DISTRIBUTION) - PROVIDED_OTHERWISE
    assert not unknown, f"imported but not known to be installed for students: {sorted(unknown)}"
    needed = {MODULE_TO_DISTRIBUTION[name] for name in third_party if name in MODULE_TO_DISTRIBUTION}
    missing = needed - set(pyproject_requirements("student"))
    assert not missing, f"the notebooks import {sorted(missing)}, which a student's install lacks"


@pytest.mark.parametrize("audience", list(CONDA_FILES))
def test_conda_environment_matches_pyproject(audience):
    pypi, conda = pyproject_requirements(audience), conda_requirements(audience)
    missing_in_conda = sorted(set(pypi) - set(conda))
    extra_in_conda = sorted(set(conda) - set(pypi))
    assert not missing_in_conda and not extra_in_conda, (
        f"{CONDA_FILES[audience]} lacks {missing_in_conda} and has extra {extra_in_conda} compared with pyproject.toml")
    different = {name: (pypi[name], conda[name]) for name in pypi if pypi[name] != conda[name]}
    assert not different, f"version bounds differ (pyproject, {CONDA_FILES[audience]}): {different}"


def test_the_lock_file_is_committed_next_to_pyproject():
    lock = (ROOT / "uv.lock").read_text()
    assert 'name = "torch"' in lock and 'name = "torchvision"' in lock and 'name = "pytest-xdist"' in lock
