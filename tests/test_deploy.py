"""The class-scale deployment on paper (deploy/z2jh/): the Zero to JupyterHub configuration, checked offline.

Helm checks a release's values against the chart's ``values.schema.yaml`` (a JSON Schema written as YAML) after
merging them over the chart's default ``values.yaml``. These tests do the same with the ``jsonschema`` package, on
a copy of the two files: the schema's path comes from ``$VAECOURSE_Z2JH_SCHEMA`` (default: ``shared/z2jh/`` beside
the repository, where the course's CI machines keep a copy), and ``values.yaml`` is read from the same folder.
Without a copy the tests skip, saying so (under ``CI=true`` they fail). Each check has a negative control: a
misspelt key, a wrong type and a value outside an enumeration must each fail the same validation.

The one-machine hub (deploy/hub/) on paper: its configuration is a production one (PAM logins, one process per Unix
user, the course environment), and the hub test's configuration (tests/hub_test_config.py) changes only the
logins, the spawner, ports and the test's token. (tests/test_hub.py runs it.)
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pytest
import yaml

from system_tools import missing

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "deploy" / "z2jh" / "config.yaml"
DEFAULT_SCHEMA = REPO.parent / "shared" / "z2jh" / "values.schema.yaml"


def _schema_path() -> Path:
    return Path(os.environ.get("VAECOURSE_Z2JH_SCHEMA") or DEFAULT_SCHEMA)


@pytest.fixture(scope="module")
def chart():
    """(schema, default values) of the Zero to JupyterHub chart, from the copy the setting names."""
    schema_path = _schema_path()
    defaults_path = schema_path.with_name("values.yaml")
    if not schema_path.is_file() or not defaults_path.is_file():
        missing(f"no copy of the Zero to JupyterHub chart's values.schema.yaml and values.yaml at {schema_path.parent}",
                "set VAECOURSE_Z2JH_SCHEMA to the schema's path (values.yaml beside it), copied from "
                "jupyterhub/zero-to-jupyterhub-k8s, jupyterhub/values.schema.yaml and jupyterhub/values.yaml")
    return (yaml.safe_load(schema_path.read_text(encoding="utf-8")),
            yaml.safe_load(defaults_path.read_text(encoding="utf-8")))


def helm_merge(defaults: dict, values: dict) -> dict:
    """Helm's merge of user values over a chart's defaults: maps merge key by key, anything else replaces, and a
    null removes the default."""
    merged = copy.deepcopy(defaults)
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def schema_errors(chart, values: dict) -> list[str]:
    import jsonschema

    schema, defaults = chart
    validator = jsonschema.validators.validator_for(schema)(schema)
    return sorted(f"{'.'.join(map(str, error.absolute_path)) or '(top)'}: {error.message[:200]}"
                  for error in validator.iter_errors(helm_merge(defaults, values)))


def course_config() -> dict:
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


def test_helm_merge_merges_maps_and_replaces_the_rest():
    defaults = {"a": {"b": 1, "c": [1, 2]}, "d": 3, "e": {"f": 1}}
    assert helm_merge(defaults, {"a": {"c": [9]}, "d": None, "g": 4}) == {"a": {"b": 1, "c": [9]}, "e": {"f": 1}, "g": 4}
    assert defaults == {"a": {"b": 1, "c": [1, 2]}, "d": 3, "e": {"f": 1}}  # untouched


def test_chart_defaults_validate(chart):
    """The control of the validation itself: the chart's own defaults are valid."""
    assert schema_errors(chart, {}) == []


def test_course_config_validates_against_the_chart_schema(chart):
    assert schema_errors(chart, course_config()) == []


@pytest.mark.parametrize("change, says", [
    (lambda c: c["singleuser"]["memory"].update(limt="3G"), "Additional properties are not allowed ('limt'"),
    (lambda c: c["cull"].update(timeout="an hour"), "'an hour' is not of type"),
    (lambda c: c["hub"]["db"].update(type="postgresql"), "'postgresql' is not one of"),
    (lambda c: c["singleuser"]["extraFiles"]["nbgrader-config"].pop("mountPath"), "'mountPath' is a required property"),
], ids=["a misspelt key", "a wrong type", "a value outside an enumeration", "a required key missing"])
def test_a_broken_config_fails_the_same_validation(chart, change, says):
    """Negative controls: one mistake each, which helm would refuse."""
    config = course_config()
    change(config)
    errors = schema_errors(chart, config)
    assert any(says in error for error in errors), f"expected an error saying {says!r}, got {errors}"


def test_config_fits_the_course():
    """What the schema cannot know: the limits fit the notebooks, the exchange is where nbgrader looks, the code runs."""
    config = course_config()
    singleuser = config["singleuser"]
    # the largest peak memory of any notebook in the benchmark must fit the per-student limit
    peaks = [int(m.group(1)) for m in re.finditer(r"^\| `[^`]+` \|(?: [^|]+ \|){3} (\d+) \|",
                                                  (REPO / "benchmarks/results.md").read_text(encoding="utf-8"),
                                                  flags=re.M)]
    assert peaks, "no peak memory column found in benchmarks/results.md"
    limit_mib = int(singleuser["memory"]["limit"].rstrip("G")) * 1000**3 / 2**20
    guarantee_mib = int(singleuser["memory"]["guarantee"].rstrip("G")) * 1000**3 / 2**20
    assert max(peaks) < guarantee_mib <= limit_mib, f"peaks {max(peaks)} MiB, guarantee {guarantee_mib:.0f} MiB"
    nbgrader_config = singleuser["extraFiles"]["nbgrader-config"]["stringData"]
    compile(nbgrader_config, "nbgrader_config.py", "exec")
    exchange = re.search(r'c\.Exchange\.root = "([^"]+)"', nbgrader_config).group(1)
    assert exchange in [mount["mountPath"] for mount in singleuser["storage"]["extraVolumeMounts"]]
    compile(config["hub"]["extraConfig"]["vaecourse-roles"], "extraConfig", "exec")
    compile((REPO / "deploy" / "hub" / "jupyter_config" / "jupyter_server_config.py").read_text(encoding="utf-8"), "jsc.py", "exec")


# ------------------------------------------------------------------------ one machine (deploy/hub/), on paper
HUB_CONFIG = REPO / "deploy" / "hub" / "jupyterhub_config.py"
HUB_TEST_CONFIG = REPO / "tests" / "hub_test_config.py"
# What the hub test's configuration may change of deploy/hub/jupyterhub_config.py: logins, spawner, ports, the test
# driver's token; nothing of the exchange, the environment, the instructors' split or the hub's state.
TEST_ONLY_SETTINGS = {("JupyterHub", "authenticator_class"), ("DummyAuthenticator", "password"),
                      ("JupyterHub", "spawner_class"), ("SimpleLocalProcessSpawner", "home_dir_template"),
                      ("JupyterHub", "hub_bind_url"), ("ConfigurableHTTPProxy", "api_url"), ("Spawner", "start_timeout"),
                      ("Spawner", "http_timeout"), ("Spawner", "args"), ("Spawner", "environment"),
                      ("JupyterHub", "services"), ("JupyterHub", "load_roles")}


def _load_hub_config(path: Path, tmp_path: Path, monkeypatch) -> dict:
    """The settings a JupyterHub would read from ``path``, with the environment the hub test gives it."""
    from traitlets.config.loader import PyFileConfigLoader

    roster = tmp_path / "students.csv"
    roster.write_text("id,first_name,last_name,email\nada,,,\nben,,,\n", encoding="utf-8")
    for name, value in {"VAECOURSE_EXCHANGE": tmp_path / "exchange", "VAECOURSE_HUB_STATE": tmp_path / "state",
                        "VAECOURSE_INSTRUCTORS": "alice", "VAECOURSE_ROSTER": roster,
                        "VAECOURSE_TEST_HUB_PASSWORD": "pw", "VAECOURSE_TEST_HOMES": tmp_path / "homes",
                        "VAECOURSE_TEST_HUB_API_PORT": "1", "VAECOURSE_TEST_PROXY_API_PORT": "2",
                        "VAECOURSE_TEST_HUB_TOKEN": "t", "VAECOURSE_TEST_JUPYTER_CONFIG": tmp_path / "cfg"}.items():
        monkeypatch.setenv(name, str(value))
    config = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()

    def comparable(value):  # a hook is defined anew at each load: compare what it does, not the object
        return (value.__qualname__, value.__code__.co_code) if callable(value) else value

    return {(section, key): comparable(value) for section, values in config.items() for key, value in values.items()}


def test_hub_config_is_a_production_hub(tmp_path, monkeypatch):
    """deploy/hub: PAM logins for the roster and the instructors, every server from the course environment."""
    settings = _load_hub_config(HUB_CONFIG, tmp_path, monkeypatch)
    assert settings[("JupyterHub", "authenticator_class")] == "pam"
    assert ("JupyterHub", "spawner_class") not in settings  # JupyterHub's default: one process per Unix user
    assert settings[("Authenticator", "allowed_users")] == {"ada", "ben", "alice"}
    assert settings[("Authenticator", "admin_users")] == {"alice"}
    assert settings[("JupyterHub", "load_groups")] == {"instructors": {"users": ["alice"]}}
    server = Path(settings[("Spawner", "cmd")][0])
    assert server.is_file() and os.access(server, os.X_OK), f"every user's server would be {server}: not there"
    config_path = Path(settings[("Spawner", "environment")]["JUPYTER_CONFIG_PATH"])
    assert {p.name for p in config_path.iterdir()} >= {"nbgrader_config.py", "jupyter_server_config.py"}
    assert (tmp_path / "exchange").stat().st_mode & 0o7777 == 0o1777  # made as nbgrader's documentation asks


def test_hub_test_config_changes_only_logins_spawner_and_ports(tmp_path, monkeypatch):
    production = _load_hub_config(HUB_CONFIG, tmp_path, monkeypatch)
    tested = _load_hub_config(HUB_TEST_CONFIG, tmp_path, monkeypatch)
    changed = {key for key in production.keys() | tested.keys() if production.get(key) != tested.get(key)}
    assert changed <= TEST_ONLY_SETTINGS, f"the hub test changes more than it says: {sorted(changed - TEST_ONLY_SETTINGS)}"
    assert tested[("JupyterHub", "authenticator_class")] == "dummy"  # the control: the comparison sees a change
    # the servers' environment: the test only puts its own config folder first on Jupyter's config path
    environment = dict(tested[("Spawner", "environment")])
    first, _, rest = environment.pop("JUPYTER_CONFIG_PATH").partition(os.pathsep)
    assert first == str(tmp_path / "cfg") and rest == production[("Spawner", "environment")]["JUPYTER_CONFIG_PATH"]
    assert environment == {k: v for k, v in production[("Spawner", "environment")].items() if k != "JUPYTER_CONFIG_PATH"}
