"""JupyterHub for the course on one machine: one Unix user per student, nbgrader's exchange, the course environment.

Start it as root from the course's root (deploy/hub/README.md):

    npm ci --prefix deploy/hub                                    # the proxy, once
    export VAECOURSE_INSTRUCTORS=alice VAECOURSE_ROSTER=students.csv
    uv run jupyterhub -f deploy/hub/jupyterhub_config.py

- Login: the machine's Unix accounts (JupyterHub's PAM authenticator). Who may log in: the roster's ``id``
  column (the same students.csv that ``nbgrader db student import`` reads) and ``$VAECOURSE_INSTRUCTORS``
  (comma-separated; they become hub admins and the ``instructors`` group).
- Each user's server is ``jupyterhub-singleuser`` of this environment (the one ``uv sync`` made from the
  lockfile), started as that user in their home (JupyterHub's local process spawner), with
  ``deploy/hub/jupyter_config`` on Jupyter's config path: nbgrader's exchange and course id for everyone,
  the formgrader and the course's gradebook for instructors only.
- nbgrader's exchange: ``$VAECOURSE_EXCHANGE`` (default ``/srv/nbgrader/exchange``, nbgrader's own), created
  world-writable with the sticky bit (``1777``) as nbgrader's documentation requires.
- The proxy is configurable-http-proxy from npm (deploy/hub/package.json, ``npm ci --prefix deploy/hub``), else
  the one on PATH.
- The hub's own state (its SQLite database, cookie secret, proxy token) lives in ``$VAECOURSE_HUB_STATE``
  (default ``/srv/jupyterhub``).

tests/test_hub.py starts this file under a test configuration (tests/hub_test_config.py) that swaps the
authenticator for JupyterHub's dummy one and the spawner for its simple local one, so that the test creates
no Unix users; everything else is this file.
"""

import os
import shutil
import stat
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (injected by traitlets when JupyterHub loads this file)

HERE = Path(__file__).resolve().parent
COURSE_ROOT = Path(os.environ.get("VAECOURSE_COURSE_ROOT", HERE.parent.parent))  # the instructors' course folder
ENV_BIN = Path(sys.executable).parent  # the course environment that runs the hub also runs every user's server

exchange = Path(os.environ.get("VAECOURSE_EXCHANGE", "/srv/nbgrader/exchange"))
state = Path(os.environ.get("VAECOURSE_HUB_STATE", "/srv/jupyterhub"))
instructors = sorted(filter(None, (name.strip() for name in os.environ.get("VAECOURSE_INSTRUCTORS", "").split(","))))


def read_roster(path: str) -> list[str]:
    """The student ids of nbgrader's roster file (a CSV with an ``id`` column)."""
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return [row["id"].strip() for row in csv.DictReader(handle) if row.get("id", "").strip()]


def prepare_exchange(root: Path) -> None:
    """nbgrader's exchange folder, world-writable with the sticky bit (students submit, only owners delete)."""
    root.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(root.stat().st_mode)
    if mode != 0o1777:
        root.chmod(0o1777)


prepare_exchange(exchange)
state.mkdir(parents=True, exist_ok=True)

# ----------------------------------------------------------------------------------------------------- the hub
c.JupyterHub.bind_url = os.environ.get("VAECOURSE_HUB_URL", "http://:8000")  # behind TLS termination in production
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")
local_proxy = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
c.ConfigurableHTTPProxy.command = [str(local_proxy) if local_proxy.exists()
                                   else shutil.which("configurable-http-proxy") or "configurable-http-proxy"]

# -------------------------------------------------------------------------------------- who logs in, who grades
c.JupyterHub.authenticator_class = "pam"  # the machine's Unix users: one per student
roster = os.environ.get("VAECOURSE_ROSTER")
c.Authenticator.allowed_users = set(read_roster(roster) if roster else []) | set(instructors)
c.Authenticator.admin_users = set(instructors)
c.JupyterHub.load_groups = {"instructors": {"users": instructors}}

# ------------------------------------------------------------------------------------------- every user's server
c.Spawner.cmd = [str(ENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {
    # nbgrader's exchange and course id (jupyter_config/nbgrader_config.py) and the instructor/student split of
    # nbgrader's tools (jupyter_config/jupyter_server_config.py)
    "JUPYTER_CONFIG_PATH": str(HERE / "jupyter_config"),
    "VAECOURSE_EXCHANGE": str(exchange),
    "VAECOURSE_COURSE_ROOT": str(COURSE_ROOT),
    # torch on one thread per student: a shared machine's cores are the class's (docs/design.md, section 7)
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
}


def mark_instructors(spawner) -> None:
    """Tell the server whether its user is an instructor (the formgrader and the gradebook are theirs alone)."""
    groups = {group.name for group in spawner.user.groups}
    spawner.environment["VAECOURSE_ROLE"] = "instructor" if "instructors" in groups else "student"


c.Spawner.pre_spawn_hook = mark_instructors
c.Spawner.mem_limit = None  # the local spawner cannot enforce limits; the Kubernetes one can (deploy/z2jh/)
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every user's server
