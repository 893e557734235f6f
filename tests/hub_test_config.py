"""The test configuration of the course's hub (tests/test_hub.py): deploy/hub/jupyterhub_config.py, with fake users.

Everything of deploy/hub/jupyterhub_config.py applies (read first, below); this file changes only what a test on
a developer's or CI machine must not do or cannot have:

- no Unix users: JupyterHub's dummy authenticator (one shared password, from the test) and its simple local
  spawner (every user's server runs as the test's own user, with a home of its own under a temporary folder);
- free local ports for the hub, its API and the proxy's API, so that tests never collide with a running hub;
- every user's nbgrader student id from their hub name (with one Unix user for all, nbgrader would file every
  submission under that user's name): a config folder of the test's, first on Jupyter's config path;
- a service token for the test driver, with the rights an instructor's tooling would have (list users, stop
  servers), and ``allow_root`` for the servers where the test runs as root (CI containers).

The test passes the paths (state, exchange, course, homes) and ports through VAECOURSE_* variables.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821

load_subconfig(str(Path(__file__).resolve().parents[1] / "deploy" / "hub" / "jupyterhub_config.py"))  # noqa: F821

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["VAECOURSE_TEST_HUB_PASSWORD"]
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(os.environ["VAECOURSE_TEST_HOMES"], "{username}")

c.Spawner.environment["JUPYTER_CONFIG_PATH"] = os.pathsep.join([os.environ["VAECOURSE_TEST_JUPYTER_CONFIG"],
                                                                c.Spawner.environment["JUPYTER_CONFIG_PATH"]])

c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ['VAECOURSE_TEST_HUB_API_PORT']}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['VAECOURSE_TEST_PROXY_API_PORT']}"
c.Spawner.start_timeout = 120  # a server's first start imports JupyterLab and nbgrader; slow on 2 busy cores
c.Spawner.http_timeout = 120
if os.getuid() == 0:
    c.Spawner.args = ["--ServerApp.allow_root=True"]

c.JupyterHub.services = [{"name": "test-driver", "api_token": os.environ["VAECOURSE_TEST_HUB_TOKEN"]}]
c.JupyterHub.load_roles = [{"name": "test-driver", "services": ["test-driver"],
                            "scopes": ["list:users", "read:users", "admin:servers", "read:groups"]}]
